import { z } from 'zod';
import type { WhatsAppTenant } from '../api/v1alpha1/index.ts';
import { buildApiService } from '../specs/api.ts';
import { childNames, tenantNamespace } from '../specs/names.ts';

/**
 * What the operator asks of a tenant's own API, with the tenant's INTERNAL_TOKEN (the generated
 * Secret), through its Service: GET /internal/status (sessions by state and by name, whether an owner can sign in)
 * and POST /internal/owner-invite (the first owner's invite). services/api/src/routes/internal.ts
 * serves both; the answers are validated here like any outside input.
 */

const SESSION_STATE = z.enum([
  'unpaired',
  'pairing',
  'connecting',
  'connected',
  'disconnected',
  'logged_out',
]);

/** GET /internal/status's answer (the fields the operator reads; others are ignored). */
export const tenantApiStatusSchema = z.object({
  tenant: z.string(),
  sessions: z.object({
    items: z.array(z.object({ name: z.string(), state: SESSION_STATE, declared: z.boolean() })).max(10_000),
  }),
  owner: z.object({ active: z.boolean() }),
});

/** What the tenant's API reports. */
export type TenantApiStatus = z.infer<typeof tenantApiStatusSchema>;

/** One session state as the API reports it. */
export type SessionState = z.infer<typeof SESSION_STATE>;

const ownerInviteSchema = z.object({
  email: z.string(),
  token: z.string().min(1),
  expiresAt: z.iso.datetime(),
});

/** A fresh owner invite: the token of the /accept-invite link and when it stops working. */
export type OwnerInvite = z.infer<typeof ownerInviteSchema>;

/** The calls the reconcile makes to a tenant's API. */
export interface TenantApi {
  /** The tenant's sessions and owner. Throws TenantApiError when the API cannot be asked. */
  status(tenant: WhatsAppTenant, internalToken: string): Promise<TenantApiStatus>;
  /**
   * Invites the first owner; `undefined` when the API answers that an owner can already sign in
   * (409 owner_exists). Throws TenantApiError otherwise.
   */
  ownerInvite(tenant: WhatsAppTenant, internalToken: string, email: string): Promise<OwnerInvite | undefined>;
}

/** The tenant's API could not be asked, or answered something unexpected. */
export class TenantApiError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TenantApiError';
  }
}

/**
 * The tenant API's in-cluster URL: its Service (`<tenant>-api`), whose `http` port is the one
 * the Ingress uses (the API's own `buildApiService`), resolved through cluster DNS.
 */
export function tenantApiServiceUrl(tenant: WhatsAppTenant, clusterDomain: string): string {
  const http = buildApiService(tenant).spec?.ports?.find((p) => p.name === 'http')?.port ?? 80;
  return `http://${childNames(tenant).api}.${tenantNamespace(tenant)}.svc.${clusterDomain}:${http}`;
}

/** Options for HttpTenantApi. */
export interface HttpTenantApiOptions {
  /** Base URL of a tenant's API; default its Service (tenantApiServiceUrl). */
  baseUrl?: (tenant: WhatsAppTenant) => string;
  /** Cluster DNS domain for the default base URL. */
  clusterDomain?: string;
  /** Per request; default 5 s (a reconcile waits for it). */
  timeoutMs?: number;
}

/** TenantApi over HTTP. */
export class HttpTenantApi implements TenantApi {
  private readonly baseUrl: (tenant: WhatsAppTenant) => string;
  private readonly timeoutMs: number;

  constructor(options: HttpTenantApiOptions = {}) {
    const domain = options.clusterDomain ?? 'cluster.local';
    this.baseUrl = options.baseUrl ?? ((tenant) => tenantApiServiceUrl(tenant, domain));
    this.timeoutMs = options.timeoutMs ?? 5_000;
  }

  async status(tenant: WhatsAppTenant, internalToken: string): Promise<TenantApiStatus> {
    const { status, body } = await this.call(tenant, internalToken, 'GET', '/internal/status');
    if (status !== 200) throw new TenantApiError(`GET /internal/status answered ${status}`);
    return parse(tenantApiStatusSchema, body, 'GET /internal/status');
  }

  async ownerInvite(
    tenant: WhatsAppTenant,
    internalToken: string,
    email: string,
  ): Promise<OwnerInvite | undefined> {
    const { status, body } = await this.call(tenant, internalToken, 'POST', '/internal/owner-invite', {
      email,
    });
    if (status === 409) return undefined;
    if (status !== 201) throw new TenantApiError(`POST /internal/owner-invite answered ${status}`);
    return parse(ownerInviteSchema, body, 'POST /internal/owner-invite');
  }

  private async call(
    tenant: WhatsAppTenant,
    internalToken: string,
    method: 'GET' | 'POST',
    path: string,
    body?: unknown,
  ): Promise<{ status: number; body: unknown }> {
    const url = `${this.baseUrl(tenant)}${path}`;
    let response: Response;
    try {
      response = await fetch(url, {
        method,
        headers: {
          authorization: `Bearer ${internalToken}`,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        redirect: 'error',
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (error) {
      // The URL names the Service, never the token; the cause says refused, timed out, ...
      const cause =
        error instanceof Error ? ((error.cause as Error | undefined)?.message ?? error.message) : '';
      throw new TenantApiError(`${method} ${url} failed: ${cause}`);
    }
    const text = await readCapped(response, MAX_ANSWER_BYTES);
    if (text === undefined)
      throw new TenantApiError(`${method} ${url} answered more than ${MAX_ANSWER_BYTES} bytes`);
    let parsed: unknown;
    try {
      parsed = text === '' ? undefined : JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    return { status: response.status, body: parsed };
  }
}

// A tenant's pods are the tenant's: a compromised API must not make the operator read without
// bound. 500 sessions by name are about 40 KiB.
const MAX_ANSWER_BYTES = 1024 * 1024;

/** The body as text, or undefined (and the rest discarded) once it passes `max` bytes. */
async function readCapped(response: Response, max: number): Promise<string | undefined> {
  if (!response.body) return '';
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of response.body) {
    size += chunk.byteLength;
    // Leaving the loop cancels the stream (the async iterator's return()).
    if (size > max) return undefined;
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function parse<T>(schema: z.ZodType<T>, body: unknown, what: string): T {
  const result = schema.safeParse(body);
  if (!result.success) {
    const issue = result.error.issues[0];
    throw new TenantApiError(
      `${what} answered an unexpected body (${issue?.path.join('.')}: ${issue?.message})`,
    );
  }
  return result.data;
}
