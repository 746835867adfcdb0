import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { errorBody, idParams, page, pageQuery } from '../schemas.ts';
import {
  campaignSchema,
  changeCampaign,
  createCampaign,
  createCampaignSchema,
  getCampaign,
  listCampaigns,
  listRecipients,
  recipientCursor,
  recipientSchema,
} from '../services/campaigns.ts';
import { contactImportSchema, getImport, importContacts, listImports } from '../services/contact-import.ts';

const manage = { role: 'admin', scope: 'manage' } as const;
const read = { role: 'viewer', scope: 'read' } as const;

/**
 * Campaigns (`/v1/campaigns`): an approved template to a segment of contacts through a Cloud API
 * session, sent by the worker's campaign runner once per contact; created, paused, resumed and
 * cancelled by admins, read by everyone with their counts and per-recipient results.
 */
export const campaignRoutes: FastifyPluginAsyncZod = async (app) => {
  const ctx = app.sb;

  app.get(
    '/',
    {
      config: { access: read },
      schema: {
        summary: 'List campaigns, newest first (at most 100), with their counts',
        tags: ['campaigns'],
        response: { 200: z.strictObject({ items: z.array(campaignSchema) }) },
      },
    },
    async (request) => ({ items: await listCampaigns(ctx, request) }),
  );

  app.post(
    '/',
    {
      config: { access: manage },
      schema: {
        summary:
          'Create a campaign (its recipients are taken from the segment now; opted-out contacts are skipped)',
        tags: ['campaigns'],
        body: createCampaignSchema,
        response: { 201: campaignSchema, 400: errorBody, 422: errorBody },
      },
    },
    async (request, reply) => reply.status(201).send(await createCampaign(ctx, request, request.body)),
  );

  app.get(
    '/:id',
    {
      config: { access: read },
      schema: {
        summary: 'Get a campaign with its counts',
        tags: ['campaigns'],
        params: idParams,
        response: { 200: campaignSchema, 404: errorBody },
      },
    },
    async (request) => await getCampaign(ctx, request, request.params.id),
  );

  for (const action of ['pause', 'resume', 'cancel'] as const) {
    app.post(
      `/:id/${action}`,
      {
        config: { access: manage },
        schema: {
          summary:
            action === 'cancel'
              ? 'Cancel the campaign (recipients not queued yet are skipped)'
              : `${action === 'pause' ? 'Pause' : 'Resume'} the campaign`,
          tags: ['campaigns'],
          params: idParams,
          response: { 200: campaignSchema, 404: errorBody, 409: errorBody },
        },
      },
      async (request) => await changeCampaign(ctx, request, request.params.id, action),
    );
  }

  app.get(
    '/:id/recipients',
    {
      config: { access: read },
      schema: {
        summary: "The campaign's recipients and each one's result",
        tags: ['campaigns'],
        params: idParams,
        querystring: pageQuery.extend({ status: recipientSchema.shape.status.optional() }),
        response: { 200: page(recipientSchema), 400: errorBody, 404: errorBody },
      },
    },
    async (request) => {
      const rows = await listRecipients(ctx, request, request.params.id, request.query);
      const more = rows.length > request.query.limit;
      const items = more ? rows.slice(0, request.query.limit) : rows;
      const last = items.at(-1);
      return { items, nextCursor: more && last ? recipientCursor(last.contactId) : null };
    },
  );
};

/** Contact imports from CSV (`/v1/contact-imports`): import (admins), list and read the reports. */
export const contactImportRoutes: FastifyPluginAsyncZod = async (app) => {
  const ctx = app.sb;

  app.post(
    '/',
    {
      config: { access: manage },
      // A 10,000-row file with names and labels fits well within 4 MiB.
      bodyLimit: 4 * 1024 * 1024,
      schema: {
        summary: 'Import contacts from CSV (header: phone, name, labels); rejected rows are reported by line',
        tags: ['contacts'],
        body: z.strictObject({
          fileName: z.string().trim().min(1).max(255),
          csv: z
            .string()
            .min(1)
            .max(4_000_000)
            .describe('The file\'s text; label names in `labels` separated by ";".'),
        }),
        response: { 201: contactImportSchema, 400: errorBody },
      },
    },
    async (request, reply) => reply.status(201).send(await importContacts(ctx, request, request.body)),
  );

  app.get(
    '/',
    {
      config: { access: read },
      schema: {
        summary: 'List contact imports, newest first (at most 100)',
        tags: ['contacts'],
        response: { 200: z.strictObject({ items: z.array(contactImportSchema) }) },
      },
    },
    async (request) => ({ items: await listImports(ctx, request) }),
  );

  app.get(
    '/:id',
    {
      config: { access: read },
      schema: {
        summary: "A contact import's report",
        tags: ['contacts'],
        params: idParams,
        response: { 200: contactImportSchema, 404: errorBody },
      },
    },
    async (request) => await getImport(ctx, request, request.params.id),
  );
};
