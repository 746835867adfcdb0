/** A local stand-in for Meta's WhatsApp Cloud API. */
export const PACKAGE_NAME = '@switchboard/cloud-api-emulator';
