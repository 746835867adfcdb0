import {
  groupJidSchema,
  groupSubjectSchema,
  MAX_GROUP_OPERATION_PARTICIPANTS,
  participantPhoneSchema,
} from '@switchboard/messaging/producer';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { groupSchema } from '../group-dto.ts';
import { errorBody } from '../schemas.ts';
import { getGroup, groupFromResult, listGroups, runGroupCommand } from '../services/groups.ts';

const phones = z
  .array(participantPhoneSchema)
  .min(1)
  .max(MAX_GROUP_OPERATION_PARTICIPANTS)
  .describe('Phone numbers, E.164 digits without "+".');

const sessionParams = z.strictObject({ id: z.uuid({ error: 'must be a uuid' }) });
const sessionGroupParams = sessionParams.extend({ group: groupJidSchema });

/** What the stand-in errors of a group operation look like. */
const operationErrors = {
  400: errorBody,
  403: errorBody,
  404: errorBody,
  409: errorBody,
  422: errorBody,
  503: errorBody,
};

const participantsResult = z.strictObject({
  group: z.string(),
  participants: z.array(
    z.strictObject({
      phone: z.string().nullable(),
      status: z
        .number()
        .int()
        .describe(
          "WhatsApp's answer: 200 done; 403 the person's privacy settings refuse it; 408 not on WhatsApp; 409 already in / not in the group.",
        ),
      ok: z.boolean(),
    }),
  ),
});

/**
 * WhatsApp groups of Baileys sessions (`/v1/sessions/:id/groups`: create, change participants
 * and subject, read again from WhatsApp), run by the worker holding the session, and the groups
 * the tenant's sessions are in (`/v1/groups`, as stored). Cloud API sessions have no groups
 * (422 channel_unsupported); a session that is not connected answers 409.
 */
export const sessionGroupRoutes: FastifyPluginAsyncZod = async (app) => {
  const ctx = app.sb;

  app.post(
    '/:id/groups',
    {
      config: { access: { role: 'admin', scope: 'manage' } },
      schema: {
        summary: 'Create a WhatsApp group on a session (Baileys)',
        tags: ['groups'],
        params: sessionParams,
        body: z.strictObject({ subject: groupSubjectSchema, participants: phones }),
        response: { 201: groupSchema, ...operationErrors },
      },
    },
    async (request, reply) => {
      const { subject, participants } = request.body;
      const result = await runGroupCommand(
        ctx,
        request,
        request.params.id,
        { op: 'create', subject, participants },
        'group.created',
      );
      return reply.status(201).send(groupFromResult(result.group, result.info!));
    },
  );

  app.post(
    '/:id/groups/:group/participants',
    {
      config: { access: { role: 'admin', scope: 'manage' } },
      schema: {
        summary: 'Add, remove, promote or demote participants of a WhatsApp group',
        tags: ['groups'],
        params: sessionGroupParams,
        body: z.strictObject({
          action: z.enum(['add', 'remove', 'promote', 'demote']),
          participants: phones,
        }),
        response: { 200: participantsResult, ...operationErrors },
      },
    },
    async (request) => {
      const { action, participants } = request.body;
      const result = await runGroupCommand(
        ctx,
        request,
        request.params.id,
        { op: 'participants', group: request.params.group, action, participants },
        'group.participants_changed',
      );
      return {
        group: result.group,
        participants: (result.participants ?? []).map((p) => ({ ...p, ok: p.status === 200 })),
      };
    },
  );

  app.patch(
    '/:id/groups/:group',
    {
      config: { access: { role: 'admin', scope: 'manage' } },
      schema: {
        summary: "Change a WhatsApp group's subject",
        tags: ['groups'],
        params: sessionGroupParams,
        body: z.strictObject({ subject: groupSubjectSchema }),
        response: { 200: z.strictObject({ group: z.string(), subject: z.string() }), ...operationErrors },
      },
    },
    async (request) => {
      const result = await runGroupCommand(
        ctx,
        request,
        request.params.id,
        { op: 'subject', group: request.params.group, subject: request.body.subject },
        'group.subject_changed',
      );
      return { group: result.group, subject: request.body.subject };
    },
  );

  app.post(
    '/:id/groups/:group/refresh',
    {
      config: { access: { role: 'agent', scope: 'send' } },
      schema: {
        summary: "Read a WhatsApp group's subject and participants from WhatsApp again",
        tags: ['groups'],
        params: sessionGroupParams,
        response: { 200: groupSchema, ...operationErrors },
      },
    },
    async (request) => {
      const result = await runGroupCommand(
        ctx,
        request,
        request.params.id,
        { op: 'refresh', group: request.params.group },
        'group.refreshed',
      );
      return groupFromResult(result.group, result.info!);
    },
  );
};

/** The groups the tenant's sessions are in, as stored (`/v1/groups`). */
export const groupRoutes: FastifyPluginAsyncZod = async (app) => {
  const ctx = app.sb;

  app.get(
    '/',
    {
      config: { access: { role: 'viewer', scope: 'read' } },
      schema: {
        summary: "The WhatsApp groups of the tenant's sessions (subject, participants)",
        tags: ['groups'],
        querystring: z.strictObject({ limit: z.coerce.number().int().min(1).max(500).default(200) }),
        response: { 200: z.strictObject({ data: z.array(groupSchema) }), 400: errorBody },
      },
    },
    async (request) => ({ data: await listGroups(ctx, request, request.query.limit) }),
  );

  app.get(
    '/:group',
    {
      config: { access: { role: 'viewer', scope: 'read' } },
      schema: {
        summary: 'A WhatsApp group: subject, participants and their roles',
        tags: ['groups'],
        params: z.strictObject({ group: groupJidSchema }),
        response: { 200: groupSchema, 400: errorBody, 404: errorBody },
      },
    },
    async (request) => await getGroup(ctx, request, request.params.group),
  );
};
