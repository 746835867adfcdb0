import { z } from 'zod';
import { tokenPairSchema } from './schemas.ts';

/** What login answers: tokens, a challenge for the second step, or an enrol-only token. */
export const loginAnswerSchema = z.union([
  tokenPairSchema,
  z.object({ status: z.literal('two_factor_required'), challenge: z.string().min(1) }),
  z.object({ status: z.literal('two_factor_enrolment_required'), enrolmentToken: z.string().min(1) }),
]);

/** Where a sign-in stands after the password: done, or a second step to take. */
export type SignInStep =
  | { kind: 'signed-in' }
  | { kind: 'two-factor'; challenge: string }
  | { kind: 'enrol'; enrolmentToken: string };

/** GET /v1/auth/two-factor. */
export const twoFactorStatusSchema = z.object({
  enabled: z.boolean(),
  pendingEnrolment: z.boolean(),
  recoveryCodesLeft: z.number(),
  required: z.boolean(),
});
export type TwoFactorStatus = z.infer<typeof twoFactorStatusSchema>;

/** A started enrolment: the secret, its otpauth URI and the QR code (an SVG data URL). */
export const enrolmentSchema = z.object({
  secret: z.string(),
  otpauthUri: z.string(),
  qrCode: z.string().startsWith('data:image/'),
});
export type Enrolment = z.infer<typeof enrolmentSchema>;

/** A confirmed enrolment's recovery codes (shown once). */
export const recoveryCodesSchema = z.object({ recoveryCodes: z.array(z.string()) });

/** A confirmed required enrolment: the recovery codes and the sign-in's tokens. */
export const requiredEnrolmentSchema = recoveryCodesSchema.extend({ tokens: tokenPairSchema });

/** GET/PUT /v1/tenant/security. */
export const securityPolicySchema = z.object({ requireTwoFactorForAdmins: z.boolean() });
