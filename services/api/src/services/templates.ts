// Message templates and quick replies: their rows, and the checks a template send passes
// (channel, Meta status, parameter count) before it becomes a message's columns.
import type { Conversation, MessageTemplate, Prisma, QuickReply, Session, TenantTx } from '@switchboard/db';
import type { FastifyRequest } from 'fastify';
import { type ApiContext, tenantTx } from '../context.ts';
import { ApiError, notFound } from '../errors.ts';
import type { newestFirst } from '../schemas.ts';
import type { MessageColumns } from '../sending.ts';
import {
  bodyParameterCount,
  placeholdersOf,
  renderTemplate,
  type TemplateComponent,
} from '../templates-meta.ts';

/** One page's query, as `newestFirst` builds it. */
type ListQuery = Pick<ReturnType<typeof newestFirst<'createdAt'>>, 'find'>;

/** A template as created or updated (the route's validated body). */
export interface TemplateInput {
  name: string;
  language: string;
  category?: 'MARKETING' | 'UTILITY' | 'AUTHENTICATION' | null | undefined;
  body: string;
  components?: Record<string, unknown>[] | null | undefined;
}

/** A quick reply as created or updated (the route's validated body). */
export interface QuickReplyInput {
  shortcut: string;
  title: string;
  body: string;
}

/** A unique-constraint violation (Prisma P2002) is a conflict naming `what`; anything else is rethrown. */
function uniqueViolation(error: unknown, what: string): never {
  if ((error as { code?: string }).code === 'P2002') throw new ApiError('conflict', `${what} already exists`);
  throw error;
}

/** A page of templates, newest first. */
export async function listTemplates(
  ctx: ApiContext,
  request: FastifyRequest,
  list: ListQuery,
): Promise<MessageTemplate[]> {
  return await tenantTx(ctx, request, (tx) => list.find((args) => tx.messageTemplate.findMany(args)));
}

/** Creates a template; a second one with the same name and language is a conflict. */
export async function createTemplate(
  ctx: ApiContext,
  request: FastifyRequest,
  input: TemplateInput,
): Promise<MessageTemplate> {
  const { components, category, ...rest } = input;
  return await tenantTx(ctx, request, (tx) =>
    tx.messageTemplate.create({
      data: {
        tenantId: request.principal.tenantId,
        ...rest,
        category: category ?? null,
        ...(components ? { components: components as Prisma.InputJsonArray } : {}),
      },
    }),
  ).catch((error) => uniqueViolation(error, `a template ${input.name} (${input.language})`));
}

/** The template `id`; not_found when there is none. */
export async function getTemplate(
  ctx: ApiContext,
  request: FastifyRequest,
  id: string,
): Promise<MessageTemplate> {
  const row = await tenantTx(ctx, request, (tx) => tx.messageTemplate.findUnique({ where: { id } }));
  if (!row) throw notFound('template');
  return row;
}

/** Changes the given fields of template `id` (`components: null` clears them). */
export async function updateTemplate(
  ctx: ApiContext,
  request: FastifyRequest,
  id: string,
  input: Partial<TemplateInput>,
): Promise<MessageTemplate> {
  const { components, ...rest } = input;
  return await tenantTx(ctx, request, async (tx) => {
    const row = await tx.messageTemplate.findUnique({ where: { id } });
    if (!row) throw notFound('template');
    return await tx.messageTemplate.update({
      where: { id: row.id },
      data: {
        ...rest,
        ...(components === undefined
          ? {}
          : { components: (components ?? undefined) as Prisma.InputJsonArray }),
      },
    });
  }).catch((error) => uniqueViolation(error, 'a template with that name and language'));
}

/** Deletes template `id`; not_found when there is none. */
export async function deleteTemplate(ctx: ApiContext, request: FastifyRequest, id: string): Promise<void> {
  const deleted = await tenantTx(ctx, request, (tx) => tx.messageTemplate.deleteMany({ where: { id } }));
  if (deleted.count === 0) throw notFound('template');
}

/** A page of quick replies, newest first. */
export async function listQuickReplies(
  ctx: ApiContext,
  request: FastifyRequest,
  list: ListQuery,
): Promise<QuickReply[]> {
  return await tenantTx(ctx, request, (tx) => list.find((args) => tx.quickReply.findMany(args)));
}

/** Creates a quick reply (its author when the caller is a member); a taken shortcut is a conflict. */
export async function createQuickReply(
  ctx: ApiContext,
  request: FastifyRequest,
  input: QuickReplyInput,
): Promise<QuickReply> {
  const p = request.principal;
  return await tenantTx(ctx, request, (tx) =>
    tx.quickReply.create({
      data: { tenantId: p.tenantId, ...input, createdById: p.kind === 'user' ? p.userId : null },
    }),
  ).catch((error) => uniqueViolation(error, `a quick reply /${input.shortcut}`));
}

/** Changes the given fields of quick reply `id`. */
export async function updateQuickReply(
  ctx: ApiContext,
  request: FastifyRequest,
  id: string,
  input: Partial<QuickReplyInput>,
): Promise<QuickReply> {
  return await tenantTx(ctx, request, async (tx) => {
    const row = await tx.quickReply.findUnique({ where: { id } });
    if (!row) throw notFound('quick reply');
    return await tx.quickReply.update({ where: { id: row.id }, data: input });
  }).catch((error) => uniqueViolation(error, 'a quick reply with that shortcut'));
}

/** Deletes quick reply `id`; not_found when there is none. */
export async function deleteQuickReply(ctx: ApiContext, request: FastifyRequest, id: string): Promise<void> {
  const deleted = await tenantTx(ctx, request, (tx) => tx.quickReply.deleteMany({ where: { id } }));
  if (deleted.count === 0) throw notFound('quick reply');
}

/** Meta's statuses under which a template cannot be sent. */
const UNSENDABLE_TEMPLATE_STATUSES = new Set([
  'REJECTED',
  'PAUSED',
  'DISABLED',
  'PENDING',
  'PENDING_DELETION',
]);

/** A template send as the route validated it. */
export interface TemplateSend {
  name: string;
  language: string;
  components?: TemplateComponent[] | undefined;
}

/**
 * The columns of a template message in `conversation`: only Cloud API sessions have Meta's
 * templates; a template stored here must be sendable at Meta and get as many body parameters as
 * its body has placeholders (one not stored here is sent as given, and Meta judges it).
 */
export async function templateMessageColumns(
  tx: TenantTx,
  conversation: Conversation & { session: Session },
  send: TemplateSend,
): Promise<MessageColumns> {
  if (conversation.session.channel !== 'cloud_api') {
    throw new ApiError(
      'channel_unsupported',
      `template messages need a Cloud API session; this conversation is on session ${conversation.session.name}, a Baileys (WhatsApp Web) session, which has no Meta templates`,
    );
  }
  const components = send.components ?? [];
  const stored = await tx.messageTemplate.findFirst({ where: { name: send.name, language: send.language } });
  if (stored) {
    if (stored.providerStatus && UNSENDABLE_TEMPLATE_STATUSES.has(stored.providerStatus.toUpperCase())) {
      throw new ApiError(
        'validation_failed',
        `template ${send.name} (${send.language}) is ${stored.providerStatus} at Meta and cannot be sent`,
      );
    }
    const expected = placeholdersOf(stored.body).length;
    const given = bodyParameterCount(components);
    if (expected !== given) {
      throw new ApiError(
        'validation_failed',
        `template ${send.name} (${send.language}) has ${expected} body parameter(s); the body component gives ${given}`,
        { issues: [{ path: 'body.components', message: `expected ${expected} body parameter(s)` }] },
      );
    }
  }
  const template: Prisma.InputJsonObject = {
    name: send.name,
    language: send.language,
    components: components as Prisma.InputJsonArray,
  };
  return {
    type: 'template',
    body: renderTemplate({ name: send.name, language: send.language, components }, stored?.body),
    template,
  };
}
