import { spawn } from 'node:child_process';

export interface RunOptions {
  cwd?: string;
  env?: Readonly<Record<string, string | undefined>>;
  input?: string;
  /** Lines of stderr as they arrive, for long builds that should not look hung. */
  onStderrLine?: (line: string) => void;
}

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a command to completion without a shell (arguments are never re-parsed). */
export function run(command: string, args: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: options.cwd,
      env: options.env as NodeJS.ProcessEnv | undefined,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let partial = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
      if (!options.onStderrLine) return;
      const lines = (partial + chunk).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) options.onStderrLine(line);
    });
    child.on('error', reject);
    child.on('close', (code) => {
      if (partial && options.onStderrLine) options.onStderrLine(partial);
      resolve({ code, stdout, stderr });
    });
    // A child that exits without reading its input makes the write fail with EPIPE; its exit
    // code says what happened, so that error is not worth crashing the caller over.
    child.stdin.on('error', () => {});
    child.stdin.end(options.input ?? '');
  });
}

/** The last `max` characters of a process's output, enough to show why it failed. */
export function tail(text: string, max = 4000): string {
  const trimmed = text.trim();
  return trimmed.length <= max ? trimmed : `...${trimmed.slice(-max)}`;
}
