/**
 * Content types accepted by default: what the API takes as an upload and the worker downloads
 * (images among them are also checked by their first bytes on download).
 */
export const DEFAULT_ALLOWED_MEDIA_TYPES = [
  'image/jpeg',
  'image/png',
  'image/webp',
  'image/gif',
  'video/mp4',
  'video/3gpp',
  'audio/ogg',
  'audio/mpeg',
  'audio/mp4',
  'audio/aac',
  'application/pdf',
  'text/plain',
];
