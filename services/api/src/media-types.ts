/**
 * What an uploaded file's first bytes must look like for the type it claims. The declared type
 * comes from the client and decides how WhatsApp renders the file, so it is checked against the
 * file itself: an executable renamed `.jpg` and sent as image/jpeg is refused, not forwarded.
 * Signatures from the formats' specifications (and `file`'s magic database).
 */

const ascii = (bytes: Uint8Array, at: number, text: string): boolean =>
  Buffer.from(bytes.subarray(at, at + text.length)).toString('latin1') === text;

/** ISO base media (MP4, 3GP, M4A): a `ftyp` box first, whose major brand says which. */
function isoBrand(bytes: Uint8Array): string | undefined {
  return ascii(bytes, 4, 'ftyp') ? Buffer.from(bytes.subarray(8, 12)).toString('latin1') : undefined;
}

/** An MPEG audio frame header (11 sync bits) or an ID3v2 tag. */
function isMpegAudio(bytes: Uint8Array): boolean {
  return ascii(bytes, 0, 'ID3') || (bytes[0] === 0xff && ((bytes[1] ?? 0) & 0xe6) === 0xe2);
}

/** Text: valid UTF-8 without NUL or other C0 controls than tab, line feed, carriage return, form feed. */
function isPlainText(bytes: Uint8Array): boolean {
  try {
    const text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    for (const char of text) {
      const code = char.charCodeAt(0);
      if ((code < 0x20 && code !== 0x09 && code !== 0x0a && code !== 0x0c && code !== 0x0d) || code === 0x7f)
        return false;
    }
    return true;
  } catch {
    return false;
  }
}

const SIGNATURES: Record<string, (bytes: Uint8Array) => boolean> = {
  'image/jpeg': (b) => b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff,
  'image/png': (b) =>
    Buffer.from(b.subarray(0, 8)).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])),
  'image/gif': (b) => ascii(b, 0, 'GIF87a') || ascii(b, 0, 'GIF89a'),
  'image/webp': (b) => ascii(b, 0, 'RIFF') && ascii(b, 8, 'WEBP'),
  'video/mp4': (b) => {
    const brand = isoBrand(b);
    return brand !== undefined && !brand.startsWith('3g') && !brand.startsWith('M4A');
  },
  'video/3gpp': (b) => isoBrand(b)?.startsWith('3g') ?? false,
  'audio/mp4': (b) => isoBrand(b) !== undefined,
  'audio/ogg': (b) => ascii(b, 0, 'OggS'),
  'audio/mpeg': isMpegAudio,
  // ADTS: 12 sync bits, layer 00.
  'audio/aac': (b) => b[0] === 0xff && ((b[1] ?? 0) & 0xf6) === 0xf0,
  'application/pdf': (b) => ascii(b, 0, '%PDF-'),
  'text/plain': isPlainText,
};

/** True when `bytes` starts like a `type` file; false for types with no known signature. */
export function matchesSignature(type: string, bytes: Uint8Array): boolean {
  const check = SIGNATURES[type];
  return check !== undefined && bytes.length > 0 && check(bytes);
}

/** The message type WhatsApp shows a file of `mimeType` as. */
export function messageTypeFor(mimeType: string): 'image' | 'video' | 'audio' | 'document' {
  if (mimeType.startsWith('image/')) return 'image';
  if (mimeType.startsWith('video/')) return 'video';
  if (mimeType.startsWith('audio/')) return 'audio';
  return 'document';
}
