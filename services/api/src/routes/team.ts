import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { memberDto, memberSchema } from '../dto.ts';
import { errorBody, idParams, page, pageQuery, toPage } from '../schemas.ts';
import { changeMemberRole, inviteMember, listMembers, removeMember } from '../services/team.ts';

const role = z.enum(['owner', 'admin', 'agent', 'viewer']);

const invitedSchema = z.strictObject({
  ...memberSchema.shape,
  invite: z
    .strictObject({
      token: z.string().describe('Single use: give the member <inbox>/accept-invite#token=<token>.'),
      expiresAt: z.iso.datetime(),
    })
    .describe('The invite; shown only in this answer.'),
});

/** The team: members, invitations, roles, removal. Only an owner grants or removes an owner. */
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
          'valid for 7 days). A removed member can be invited again.',
        tags: ['team'],
        body: z.strictObject({
          email: z.email().max(320),
          displayName: z.string().trim().min(1).max(200),
          role,
        }),
        response: { 201: invitedSchema, 400: errorBody, 403: errorBody, 409: errorBody },
      },
    },
    async (request, reply) => {
      const invited = await inviteMember(ctx, request, request.body);
      // Mailed in the background (the hook returns at once): the answer never waits for SMTP.
      ctx.onInvite({
        email: invited.user.email,
        displayName: invited.user.displayName,
        role: invited.role,
        token: invited.invite.token,
        expiresAt: invited.invite.expiresAt,
      });
      return reply.status(201).send({
        ...memberDto(invited),
        invite: { token: invited.invite.token, expiresAt: invited.invite.expiresAt.toISOString() },
      });
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
