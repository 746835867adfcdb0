import { useEffect, useState } from 'react';
import { z } from 'zod';
import { describeError } from '../api/client.ts';
import { useApp } from '../app-context.tsx';

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
  const { client } = useApp();
  const [rejectCalls, setRejectCalls] = useState(false);
  const [replyText, setReplyText] = useState('');
  const [loaded, setLoaded] = useState(false);
  const [error, setError] = useState<string | undefined>();
  const [saved, setSaved] = useState(false);
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    let cancelled = false;
    client
      .request('GET', `/v1/sessions/${props.sessionId}/calls`, callSettingsSchema)
      .then((s) => {
        if (cancelled) return;
        setRejectCalls(s.rejectCalls);
        setReplyText(s.replyText ?? '');
        setLoaded(true);
      })
      .catch((e: unknown) => !cancelled && setError(describeError(e)));
    return () => {
      cancelled = true;
    };
  }, [client, props.sessionId]);

  const readOnly = !props.admin || !loaded;
  return (
    <form
      className="call-settings"
      aria-label={`Calls of ${props.sessionName}`}
      onSubmit={async (e) => {
        e.preventDefault();
        setBusy(true);
        setSaved(false);
        try {
          const s = await client.request('PUT', `/v1/sessions/${props.sessionId}/calls`, callSettingsSchema, {
            body: { rejectCalls, replyText: replyText.trim() ? replyText : null },
          });
          setRejectCalls(s.rejectCalls);
          setReplyText(s.replyText ?? '');
          setError(undefined);
          setSaved(true);
        } catch (err) {
          setError(describeError(err));
        } finally {
          setBusy(false);
        }
      }}
    >
      <fieldset disabled={readOnly}>
        <legend>Calls</legend>
        <label className="check">
          <input
            type="checkbox"
            checked={rejectCalls}
            onChange={(e) => {
              setRejectCalls(e.target.checked);
              setSaved(false);
            }}
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
            onChange={(e) => {
              setReplyText(e.target.value);
              setSaved(false);
            }}
          />
        </label>
        {props.admin && (
          <button type="submit" disabled={busy}>
            Save call settings
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
