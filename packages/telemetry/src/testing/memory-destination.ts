import type { DestinationStream } from 'pino';

/** A pino destination that keeps every line in memory, for asserting on exact output. */
export class MemoryDestination implements DestinationStream {
  /** Every line written, newline included. */
  readonly lines: string[] = [];

  /** Called by pino once per log line. */
  write(line: string): void {
    this.lines.push(line);
  }

  /** Everything written, as one string (for "does not contain" checks). */
  text(): string {
    return this.lines.join('');
  }

  /** Every line parsed as JSON. */
  records(): Array<Record<string, unknown>> {
    return this.lines.map((line) => JSON.parse(line) as Record<string, unknown>);
  }
}
