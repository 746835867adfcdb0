/** What went wrong, as a stable code that tests and the CLI can branch on. */
export type ClusterErrorCode =
  | 'BINARIES_UNAVAILABLE'
  | 'BUILD_FAILED'
  | 'PRECONDITION_FAILED'
  | 'START_FAILED'
  | 'COMMAND_FAILED'
  | 'TIMEOUT';

/** The one error type this package throws; `output` carries a child process's messages when there is one. */
export class ClusterError extends Error {
  readonly code: ClusterErrorCode;
  readonly output: string | undefined;

  constructor(code: ClusterErrorCode, message: string, options: { cause?: unknown; output?: string } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'ClusterError';
    this.code = code;
    this.output = options.output;
  }
}
