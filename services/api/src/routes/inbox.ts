import { stat } from 'node:fs/promises';
import { relative, resolve, sep } from 'node:path';
import fastifyStatic from '@fastify/static';
import type { FastifyPluginAsync } from 'fastify';

/** Options of the inbox routes: the built SPA's directory (index.html, assets/). */
export interface InboxRoutesOptions {
  root: string;
}

/** Paths that belong to the API: never answered with the SPA, whatever the Accept header says. */
const API_PREFIXES = ['/v1', '/docs', '/internal', '/webhooks', '/livez', '/readyz', '/metrics'];

/**
 * The inbox's policy: everything from this origin only. Inline styles are allowed because the
 * SPA's components set style attributes; scripts never inline. Images may be data:/blob: URLs
 * (previews of uploads and of fetched media).
 */
export const INBOX_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data: blob:",
  "media-src 'self' blob:",
  "connect-src 'self'",
  "font-src 'self'",
  "object-src 'none'",
  "base-uri 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

function isApiPath(path: string): boolean {
  return API_PREFIXES.some((prefix) => path === prefix || path.startsWith(`${prefix}/`));
}

/**
 * Serves the built inbox at `/`: files as they are (hashed `assets/*` cached for a year,
 * immutable; everything else revalidated), and index.html for any other GET that wants HTML, so
 * the SPA's own routes (/conversations/123) load on a reload. API paths keep their JSON 404.
 */
export const inboxRoutes: FastifyPluginAsync<InboxRoutesOptions> = async (app, options) => {
  const root = resolve(options.root);
  await app.register(fastifyStatic, { root, serve: false });

  app.get('/*', { config: { public: true }, schema: { hide: true } }, async (request, reply) => {
    const path = request.url.split('?')[0] ?? '/';
    if (isApiPath(path)) return reply.callNotFound();
    reply.header('content-security-policy', INBOX_CSP);
    const wanted = (request.params as { '*'?: string })['*'] ?? '';
    const file = resolve(root, wanted);
    const inside =
      file.startsWith(root + sep) &&
      !relative(root, file)
        .split(sep)
        .some((s) => s.startsWith('.'));
    if (inside && (await stat(file).catch(() => undefined))?.isFile()) {
      const name = relative(root, file).split(sep).join('/');
      if (name.startsWith('assets/')) return reply.sendFile(name, { maxAge: '365d', immutable: true });
      reply.header('cache-control', 'no-cache');
      return reply.sendFile(name, { cacheControl: false });
    }
    if (!(request.headers.accept ?? '').includes('text/html')) return reply.callNotFound();
    reply.header('cache-control', 'no-cache');
    return reply.sendFile('index.html', { cacheControl: false });
  });
};
