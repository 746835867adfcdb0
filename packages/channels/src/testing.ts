import type { Channel, ChannelEventName, ChannelEvents } from './channel.ts';

/**
 * Test-only: records a channel's events and waits for them with a bound, so a test that
 * expects an event fails with a message instead of hanging. Adapter-agnostic.
 */

const ALL_EVENTS: ChannelEventName[] = [
  'state',
  'pairing',
  'paired',
  'message',
  'receipt',
  'presence',
  'identity',
  'unsupported',
  'group',
];

type Recorded = { [E in ChannelEventName]: { event: E; payload: ChannelEvents[E] } }[ChannelEventName];

/** Every event a channel emitted since the log was attached, in order. */
export class ChannelEventLog {
  /** The events, in order. */
  readonly events: Recorded[] = [];
  readonly #waiters = new Set<() => void>();
  readonly #unsubscribe: (() => void)[];

  /** Starts recording `channel`'s events. */
  constructor(channel: Channel) {
    this.#unsubscribe = ALL_EVENTS.map((event) =>
      channel.on(event, (payload) => {
        this.events.push({ event, payload } as Recorded);
        for (const wake of [...this.#waiters]) wake();
      }),
    );
  }

  /** The payloads of one event, in order. */
  of<E extends ChannelEventName>(event: E): ChannelEvents[E][] {
    return this.events.filter((e) => e.event === event).map((e) => e.payload as ChannelEvents[E]);
  }

  /** The `state` values in order. */
  states(): string[] {
    return this.of('state').map((s) => s.state);
  }

  /** Resolves with the first `event` (recorded or future) matching `predicate`; rejects after `timeoutMs`. */
  async waitFor<E extends ChannelEventName>(
    event: E,
    predicate: (payload: ChannelEvents[E]) => boolean = () => true,
    timeoutMs = 2_000,
  ): Promise<ChannelEvents[E]> {
    const find = () => this.of(event).find(predicate);
    const found = find();
    if (found) return found;
    return await new Promise<ChannelEvents[E]>((resolve, reject) => {
      const wake = () => {
        const match = find();
        if (!match) return;
        clearTimeout(timer);
        this.#waiters.delete(wake);
        resolve(match);
      };
      const timer = setTimeout(() => {
        this.#waiters.delete(wake);
        const seen = this.events
          .map((e) => (e.event === 'state' ? `state:${e.payload.state}` : e.event))
          .join(', ');
        reject(new Error(`no matching '${event}' event within ${timeoutMs} ms; saw: ${seen || 'nothing'}`));
      }, timeoutMs);
      this.#waiters.add(wake);
    });
  }

  /** Waits until `count` `event`s were recorded; returns them. */
  async waitForCount<E extends ChannelEventName>(
    event: E,
    count: number,
    timeoutMs = 2_000,
  ): Promise<ChannelEvents[E][]> {
    await this.waitFor(event, () => this.of(event).length >= count, timeoutMs);
    return this.of(event);
  }

  /** Stops recording. */
  detach(): void {
    for (const off of this.#unsubscribe) off();
  }
}

/** Resolves after `ms` (for the few places where a test must give async work a moment). */
export function settle(ms = 20): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
