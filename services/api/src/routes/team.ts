import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { audit } from '../audit.ts';
import { tenantTx } from '../context.ts';
import { ApiError, notFound } from '../errors.ts';
import { roleAtLeast } from '../plugins/auth.ts';
import { afterCursor, decodeCursor, errorBody, idParams, page, pageQuery, toPage } from '../schemas.ts';

const role = z.enum(['owner', 'admin', 'agent', 'viewer']);
const member = z.strictObject({
  userId: z.uuid(),
  email: z.string(),
  displayName: z.string(),
  role,
  createdAt: z.iso.datetime(),
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
        response: { 200: page(member), 400: errorBody },
      },
    },
    async (request) => {
      const { limit } = request.query;
      const cursor = decodeCursor(request.query.cursor);
      const rows = await tenantTx(ctx, request, (tx) =>
        tx.membership.findMany({
          where: afterCursor(cursor, 'createdAt'),
          include: { user: true },
          orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
          take: limit + 1,
        }),
      );
      return toPage(
        rows,
        limit,
        (r) => r.createdAt,
        (r) => ({
          userId: r.userId,
          email: r.user.email,
          displayName: r.user.displayName,
          role: r.role,
          createdAt: r.createdAt.toISOString(),
        }),
      );
    },
  );

  app.post(
    '/',
    {
      config: { access: { role: 'admin' } },
      schema: {
        summary: 'Invite a member (the password is set through a password reset)',
        tags: ['team'],
        body: z.strictObject({
          email: z.email().max(320),
          displayName: z.string().trim().min(1).max(200),
          role,
        }),
        response: { 201: member, 400: errorBody, 403: errorBody, 409: errorBody },
      },
    },
    async (request, reply) => {
      const p = request.principal;
      if (p.kind === 'user' && request.body.role === 'owner' && p.role !== 'owner')
        throw new ApiError('forbidden', 'only an owner can invite an owner');
      const email = request.body.email.toLowerCase();
      const row = await tenantTx(ctx, request, async (tx) => {
        if (await tx.user.findFirst({ where: { email } }))
          throw new ApiError('conflict', `body.email ${email} is already a member`);
        const user = await tx.user.create({
          data: { tenantId: p.tenantId, email, displayName: request.body.displayName },
        });
        const m = await tx.membership.create({
          data: { tenantId: p.tenantId, userId: user.id, role: request.body.role },
        });
        await audit(tx, request, 'member.invited', { type: 'user', id: user.id }, { role: m.role });
        return { ...m, user };
      });
      return reply.status(201).send({
        userId: row.userId,
        email: row.user.email,
        displayName: row.user.displayName,
        role: row.role,
        createdAt: row.createdAt.toISOString(),
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
        response: { 200: member, 400: errorBody, 403: errorBody, 404: errorBody, 409: errorBody },
      },
    },
    async (request) => {
      const p = request.principal;
      const row = await tenantTx(ctx, request, async (tx) => {
        const m = await tx.membership.findFirst({
          where: { userId: request.params.id },
          include: { user: true },
        });
        if (!m) throw notFound('member');
        if (
          p.kind === 'user' &&
          (m.role === 'owner' || request.body.role === 'owner') &&
          !roleAtLeast(p.role, 'owner')
        ) {
          throw new ApiError('forbidden', 'only an owner can grant or take the owner role');
        }
        if (
          m.role === 'owner' &&
          request.body.role !== 'owner' &&
          (await tx.membership.count({ where: { role: 'owner' } })) === 1
        ) {
          throw new ApiError('conflict', 'the last owner cannot be demoted');
        }
        const updated = await tx.membership.update({
          where: { id: m.id },
          data: { role: request.body.role },
        });
        await audit(
          tx,
          request,
          'member.role_changed',
          { type: 'user', id: m.userId },
          { from: m.role, to: updated.role },
        );
        return { ...updated, user: m.user };
      });
      return {
        userId: row.userId,
        email: row.user.email,
        displayName: row.user.displayName,
        role: row.role,
        createdAt: row.createdAt.toISOString(),
      };
    },
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
      const p = request.principal;
      await tenantTx(ctx, request, async (tx) => {
        const m = await tx.membership.findFirst({ where: { userId: request.params.id } });
        if (!m) throw notFound('member');
        if (m.role === 'owner' && p.kind === 'user' && p.role !== 'owner')
          throw new ApiError('forbidden', 'only an owner can remove an owner');
        if (m.role === 'owner' && (await tx.membership.count({ where: { role: 'owner' } })) === 1)
          throw new ApiError('conflict', 'the last owner cannot be removed');
        await tx.membership.delete({ where: { id: m.id } });
        await tx.refreshToken.updateMany({
          where: { userId: m.userId, revokedAt: null },
          data: { revokedAt: new Date(), revokedReason: 'removed' },
        });
        await audit(tx, request, 'member.removed', { type: 'user', id: m.userId }, { role: m.role });
      });
      return reply.status(204).send(null);
    },
  );
};
