import { z } from 'zod';
import { SessionSettingForm, useSessionSetting } from './session-setting.tsx';

/** A session's history import (`GET/PUT /v1/sessions/:id/history-import`). */
export const historyImportSchema = z.object({
  historyImport: z.union([z.literal('none'), z.number().int()]),
});

/** The windows offered; the API takes any whole number of days from 1 to 90. */
const CHOICES = [1, 7, 30, 90];

/**
 * A WhatsApp app session's history on pairing: none, or the chats of the last N days imported
 * when the number is next paired (without notifications, unread counts or automatic replies).
 * Admins save it; other members see it.
 */
export function HistoryImportSettings(props: { sessionId: string; sessionName: string; admin: boolean }) {
  const setting = useSessionSetting({
    url: `/v1/sessions/${props.sessionId}/history-import`,
    schema: historyImportSchema,
    initial: 'none',
    toDraft: (s) => String(s.historyImport),
    toBody: (draft) => ({ historyImport: draft === 'none' ? 'none' : Number(draft) }),
  });
  const value = setting.draft;
  const options = value === 'none' || CHOICES.includes(Number(value)) ? CHOICES : [...CHOICES, Number(value)];
  return (
    <SessionSettingForm
      ariaLabel={`History import of ${props.sessionName}`}
      legend="History on pairing"
      saveLabel="Save history import"
      admin={props.admin}
      setting={setting}
    >
      <label>
        Import chats when the number is paired
        <select value={value} onChange={(e) => setting.setDraft(e.target.value)}>
          <option value="none">None</option>
          {options.map((days) => (
            <option key={days} value={String(days)}>
              Last {days} {days === 1 ? 'day' : 'days'}
            </option>
          ))}
        </select>
      </label>
      <small>Used at the next pairing. Imported chats are listed under Resolved and All.</small>
    </SessionSettingForm>
  );
}
