/** Codes of SpecError. */
export type SpecErrorCode = 'TENANT_NOT_STORED' | 'SETTING_CONFLICT';

/**
 * A tenant the builders cannot turn into objects. These are programming errors of the caller
 * (e.g. building from an object that was never stored, so it has no uid), not user mistakes:
 * what a user can get wrong is rejected earlier by the CRD's schema.
 */
export class SpecError extends Error {
  /** Stable code for logs and tests. */
  readonly code: SpecErrorCode;

  constructor(code: SpecErrorCode, message: string) {
    super(message);
    this.name = 'SpecError';
    this.code = code;
  }
}
