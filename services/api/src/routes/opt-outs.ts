// Campaign opt-outs: `/v1/settings/opt-out-keywords` and `/v1/settings/opt-in-keywords` (an
// inbound text equal to one, trimmed and in any case, opts the contact out of campaigns, or back
// in), and one contact's state under `/v1/contacts/:id/opt-out` (read; PUT opts out, DELETE opts
// back in, both through the API and audited).
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { errorBody, idParams } from '../schemas.ts';
import {
  contactOptOut,
  getOptKeywords,
  type KeywordKind,
  optOutStateSchema,
  putOptKeywords,
} from '../services/opt-outs.ts';

const manage = { role: 'admin', scope: 'manage' } as const;
const read = { role: 'viewer', scope: 'read' } as const;
const work = { role: 'agent', scope: 'send' } as const;

/** The keywords of `kind`, registered under `/v1/settings/opt-<kind>-keywords`. */
export function optKeywordRoutes(kind: KeywordKind): FastifyPluginAsyncZod {
  const what = kind === 'out' ? 'opt-out' : 'opt-in';
  return async (app) => {
    const ctx = app.sb;
    const body = z.strictObject({
      keywords: z.array(z.string().trim().min(1).max(64)).max(50).describe('Matched trimmed, in any case.'),
    });
    app.get(
      '/',
      {
        config: { access: read },
        schema: { summary: `The ${what} keywords`, tags: ['settings'], response: { 200: body } },
      },
      async (request) => ({ keywords: await getOptKeywords(ctx, request, kind) }),
    );
    app.put(
      '/',
      {
        config: { access: manage },
        schema: {
          summary: `Replace the ${what} keywords`,
          tags: ['settings'],
          body,
          response: { 200: body, 400: errorBody },
        },
      },
      async (request) => ({ keywords: await putOptKeywords(ctx, request, kind, request.body.keywords) }),
    );
  };
}

/** `/v1/contacts/:id/opt-out`: read (viewers), opt out (agents), opt back in (admins: consent is theirs to record). */
export const contactOptOutRoutes: FastifyPluginAsyncZod = async (app) => {
  const ctx = app.sb;
  const routes = [
    ['get', read, undefined, "The contact's campaign opt-out"],
    ['put', work, 'opt_out', 'Opt the contact out of campaigns'],
    ['delete', manage, 'opt_in', 'Opt the contact back in to campaigns'],
  ] as const;
  for (const [method, access, change, summary] of routes)
    app[method](
      '/:id/opt-out',
      {
        config: { access },
        schema: {
          summary,
          tags: ['contacts'],
          params: idParams,
          response: { 200: optOutStateSchema, 404: errorBody },
        },
      },
      async (request) => await contactOptOut(ctx, request, request.params.id, change),
    );
};
