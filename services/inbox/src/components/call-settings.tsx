import { z } from 'zod';
import { SessionSettingForm, useSessionSetting } from './session-setting.tsx';

/** A session's call handling (`GET/PUT /v1/sessions/:id/calls`). */
export const callSettingsSchema = z.object({
  rejectCalls: z.boolean(),
  replyText: z.string().nullable(),
});

/**
 * A WhatsApp app session's call handling: decline incoming calls automatically and, optionally,
 * the text sent to the caller afterwards. Admins save it; other members see it.
 */
export function CallSettings(props: { sessionId: string; sessionName: string; admin: boolean }) {
  const setting = useSessionSetting({
    url: `/v1/sessions/${props.sessionId}/calls`,
    schema: callSettingsSchema,
    initial: { rejectCalls: false, replyText: '' },
    toDraft: (s) => ({ rejectCalls: s.rejectCalls, replyText: s.replyText ?? '' }),
    toBody: (draft) => ({
      rejectCalls: draft.rejectCalls,
      replyText: draft.replyText.trim() ? draft.replyText : null,
    }),
  });
  const { rejectCalls, replyText } = setting.draft;
  return (
    <SessionSettingForm
      ariaLabel={`Calls of ${props.sessionName}`}
      legend="Calls"
      saveLabel="Save call settings"
      admin={props.admin}
      setting={setting}
    >
      <label className="check">
        <input
          type="checkbox"
          checked={rejectCalls}
          onChange={(e) => setting.setField('rejectCalls', e.target.checked)}
        />
        Decline calls automatically
      </label>
      <label>
        Reply to the caller (optional)
        <textarea
          rows={2}
          maxLength={4096}
          value={replyText}
          placeholder="We cannot take calls here; please write."
          onChange={(e) => setting.setField('replyText', e.target.value)}
        />
      </label>
    </SessionSettingForm>
  );
}
