/**
 * The emulator: a Fastify server that answers like graph.facebook.com for one WhatsApp Business
 * Account (`graph-routes.ts`), delivers signed webhooks to a receiver, and exposes a control API
 * (`control-routes.ts`, `/_emulator/...`) to play the customer. State is in memory
 * (`state.ts`); one instance per test file.
 */
import Fastify, { type FastifyInstance } from 'fastify';
import { registerControlRoutes } from './control-routes.ts';
import { registerGraphRoutes } from './graph-routes.ts';
import { registerInteractiveControlRoutes } from './interactive.ts';
import { DEFAULT_PHONE, type EmulatedPhoneNumber, EmulatorState, type StatusMode } from './state.ts';
import {
  DEFAULT_RETRY,
  type HandshakeResult,
  type RetryPolicy,
  verifyWebhookSubscription,
} from './webhooks.ts';

export type { BusinessMessage, EmulatedPhoneNumber, StatusMode } from './state.ts';

/** Options of {@link createCloudApiEmulator}. */
export interface CloudApiEmulatorOptions {
  host?: string;
  /**
   * The URL others reach it at (media links name it), when that is not the listening address:
   * behind a Kubernetes Service, for one. Default: the address it listens on.
   */
  publicUrl?: string;
  /** 0 (default) picks a free port. */
  port?: number;
  /** The Bearer token sends must carry. */
  accessToken: string;
  /** The app secret webhooks are signed with. */
  appSecret: string;
  /** The receiver webhooks go to; none means webhooks are recorded but not sent. */
  webhookUrl?: string;
  /** The token the GET handshake presents. */
  verifyToken?: string;
  /** The WhatsApp Business Account id (`entry[].id`). */
  businessAccountId?: string;
  phoneNumbers?: EmulatedPhoneNumber[];
  statuses?: StatusMode;
  retry?: RetryPolicy;
  /** Recipients that are not on WhatsApp: sends to them are accepted, then fail with 131026. */
  unreachableNumbers?: string[];
}

/** A started emulator. */
export interface CloudApiEmulator {
  /**
   * `http://127.0.0.1:<port>` (or `publicUrl`): use it as the Graph base URL and for the control
   * API.
   */
  readonly url: string;
  readonly server: FastifyInstance;
  /** Stops the server and pending status timers. */
  close(): Promise<void>;
  /** Runs the GET handshake against the configured (or given) receiver. */
  verifyWebhook(input?: { url?: string; verifyToken?: string; challenge?: string }): Promise<HandshakeResult>;
}

/** Starts an emulator on loopback. */
export async function createCloudApiEmulator(options: CloudApiEmulatorOptions): Promise<CloudApiEmulator> {
  const state = new EmulatorState({
    phones: options.phoneNumbers?.length ? options.phoneNumbers : [DEFAULT_PHONE],
    businessAccountId: options.businessAccountId ?? '200000000000001',
    appSecret: options.appSecret,
    retry: options.retry ?? DEFAULT_RETRY,
    statusMode: options.statuses ?? { mode: 'auto' },
    unreachable: new Set((options.unreachableNumbers ?? []).map((n) => n.replace(/^\+/, ''))),
    webhookUrl: options.webhookUrl,
  });
  const server = Fastify({ logger: false, bodyLimit: 32 * 1024 * 1024 });
  registerGraphRoutes(server, state, options.accessToken);
  registerControlRoutes(server, state, options.verifyToken);
  registerInteractiveControlRoutes(server, state);

  const address = await server.listen({ host: options.host ?? '127.0.0.1', port: options.port ?? 0 });
  state.baseUrl = options.publicUrl?.replace(/\/+$/, '') ?? address.replace('[::1]', '127.0.0.1');

  return {
    url: state.baseUrl,
    server,
    async close() {
      state.close();
      await server.close();
    },
    async verifyWebhook(input = {}) {
      const url = input.url ?? state.webhookUrl;
      const verifyToken = input.verifyToken ?? options.verifyToken;
      if (!url || verifyToken === undefined)
        throw new Error('verifyWebhook: no webhook URL or verify token configured');
      return await verifyWebhookSubscription({
        url,
        verifyToken,
        ...(input.challenge ? { challenge: input.challenge } : {}),
      });
    },
  };
}
