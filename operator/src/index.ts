/** The operator's name, as used in logs, metrics and traces. The process is server.ts; the wiring operator.ts. */
export const SERVICE_NAME = 'switchboard-operator';
