// API keys: created by admins (the key is shown once, stored as a hash), listed, revoked.
import type { ApiKey } from '@switchboard/db';
import type { FastifyRequest } from 'fastify';
import { audit } from '../audit.ts';
import { newApiKey } from '../auth/tokens.ts';
import { type ApiContext, actorOf, tenantTx } from '../context.ts';
import { notFound } from '../errors.ts';
import type { newestFirst } from '../schemas.ts';

/** One page's query, as `newestFirst` builds it. */
type ListQuery = Pick<ReturnType<typeof newestFirst<'createdAt'>>, 'find'>;

/** A page of API keys, newest first. */
export async function listApiKeys(
  ctx: ApiContext,
  request: FastifyRequest,
  list: ListQuery,
): Promise<ApiKey[]> {
  return await tenantTx(ctx, request, (tx) => list.find((args) => tx.apiKey.findMany(args)));
}

/** Creates an API key; returns its row and the key itself (the only time it exists outside a hash). */
export async function createApiKey(
  ctx: ApiContext,
  request: FastifyRequest,
  input: { name: string; scopes: ApiKey['scopes']; expiresAt?: string | undefined },
): Promise<{ row: ApiKey; key: string }> {
  const created = newApiKey(request.principal.slug);
  const actor = actorOf(request);
  const row = await tenantTx(ctx, request, async (tx) => {
    const r = await tx.apiKey.create({
      data: {
        tenantId: request.principal.tenantId,
        name: input.name,
        prefix: created.prefix,
        keyHash: created.hash,
        scopes: [...new Set(input.scopes)],
        createdById: actor.actorType === 'user' ? actor.actorId : null,
        ...(input.expiresAt ? { expiresAt: new Date(input.expiresAt) } : {}),
      },
    });
    await audit(tx, request, 'api_key.created', { type: 'api_key', id: r.id }, { scopes: r.scopes });
    return r;
  });
  return { row, key: created.key };
}

/** Revokes API key `id` (at once; revoking twice keeps the first time), audited. */
export async function revokeApiKey(ctx: ApiContext, request: FastifyRequest, id: string): Promise<void> {
  await tenantTx(ctx, request, async (tx) => {
    const row = await tx.apiKey.findUnique({ where: { id } });
    if (!row) throw notFound('api key');
    if (!row.revokedAt) await tx.apiKey.update({ where: { id: row.id }, data: { revokedAt: new Date() } });
    await audit(tx, request, 'api_key.revoked', { type: 'api_key', id: row.id });
  });
}
