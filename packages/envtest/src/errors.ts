/** What went wrong, as a stable code that tests and the CLI can branch on. */
export type EnvtestErrorCode =
  | 'BINARIES_UNAVAILABLE'
  | 'BUILD_FAILED'
  | 'LOCK_TIMEOUT'
  | 'START_FAILED'
  | 'KUBE_REQUEST_FAILED'
  | 'CRD_NOT_ESTABLISHED'
  | 'HELM_TEMPLATE_FAILED'
  | 'DRY_RUN_REJECTED'
  | 'NOT_CONFIGURED';

/** The one error type this package throws; `output` carries a child process's messages when there is one. */
export class EnvtestError extends Error {
  readonly code: EnvtestErrorCode;
  readonly output: string | undefined;

  constructor(code: EnvtestErrorCode, message: string, options: { cause?: unknown; output?: string } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'EnvtestError';
    this.code = code;
    this.output = options.output;
  }
}
