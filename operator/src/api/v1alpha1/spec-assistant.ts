import { z } from 'zod';

/**
 * WhatsAppTenant, switchboard.dev/v1alpha1 (see whatsapp-tenant.ts): the platform team's hold on
 * the tenant's AI assistant (packages/assistant). The tenant chooses its provider and limits in
 * the inbox; these two settings are the platform's and reach the workers as ASSISTANT_ENABLED and
 * ASSISTANT_ALLOWED_MODELS.
 */
export const assistantSchema = z
  .strictObject({
    enabled: z
      .boolean()
      .default(true)
      .describe(
        "The platform kill switch of the tenant's AI assistant: false refuses every provider call (the chart's tenantStack.assistantEnabled: false does so for every tenant).",
      ),
    allowedModels: z
      .array(
        z
          .string()
          .min(1)
          .max(200)
          .regex(/^[^,\s]+$/, 'a model name without commas or spaces'),
      )
      .max(50)
      .optional()
      .describe('Models the tenant may ask its provider for, e.g. [gpt-4o-mini]; unset: any model.'),
  })
  .describe("The platform's limits on the tenant's AI assistant.");
