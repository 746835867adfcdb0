import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { notFound } from '../errors.ts';
import { errorBody, idParams } from '../schemas.ts';
import {
  appliedLabelSchema,
  changeLabels,
  createLabel,
  deleteLabel,
  LABEL_PALETTE,
  type LabelTarget,
  labelColorSchema,
  labelNameSchema,
  labelSchema,
  labelsOf,
  listLabels,
  updateLabel,
} from '../services/labels.ts';

const manage = { role: 'admin', scope: 'manage' } as const;
const read = { role: 'viewer', scope: 'read' } as const;
const work = { role: 'agent', scope: 'send' } as const;

/** At most this many targets per bulk request (one transaction). */
const BULK_MAX = 500;

const changeResult = z.strictObject({
  changed: z.array(z.uuid()).describe('Targets whose labels changed.'),
  unchanged: z.array(z.uuid()).describe('Targets that already had (apply) or lacked (remove) the label.'),
});

/**
 * Labels (`/v1/labels`): list (everyone), create / rename / recolour / delete (admins), and
 * apply or remove one label to many conversations or contacts at once (agents; one transaction).
 */
export const labelRoutes: FastifyPluginAsyncZod = async (app) => {
  const ctx = app.sb;

  app.get(
    '/',
    {
      config: { access: read },
      schema: {
        summary: 'List labels (by name), with how many conversations and contacts carry each',
        tags: ['labels'],
        response: {
          200: z.strictObject({
            items: z.array(labelSchema),
            palette: z.array(z.string()).describe('The colours the inbox offers.'),
          }),
        },
      },
    },
    async (request) => ({ items: await listLabels(ctx, request), palette: [...LABEL_PALETTE] }),
  );

  app.post(
    '/',
    {
      config: { access: manage },
      schema: {
        summary: 'Create a label',
        tags: ['labels'],
        body: z.strictObject({ name: labelNameSchema, color: labelColorSchema }),
        response: { 201: labelSchema, 400: errorBody, 409: errorBody },
      },
    },
    async (request, reply) => reply.status(201).send(await createLabel(ctx, request, request.body)),
  );

  app.patch(
    '/:id',
    {
      config: { access: manage },
      schema: {
        summary: 'Rename or recolour a label',
        tags: ['labels'],
        params: idParams,
        body: z.strictObject({ name: labelNameSchema.optional(), color: labelColorSchema.optional() }),
        response: { 200: labelSchema, 400: errorBody, 404: errorBody, 409: errorBody },
      },
    },
    async (request) => await updateLabel(ctx, request, request.params.id, request.body),
  );

  app.delete(
    '/:id',
    {
      config: { access: manage },
      schema: {
        summary: 'Delete a label (it leaves every conversation and contact)',
        tags: ['labels'],
        params: idParams,
        response: { 204: z.null(), 404: errorBody },
      },
    },
    async (request, reply) => {
      await deleteLabel(ctx, request, request.params.id);
      return reply.status(204).send(null);
    },
  );

  const bulkBody = z
    .strictObject({
      conversationIds: z.array(z.uuid()).min(1).max(BULK_MAX).optional(),
      contactIds: z.array(z.uuid()).min(1).max(BULK_MAX).optional(),
    })
    .refine((b) => (b.conversationIds === undefined) !== (b.contactIds === undefined), {
      message: 'give exactly one of conversationIds or contactIds',
    });
  for (const action of ['apply', 'remove'] as const) {
    app.post(
      `/:id/${action}`,
      {
        config: { access: work },
        schema: {
          summary:
            action === 'apply'
              ? `Apply the label to up to ${BULK_MAX} conversations or contacts (one transaction)`
              : `Remove the label from up to ${BULK_MAX} conversations or contacts (one transaction)`,
          tags: ['labels'],
          params: idParams,
          body: bulkBody,
          response: { 200: changeResult, 400: errorBody, 404: errorBody },
        },
      },
      async (request) => {
        const { conversationIds, contactIds } = request.body;
        const target: LabelTarget = conversationIds ? 'conversation' : 'contact';
        return await changeLabels(ctx, request, {
          labelId: request.params.id,
          target,
          ids: conversationIds ?? contactIds ?? [],
          action,
        });
      },
    );
  }
};

/**
 * One target kind's labels, registered under its prefix (`/v1/conversations`, `/v1/contacts`):
 * `GET /:id/labels`, `PUT /:id/labels/:labelId` (apply), `DELETE /:id/labels/:labelId` (remove).
 */
export function targetLabelRoutes(target: LabelTarget): FastifyPluginAsyncZod {
  return async (app) => {
    const ctx = app.sb;
    const tag = target === 'conversation' ? 'conversations' : 'contacts';
    const labelParams = z.strictObject({
      id: z.uuid({ error: 'must be a uuid' }),
      labelId: z.uuid({ error: 'must be a uuid' }),
    });
    const labels = z.strictObject({ items: z.array(appliedLabelSchema) });

    app.get(
      '/:id/labels',
      {
        config: { access: read },
        schema: {
          summary: `The labels on the ${target}`,
          tags: [tag],
          params: idParams,
          response: { 200: labels, 404: errorBody },
        },
      },
      async (request) => ({ items: await labelsOf(ctx, request, target, request.params.id) }),
    );
    for (const [method, action] of [
      ['put', 'apply'],
      ['delete', 'remove'],
    ] as const) {
      app[method](
        '/:id/labels/:labelId',
        {
          config: { access: work },
          schema: {
            summary:
              action === 'apply' ? `Apply a label to the ${target}` : `Remove a label from the ${target}`,
            tags: [tag],
            params: labelParams,
            response: { 200: labels, 400: errorBody, 404: errorBody },
          },
        },
        async (request) => {
          const { id, labelId } = request.params;
          await changeLabels(ctx, request, { labelId, target, ids: [id], action }).catch((error: unknown) => {
            // One target: a missing one is the 404 of the path, not a body's validation error.
            if ((error as { code?: string }).code === 'validation_failed') throw notFound(target);
            throw error;
          });
          return { items: await labelsOf(ctx, request, target, id) };
        },
      );
    }
  };
}
