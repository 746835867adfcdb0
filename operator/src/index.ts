/** The operator's name, as used in logs, metrics and traces. Its code arrives with its issue. */
export const SERVICE_NAME = 'switchboard-operator';
