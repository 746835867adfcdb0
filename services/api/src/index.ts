/** The api service's name, as used in logs, metrics and traces. */
export const SERVICE_NAME = 'switchboard-api';
/** buildApp() builds the Fastify app from injected connections and settings (tests, server.ts). */
export { type BuildAppOptions, buildApp } from './app.ts';
/** Every environment variable the API reads. */
export { type ApiConfig, apiConfigSchema } from './config.ts';
/** The password reset delivery the onPasswordReset hook receives. */
export type { PasswordResetDelivery } from './context.ts';
/** The error catalogue and the error class routes throw. */
export { ApiError, ERRORS, type ErrorCode } from './errors.ts';
