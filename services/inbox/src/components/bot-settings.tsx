import { z } from 'zod';
import { SessionSettingForm, useSessionSetting } from './session-setting.tsx';

/** A session's bot settings (`GET/PUT /v1/sessions/:id/bot`). */
export const botSettingsSchema = z.object({
  enabled: z.boolean(),
  url: z.string().nullable(),
  secretRef: z.string().nullable(),
  secretSealed: z.boolean(),
  handoffKeyword: z.string().nullable(),
  restartKeyword: z.string().nullable(),
  /** Only in the answer of the PUT that generated it. */
  secret: z.string().optional(),
});

/**
 * A session's bot: customers' messages of conversations nobody on the team has go to an external
 * flow engine (its URL), signed with a secret Switchboard generates (shown once) or a
 * `secret://` reference; a customer's hand-off keyword hands the conversation to the team, the
 * restart keyword gives it back to the bot. Admins save it; other members see it.
 */
export function BotSettings(props: { sessionId: string; sessionName: string; admin: boolean }) {
  const setting = useSessionSetting({
    url: `/v1/sessions/${props.sessionId}/bot`,
    schema: botSettingsSchema,
    initial: {
      enabled: false,
      url: '',
      secretRef: '',
      secretSealed: false,
      handoffKeyword: '',
      restartKeyword: '',
      newSecret: undefined as string | undefined,
    },
    toDraft: (s) => ({
      enabled: s.enabled,
      url: s.url ?? '',
      secretRef: s.secretRef ?? '',
      secretSealed: s.secretSealed,
      handoffKeyword: s.handoffKeyword ?? '',
      restartKeyword: s.restartKeyword ?? '',
      // Only the PUT that generated a secret answers it: shown until the next save.
      newSecret: s.secret,
    }),
    toBody: (d) => ({
      enabled: d.enabled,
      url: d.url.trim(),
      secretRef: d.secretRef.trim() ? d.secretRef.trim() : null,
      handoffKeyword: d.handoffKeyword.trim() ? d.handoffKeyword.trim() : null,
      restartKeyword: d.restartKeyword.trim() ? d.restartKeyword.trim() : null,
    }),
  });
  const d = setting.draft;
  return (
    <SessionSettingForm
      className="bot-settings"
      ariaLabel={`Bot of ${props.sessionName}`}
      legend="Bot (external flow engine)"
      saveLabel="Save bot settings"
      admin={props.admin}
      setting={setting}
      footer={
        d.newSecret && (
          <p role="status">
            Signing secret (shown once): <code>{d.newSecret}</code>
          </p>
        )
      }
    >
      <label className="check">
        <input
          type="checkbox"
          checked={d.enabled}
          onChange={(e) => setting.setField('enabled', e.target.checked)}
        />
        Send customers’ messages to the flow engine
      </label>
      <label>
        Flow engine URL
        <input
          type="url"
          required
          maxLength={2000}
          placeholder="https://flows.example.com/hooks/support"
          value={d.url}
          onChange={(e) => setting.setField('url', e.target.value)}
        />
      </label>
      <label>
        Signing secret reference (optional)
        <input
          maxLength={512}
          placeholder={d.secretSealed ? 'a generated secret is stored' : 'secret://provider/name'}
          value={d.secretRef}
          onChange={(e) => setting.setField('secretRef', e.target.value)}
        />
      </label>
      <label>
        Hand-off keyword
        <input
          maxLength={64}
          placeholder="agent"
          value={d.handoffKeyword}
          onChange={(e) => setting.setField('handoffKeyword', e.target.value)}
        />
      </label>
      <label>
        Restart keyword
        <input
          maxLength={64}
          placeholder="bot"
          value={d.restartKeyword}
          onChange={(e) => setting.setField('restartKeyword', e.target.value)}
        />
      </label>
    </SessionSettingForm>
  );
}
