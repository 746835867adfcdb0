import { ApiError, type ErrorCode } from '../errors.ts';

/** The codes of single sign-on's refusals (statuses in the API's catalogue, errors.ts). */
export type SsoErrorCode = Extract<ErrorCode, `sso_${string}`>;

/** A refused or failed SSO sign-in, with a message that says why (and nothing secret). */
export class SsoError extends ApiError {
  constructor(code: SsoErrorCode, message: string) {
    super(code, message);
    this.name = 'SsoError';
  }
}
