import { z } from 'zod';
import { SessionSettingForm, useSessionSetting } from './session-setting.tsx';

/** A Cloud API number's messaging limit (`GET/PUT /v1/sessions/:id/messaging-limit`). */
const messagingLimitSchema = z.object({ messagingLimit: z.number().int().nullable() });

/** Meta's tiers: unique customers a number may start conversations with in a rolling 24 hours. */
const TIERS = [250, 1_000, 10_000, 100_000];

/**
 * A Cloud API number's messaging limit, Meta's tier (shown in Meta's WhatsApp Manager): campaigns
 * send to no more unique customers in 24 hours than it allows. Admins save it; other members see it.
 */
export function MessagingLimitSettings(props: { sessionId: string; sessionName: string; admin: boolean }) {
  const setting = useSessionSetting({
    url: `/v1/sessions/${props.sessionId}/messaging-limit`,
    schema: messagingLimitSchema,
    initial: 'none',
    toDraft: (s) => (s.messagingLimit === null ? 'none' : String(s.messagingLimit)),
    toBody: (draft) => ({ messagingLimit: draft === 'none' ? null : Number(draft) }),
  });
  return (
    <SessionSettingForm
      ariaLabel={`Messaging limit of ${props.sessionName}`}
      legend="Messaging limit"
      saveLabel="Save messaging limit"
      admin={props.admin}
      setting={setting}
    >
      <label>
        Meta's tier (unique customers per 24 hours)
        <select value={setting.draft} onChange={(e) => setting.setDraft(e.target.value)}>
          <option value="none">Unlimited (not enforced)</option>
          {TIERS.map((tier) => (
            <option key={tier} value={String(tier)}>
              {tier.toLocaleString('en')}
            </option>
          ))}
        </select>
      </label>
      <small>Campaigns from this number stay within it.</small>
    </SessionSettingForm>
  );
}
