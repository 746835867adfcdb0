/** Message pipelines: inbound, outbound, tenant webhooks. */
export const PACKAGE_NAME = '@switchboard/messaging';
