import { baileysMediaFetcher, type ChannelMediaFetcher, cloudApiMediaFetcher } from '@switchboard/channels';
import { type Db, withTenant } from '@switchboard/db';
import {
  type MediaFetcher,
  MediaRejectedError,
  type MediaStorage,
  type MediaStorageSettings,
  mediaStorageFromSettings,
} from '@switchboard/messaging';
import type { SecretResolver } from '@switchboard/secrets';
import type { DeclaredSession } from './declared-sessions.ts';

/**
 * The worker's media downloads, wired from its config: the storage MEDIA_STORAGE names (under the
 * tenant's prefix), and a fetcher that hands each stored reference to its channel's downloader:
 * Baileys' (no socket needed, so any worker can download any session's media) or the Cloud API's
 * (with the access token of the session the media arrived on, from its declared credentials).
 */

/** What {@link MessagePipelines} needs to consume the tenant's media-downloads queue. */
export interface PipelineMediaOptions {
  /** Undefined with MEDIA_STORAGE=none: jobs complete without downloading. */
  storage: MediaStorage | undefined;
  fetchMedia: MediaFetcher;
  /** Largest file accepted. */
  maxBytes: number;
}

/** A fetcher that dispatches a reference by its provider. */
export function dispatchingMediaFetcher(fetchers: {
  baileys: ChannelMediaFetcher;
  cloudApi: ChannelMediaFetcher;
}): MediaFetcher {
  return async (ref, signal, context) =>
    ref.provider === 'baileys'
      ? await fetchers.baileys(ref, signal, context)
      : await fetchers.cloudApi(ref, signal, context);
}

/** Options for {@link cloudApiAccessTokens}. */
export interface CloudApiAccessTokensOptions {
  db: Db;
  tenantId: string;
  /** Declared sessions by name (the sessions file). */
  declared: ReadonlyMap<string, DeclaredSession>;
  secrets: SecretResolver;
  /** How long a resolved token is reused (default 60 s): a rotated token is picked up after it. */
  cacheMs?: number;
  now?: () => number;
}

/**
 * `accessTokenFor(sessionId)` for the Cloud API fetcher: the session's row names it, the sessions
 * file gives its credentials' reference, the resolver the token. A session without declared
 * credentials fails the download for good (retrying changes nothing until the tenant declares it).
 */
export function cloudApiAccessTokens(
  options: CloudApiAccessTokensOptions,
): (sessionId: string) => Promise<string> {
  const cache = new Map<string, { token: string; until: number }>();
  const now = options.now ?? Date.now;
  const ttl = options.cacheMs ?? 60_000;
  return async (sessionId) => {
    const cached = cache.get(sessionId);
    if (cached && cached.until > now()) return cached.token;
    const row = await withTenant(options.db, options.tenantId, (tx) =>
      tx.session.findUnique({ where: { id: sessionId }, select: { name: true, channel: true } }),
    );
    if (!row) throw new MediaRejectedError(`session ${sessionId} does not exist`);
    const credentials = options.declared.get(row.name)?.credentials;
    if (row.channel !== 'cloud_api' || !credentials)
      throw new MediaRejectedError(
        `session ${sessionId} is not a declared Cloud API session with credentials: its media cannot be downloaded`,
      );
    const token = await options.secrets.resolve(credentials.accessToken);
    cache.set(sessionId, { token, until: now() + ttl });
    return token;
  };
}

/** The worker config fields media uses. */
export type WorkerMediaConfig = MediaStorageSettings & {
  SWITCHBOARD_TENANT: string;
  CLOUD_API_BASE_URL: string;
  CLOUD_API_GRAPH_VERSION: string;
  MEDIA_DOWNLOAD_MAX_BYTES: number;
};

/** Builds {@link PipelineMediaOptions} from the worker's config (worker.ts passes it to MessagePipelines). */
export function pipelineMediaFromConfig(
  config: WorkerMediaConfig,
  options: Omit<CloudApiAccessTokensOptions, 'cacheMs' | 'now'>,
): PipelineMediaOptions {
  return {
    storage: mediaStorageFromSettings(config, { tenant: config.SWITCHBOARD_TENANT }),
    maxBytes: config.MEDIA_DOWNLOAD_MAX_BYTES,
    fetchMedia: dispatchingMediaFetcher({
      baileys: baileysMediaFetcher(),
      cloudApi: cloudApiMediaFetcher({
        baseUrl: config.CLOUD_API_BASE_URL,
        graphVersion: config.CLOUD_API_GRAPH_VERSION,
        accessTokenFor: cloudApiAccessTokens(options),
      }),
    }),
  };
}
