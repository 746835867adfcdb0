// Messages read by id (sends go through sending.ts; template checks through services/templates.ts).
import type { Message } from '@switchboard/db';
import type { FastifyRequest } from 'fastify';
import { type ApiContext, tenantTx } from '../context.ts';
import { notFound } from '../errors.ts';

/** The message `id` of the caller's tenant; not_found when there is none. */
export async function getMessage(ctx: ApiContext, request: FastifyRequest, id: string): Promise<Message> {
  const row = await tenantTx(ctx, request, (tx) => tx.message.findUnique({ where: { id } }));
  if (!row) throw notFound('message');
  return row;
}
