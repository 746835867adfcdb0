import { z } from 'zod';
import { CONDITION_REASON, CONDITION_TYPE, CONDITION_TYPES, PHASES } from './common.ts';

/**
 * WhatsAppTenant, switchboard.dev/v1alpha1 (see whatsapp-tenant.ts): `status` of a WhatsAppTenant: conditions (shaped like metav1.Condition), phase, the
 * kubectl columns.
 */

export const count = (description: string) => z.int().min(0).describe(description);

/** One entry of `status.conditions`, shaped like metav1.Condition. */
export const conditionSchema = z
  .strictObject({
    type: z
      .string()
      .max(316)
      .regex(CONDITION_TYPE)
      .describe(`Condition type: ${CONDITION_TYPES.join(', ')}.`),
    status: z.enum(['True', 'False', 'Unknown']).describe('True, False or Unknown.'),
    observedGeneration: z
      .int()
      .min(0)
      .optional()
      .describe('metadata.generation the condition was computed from.'),
    lastTransitionTime: z.iso.datetime().describe('When status last changed (not when it was last checked).'),
    reason: z
      .string()
      .min(1)
      .max(1024)
      .regex(CONDITION_REASON)
      .describe('CamelCase reason for the status, e.g. MigrationFailed.'),
    message: z.string().max(32768).describe('What a human should know, in a sentence.'),
  })
  .describe('An observation of one aspect of the tenant.');

/** What the operator observed: `status` of a WhatsAppTenant. */
export const whatsAppTenantStatusSchema = z
  .strictObject({
    phase: z
      .enum(PHASES)
      .optional()
      .describe(`Summary of the conditions: ${PHASES.join(', ')}.`),
    observedGeneration: z
      .int()
      .min(0)
      .optional()
      .describe(
        'metadata.generation the operator last acted on; older than generation means it is catching up.',
      ),
    conditions: z
      .array(conditionSchema)
      .max(32)
      .optional()
      .describe('Detailed state, one entry per type.')
      .meta({ 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['type'] }),
    workers: z
      .strictObject({
        desired: count('Worker pods asked for (0 while suspended).'),
        ready: count('Worker pods ready.'),
      })
      .optional()
      .describe('Worker pods; the scale subresource reads ready from here.'),
    workersSummary: z
      .string()
      .max(32)
      .optional()
      .describe('Ready/desired workers, e.g. 2/2: the Workers column of kubectl get.'),
    sessions: z
      .strictObject({
        total: count('Sessions declared in spec.sessions.'),
        connected: count('Declared sessions with a live connection.'),
        pairing: count('Declared sessions waiting for a QR code or pairing code to be scanned.'),
        disconnected: count(
          'Declared sessions neither connected nor pairing (connecting, disconnected, logged out, or not yet known to the API).',
        ),
      })
      .optional()
      .describe(
        "Declared sessions by state, as the tenant's API reports them; absent while it cannot be asked.",
      ),
    sessionsSummary: z
      .string()
      .max(32)
      .optional()
      .describe(
        'Connected/declared sessions, e.g. 2/3, or unknown while the API cannot be asked: the Sessions column of kubectl get.',
      ),
    ownerInvite: z
      .strictObject({
        email: z.string().max(320).describe('The address invited (spec.owner.email).'),
        accepted: z.boolean().describe('True once the owner has set a password; the link is then gone.'),
        secretName: z
          .string()
          .max(253)
          .optional()
          .describe('Secret holding the invite link (key url) while it is not accepted.'),
        expiresAt: z.iso
          .datetime()
          .optional()
          .describe('When the link stops working; a new one is made then.'),
      })
      .optional()
      .describe("The first owner's invite (spec.owner); absent until the API could be asked."),
    endpoints: z
      .strictObject({
        inbox: z.string().max(2048).optional().describe('URL of the hosted inbox.'),
        api: z.string().max(2048).optional().describe('Base URL of the REST API.'),
      })
      .optional()
      .describe('Where to reach the tenant.'),
    selector: z
      .string()
      .max(1024)
      .optional()
      .describe('Label selector of the worker pods, for the scale subresource (kubectl scale, autoscalers).'),
  })
  .describe("The tenant's observed state, written by the operator.");
