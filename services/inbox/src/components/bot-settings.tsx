import { useCallback, useEffect, useState } from 'react';
import { z } from 'zod';
import { describeError } from '../api/client.ts';
import { useApp } from '../app-context.tsx';

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
  const { client } = useApp();
  const [enabled, setEnabled] = useState(false);
  const [url, setUrl] = useState('');
  const [secretRef, setSecretRef] = useState('');
  const [secretSealed, setSecretSealed] = useState(false);
  const [handoffKeyword, setHandoffKeyword] = useState('');
  const [restartKeyword, setRestartKeyword] = useState('');
  const [newSecret, setNewSecret] = useState<string | undefined>();
  const [loaded, setLoaded] = useState(false);
  const [error, setError] = useState<string | undefined>();
  const [saved, setSaved] = useState(false);
  const [busy, setBusy] = useState(false);

  const show = useCallback((s: z.infer<typeof botSettingsSchema>) => {
    setEnabled(s.enabled);
    setUrl(s.url ?? '');
    setSecretRef(s.secretRef ?? '');
    setSecretSealed(s.secretSealed);
    setHandoffKeyword(s.handoffKeyword ?? '');
    setRestartKeyword(s.restartKeyword ?? '');
  }, []);

  useEffect(() => {
    let cancelled = false;
    client
      .request('GET', `/v1/sessions/${props.sessionId}/bot`, botSettingsSchema)
      .then((s) => {
        if (cancelled) return;
        show(s);
        setLoaded(true);
      })
      .catch((e: unknown) => !cancelled && setError(describeError(e)));
    return () => {
      cancelled = true;
    };
  }, [client, props.sessionId, show]);

  const changed = () => setSaved(false);
  const readOnly = !props.admin || !loaded;
  return (
    <form
      className="call-settings bot-settings"
      aria-label={`Bot of ${props.sessionName}`}
      onSubmit={async (e) => {
        e.preventDefault();
        setBusy(true);
        setSaved(false);
        try {
          const s = await client.request('PUT', `/v1/sessions/${props.sessionId}/bot`, botSettingsSchema, {
            body: {
              enabled,
              url: url.trim(),
              secretRef: secretRef.trim() ? secretRef.trim() : null,
              handoffKeyword: handoffKeyword.trim() ? handoffKeyword.trim() : null,
              restartKeyword: restartKeyword.trim() ? restartKeyword.trim() : null,
            },
          });
          show(s);
          setNewSecret(s.secret);
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
        <legend>Bot (external flow engine)</legend>
        <label className="check">
          <input
            type="checkbox"
            checked={enabled}
            onChange={(e) => {
              setEnabled(e.target.checked);
              changed();
            }}
          />
          Send customers’ messages to the flow engine
        </label>
        <label>
          Flow engine URL
          <input
            type="url"
            required
            maxLength={2000}
            value={url}
            placeholder="https://flows.example.com/hooks/support"
            onChange={(e) => {
              setUrl(e.target.value);
              changed();
            }}
          />
        </label>
        <label>
          Signing secret reference (optional)
          <input
            value={secretRef}
            maxLength={512}
            placeholder={secretSealed ? 'a generated secret is stored' : 'secret://provider/name'}
            onChange={(e) => {
              setSecretRef(e.target.value);
              changed();
            }}
          />
        </label>
        <label>
          Hand-off keyword
          <input
            value={handoffKeyword}
            maxLength={64}
            placeholder="agent"
            onChange={(e) => {
              setHandoffKeyword(e.target.value);
              changed();
            }}
          />
        </label>
        <label>
          Restart keyword
          <input
            value={restartKeyword}
            maxLength={64}
            placeholder="bot"
            onChange={(e) => {
              setRestartKeyword(e.target.value);
              changed();
            }}
          />
        </label>
        {props.admin && (
          <button type="submit" disabled={busy}>
            Save bot settings
          </button>
        )}
        {saved && <output>Saved</output>}
        {newSecret && (
          <p role="status">
            Signing secret (shown once): <code>{newSecret}</code>
          </p>
        )}
      </fieldset>
      {error && (
        <p role="alert" className="error">
          {error}
        </p>
      )}
    </form>
  );
}
