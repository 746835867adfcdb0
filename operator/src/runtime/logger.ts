/**
 * The structured logger the runtime writes to: fields first, then the message, as pino
 * takes them, so the service's pino logger (`@switchboard/telemetry`'s `createLogger`)
 * fits as it is and tests can pass a recorder.
 */
export interface RuntimeLogger {
  /** Detail for debugging a single reconcile or watch. */
  debug(fields: object, message: string): void;
  /** Lifecycle: started, synced, leading, stopped. */
  info(fields: object, message: string): void;
  /** Something went wrong and will be retried. */
  warn(fields: object, message: string): void;
  /** Something went wrong that needs attention. */
  error(fields: object, message: string): void;
}

/** A logger that drops everything; the default when none is given. */
export const silentLogger: RuntimeLogger = {
  debug: () => {},
  info: () => {},
  warn: () => {},
  error: () => {},
};

/** A logger that adds `fields` to every line (like pino's `child`, for any `RuntimeLogger`). */
export function withFields(logger: RuntimeLogger, fields: object): RuntimeLogger {
  return {
    debug: (more, message) => logger.debug({ ...fields, ...more }, message),
    info: (more, message) => logger.info({ ...fields, ...more }, message),
    warn: (more, message) => logger.warn({ ...fields, ...more }, message),
    error: (more, message) => logger.error({ ...fields, ...more }, message),
  };
}
