import { useEffect, useState } from 'react';
import { z } from 'zod';
import { describeError } from '../api/client.ts';
import { useApp } from '../app-context.tsx';

/** A Cloud API number's messaging limit (`GET/PUT /v1/sessions/:id/messaging-limit`). */
const messagingLimitSchema = z.object({ messagingLimit: z.number().int().nullable() });

/** Meta's tiers: unique customers a number may start conversations with in a rolling 24 hours. */
const TIERS = [250, 1_000, 10_000, 100_000];

/**
 * A Cloud API number's messaging limit, Meta's tier (shown in Meta's WhatsApp Manager): campaigns
 * send to no more unique customers in 24 hours than it allows. Admins save it; other members see it.
 */
export function MessagingLimitSettings(props: { sessionId: string; sessionName: string; admin: boolean }) {
  const { client } = useApp();
  const [value, setValue] = useState('none');
  const [loaded, setLoaded] = useState(false);
  const [error, setError] = useState<string | undefined>();
  const [saved, setSaved] = useState(false);
  const [busy, setBusy] = useState(false);
  const url = `/v1/sessions/${props.sessionId}/messaging-limit`;

  useEffect(() => {
    let cancelled = false;
    client
      .request('GET', url, messagingLimitSchema)
      .then((s) => {
        if (cancelled) return;
        setValue(s.messagingLimit === null ? 'none' : String(s.messagingLimit));
        setLoaded(true);
      })
      .catch((e: unknown) => !cancelled && setError(describeError(e)));
    return () => {
      cancelled = true;
    };
  }, [client, url]);

  return (
    <form
      className="history-import"
      aria-label={`Messaging limit of ${props.sessionName}`}
      onSubmit={async (e) => {
        e.preventDefault();
        setBusy(true);
        setSaved(false);
        try {
          const s = await client.request('PUT', url, messagingLimitSchema, {
            body: { messagingLimit: value === 'none' ? null : Number(value) },
          });
          setValue(s.messagingLimit === null ? 'none' : String(s.messagingLimit));
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
        <legend>Messaging limit</legend>
        <label>
          Meta's tier (unique customers per 24 hours)
          <select
            value={value}
            onChange={(e) => {
              setValue(e.target.value);
              setSaved(false);
            }}
          >
            <option value="none">Unlimited (not enforced)</option>
            {TIERS.map((tier) => (
              <option key={tier} value={String(tier)}>
                {tier.toLocaleString('en')}
              </option>
            ))}
          </select>
        </label>
        <small>Campaigns from this number stay within it.</small>
        {props.admin && (
          <button type="submit" disabled={busy}>
            Save messaging limit
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
