import { useEffect, useState } from 'react';
import { z } from 'zod';
import { describeError } from '../api/client.ts';
import { useApp } from '../app-context.tsx';

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
  const { client } = useApp();
  const [value, setValue] = useState('none');
  const [loaded, setLoaded] = useState(false);
  const [error, setError] = useState<string | undefined>();
  const [saved, setSaved] = useState(false);
  const [busy, setBusy] = useState(false);
  const url = `/v1/sessions/${props.sessionId}/history-import`;

  useEffect(() => {
    let cancelled = false;
    client
      .request('GET', url, historyImportSchema)
      .then((s) => {
        if (cancelled) return;
        setValue(String(s.historyImport));
        setLoaded(true);
      })
      .catch((e: unknown) => !cancelled && setError(describeError(e)));
    return () => {
      cancelled = true;
    };
  }, [client, url]);

  const options = value === 'none' || CHOICES.includes(Number(value)) ? CHOICES : [...CHOICES, Number(value)];
  return (
    <form
      className="history-import"
      aria-label={`History import of ${props.sessionName}`}
      onSubmit={async (e) => {
        e.preventDefault();
        setBusy(true);
        setSaved(false);
        try {
          const s = await client.request('PUT', url, historyImportSchema, {
            body: { historyImport: value === 'none' ? 'none' : Number(value) },
          });
          setValue(String(s.historyImport));
          setError(undefined);
          setSaved(true);
        } catch (err) {
          setError(describeError(err));
        } finally {
          setBusy(false);
        }
      }}
    >
      <fieldset disabled={!props.admin || !loaded}>
        <legend>History on pairing</legend>
        <label>
          Import chats when the number is paired
          <select
            value={value}
            onChange={(e) => {
              setValue(e.target.value);
              setSaved(false);
            }}
          >
            <option value="none">None</option>
            {options.map((days) => (
              <option key={days} value={String(days)}>
                Last {days} {days === 1 ? 'day' : 'days'}
              </option>
            ))}
          </select>
        </label>
        <small>Used at the next pairing. Imported chats are listed under Resolved and All.</small>
        {props.admin && (
          <button type="submit" disabled={busy}>
            Save history import
          </button>
        )}
        {saved && <output>Saved</output>}
      </fieldset>
      {error && (
        <p role="alert" className="error">
          {error}
        </p>
      )}
    </form>
  );
}
