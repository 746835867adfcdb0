import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { ApiContext } from '../context.ts';
import { memberDto, memberSchema } from '../dto.ts';
import { MAIL_LOCALES } from '../mail/index.ts';
import { errorBody, idParams, page, pageQuery, toPage } from '../schemas.ts';
import {
  changeMemberRole,
  type Invite,
  inviteMember,
  listMembers,
  listPendingInvites,
  type MemberRow,
  removeMember,
  resendInvite,
  revokeInvite,
} from '../services/team.ts';

const role = z.enum(['owner', 'admin', 'agent', 'viewer']);

const pendingInviteSchema = z.strictObject({
  ...memberSchema.shape,
  expiresAt: z.iso
    .datetime()
    .nullable()
    .describe('When the newest link stops working (it may be past); null: no link works, resend it.'),
});

/** Hands an invite to the delivery hook (the Mailer's queue: returns at once, never waits for SMTP). */
function deliverInvite(ctx: ApiContext, invited: MemberRow & { invite: Invite }): void {
  ctx.onInvite({
    email: invited.user.email,
    displayName: invited.user.displayName,
    role: invited.role,
    token: invited.invite.token,
    expiresAt: invited.invite.expiresAt,
    locale: invited.user.locale,
  });
}

/** The answer of an invite and a resend: the member, and the token shown only here. */
function invitedDto(invited: MemberRow & { invite: Invite }) {
  return {
    ...memberDto(invited),
    invite: { token: invited.invite.token, expiresAt: invited.invite.expiresAt.toISOString() },
  };
}

const invitedSchema = z.strictObject({
  ...memberSchema.shape,
  invite: z
    .strictObject({
      token: z.string().describe('Single use: give the member <inbox>/accept-invite#token=<token>.'),
      expiresAt: z.iso.datetime(),
    })
    .describe('The invite; shown only in this answer.'),
});

/** The team: members, invites (sent, resent, revoked), roles, removal. Only an owner grants or removes an owner. */
export const teamRoutes: FastifyPluginAsyncZod = async (app) => {
  const ctx = app.sb;
  app.get(
    '/',
    {
      config: { access: { role: 'viewer', scope: 'read' } },
      schema: {
        summary: 'List members',
        tags: ['team'],
        querystring: pageQuery,
        response: { 200: page(memberSchema), 400: errorBody },
      },
    },
    async (request) =>
      toPage(
        await listMembers(ctx, request, request.query),
        request.query.limit,
        (r) => r.createdAt,
        memberDto,
      ),
  );

  app.post(
    '/',
    {
      config: { access: { role: 'admin' } },
      schema: {
        summary: 'Invite a member: the answer carries the invite token for the accept-invite page',
        description:
          'The member sets a password at <inbox>/accept-invite#token=<invite.token> (single use, ' +
          'valid for 7 days), also mailed to them when the API has SMTP. A removed member can be ' +
          'invited again.',
        tags: ['team'],
        body: z.strictObject({
          email: z.email().max(320),
          displayName: z.string().trim().min(1).max(200),
          role,
          locale: z
            .enum(MAIL_LOCALES)
            .optional()
            .describe("The member's language (their mails); default the tenant's (MAIL_LOCALE)."),
        }),
        response: { 201: invitedSchema, 400: errorBody, 403: errorBody, 409: errorBody },
      },
    },
    async (request, reply) => {
      const invited = await inviteMember(ctx, request, request.body);
      deliverInvite(ctx, invited);
      return reply.status(201).send(invitedDto(invited));
    },
  );

  app.get(
    '/invites',
    {
      config: { access: { role: 'admin', scope: 'read' } },
      schema: {
        summary: 'List the invites not accepted yet, newest first, with their expiry',
        tags: ['team'],
        querystring: pageQuery,
        response: { 200: page(pendingInviteSchema), 400: errorBody, 403: errorBody },
      },
    },
    async (request) =>
      toPage(
        await listPendingInvites(ctx, request, request.query),
        request.query.limit,
        (r) => r.createdAt,
        (i) => ({ ...memberDto(i), expiresAt: i.expiresAt?.toISOString() ?? null }),
      ),
  );

  app.post(
    '/invites/:id/resend',
    {
      config: { access: { role: 'admin' } },
      schema: {
        summary: 'Resend an invite: a new link valid for 7 days; the old one stops working',
        tags: ['team'],
        params: idParams,
        response: { 200: invitedSchema, 400: errorBody, 403: errorBody, 404: errorBody, 409: errorBody },
      },
    },
    async (request) => {
      const invited = await resendInvite(ctx, request, request.params.id);
      deliverInvite(ctx, invited);
      return invitedDto(invited);
    },
  );

  app.delete(
    '/invites/:id',
    {
      config: { access: { role: 'admin' } },
      schema: {
        summary: 'Revoke an invite: its links stop working; the address can be invited again',
        tags: ['team'],
        params: idParams,
        response: { 204: z.null(), 400: errorBody, 403: errorBody, 404: errorBody, 409: errorBody },
      },
    },
    async (request, reply) => {
      await revokeInvite(ctx, request, request.params.id);
      return reply.status(204).send(null);
    },
  );

  app.patch(
    '/:id',
    {
      config: { access: { role: 'admin' } },
      schema: {
        summary: "Change a member's role",
        tags: ['team'],
        params: idParams,
        body: z.strictObject({ role }),
        response: { 200: memberSchema, 400: errorBody, 403: errorBody, 404: errorBody, 409: errorBody },
      },
    },
    async (request) => memberDto(await changeMemberRole(ctx, request, request.params.id, request.body.role)),
  );

  app.delete(
    '/:id',
    {
      config: { access: { role: 'admin' } },
      schema: {
        summary: 'Remove a member (their tokens stop working at once)',
        tags: ['team'],
        params: idParams,
        response: { 204: z.null(), 403: errorBody, 404: errorBody, 409: errorBody },
      },
    },
    async (request, reply) => {
      await removeMember(ctx, request, request.params.id);
      return reply.status(204).send(null);
    },
  );
};
