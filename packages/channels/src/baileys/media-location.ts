import { DEF_MEDIA_HOST } from '@whiskeysockets/baileys';

/**
 * Where an inbound media file may be downloaded from. The `url` and `directPath` of a media
 * message come from the sender, so they are attacker input: Baileys' own download fetches a bare
 * `url` as it is (http allowed, redirects followed) and builds `https://<host><directPath>` by
 * string concatenation, so `directPath = "@127.0.0.1:8443/x"` would make the worker fetch from
 * loopback. Only WhatsApp's media hosts are accepted, and only a path (never an authority) is
 * taken from the message; media.ts then fetches that one URL with redirects refused.
 */

/**
 * WhatsApp's media hosts, as Baileys names them: DEF_MEDIA_HOST (mmg.whatsapp.net, its default
 * download host) and mmg-fallback.whatsapp.net (the other media host in its binary-XML token
 * dictionary, WABinary/constants).
 */
export const WHATSAPP_MEDIA_HOSTS: ReadonlySet<string> = new Set([
  DEF_MEDIA_HOST,
  'mmg-fallback.whatsapp.net',
]);

// An absolute path with an optional query: RFC 3986 pchar, '/' and '?', without '@' (userinfo),
// '\' (WHATWG URL parsers read it as '/'), '#', whitespace or control characters. '//' at the
// start would make the rest an authority.
const DIRECT_PATH = /^\/(?!\/)[A-Za-z0-9\-._~!$&'()*+,;=:%/?]*$/;
const MAX_PATH = 2048;

/** Where one media file is: a path on a WhatsApp media host. */
export interface MediaLocation {
  /** One of {@link WHATSAPP_MEDIA_HOSTS}. */
  host: string;
  /** Absolute path and query on that host (`/v/t62.7118-24/...enc?ccb=...`). */
  path: string;
}

/** Why a message's media location was refused (no sender-controlled text is echoed). */
export type MediaLocationResult = { ok: true; location: MediaLocation } | { ok: false; reason: string };

function validPath(path: string): boolean {
  if (path.length > MAX_PATH || !DIRECT_PATH.test(path)) return false;
  // Belt and braces: resolved against a media host the path must stay on it, unchanged.
  const resolved = new URL(path, `https://${DEF_MEDIA_HOST}`);
  return resolved.host === DEF_MEDIA_HOST && resolved.href === `https://${DEF_MEDIA_HOST}${path}`;
}

/**
 * Checks a media message's `url` and `directPath`: `url`, when present, must be https on a
 * WhatsApp media host with no credentials or port; `directPath`, when present, a plain absolute
 * path. The location is `directPath` (or the url's path) on the url's host (or mmg.whatsapp.net).
 */
export function mediaLocation(media: {
  url?: string | null | undefined;
  directPath?: string | null | undefined;
}): MediaLocationResult {
  const url = media.url || undefined;
  const directPath = media.directPath || undefined;
  if (!url && !directPath) return { ok: false, reason: 'no url or directPath' };
  let host: string = DEF_MEDIA_HOST;
  let path = directPath;
  if (url) {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      return { ok: false, reason: 'url is not a URL' };
    }
    if (parsed.protocol !== 'https:') return { ok: false, reason: 'url is not https' };
    if (parsed.username || parsed.password || parsed.port)
      return { ok: false, reason: 'url carries credentials or a port' };
    if (!WHATSAPP_MEDIA_HOSTS.has(parsed.hostname))
      return { ok: false, reason: 'url is not on a WhatsApp media host' };
    host = parsed.hostname;
    const urlPath = `${parsed.pathname}${parsed.search}`;
    if (!path) {
      if (!validPath(urlPath)) return { ok: false, reason: 'url path is not a plain path' };
      path = urlPath;
    }
  }
  if (!path || !validPath(path)) return { ok: false, reason: 'directPath is not a plain absolute path' };
  return { ok: true, location: { host, path } };
}
