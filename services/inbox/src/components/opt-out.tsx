// A contact's campaign opt-out in the contact panel (GET /v1/contacts/:id/opt-out): whether the
// contact receives campaigns, and since when it does not (the keyword it replied, or "the team").
// Agents opt a contact out; admins opt it back in (the consent is theirs to record).
import { useEffect, useState } from 'react';
import { z } from 'zod';
import { describeError } from '../api/client.ts';
import { roleAtLeast, useApp } from '../app-context.tsx';
import { dayLabel } from '../format.ts';

const optOutSchema = z.object({
  optedOut: z.boolean(),
  keyword: z.string().nullable(),
  optedOutAt: z.string().nullable(),
  optedInAt: z.string().nullable(),
  optedInBy: z.string().nullable(),
});
type OptOut = z.infer<typeof optOutSchema>;

const by = (keyword: string | null) => (keyword === 'api' ? 'by the team' : `replied ${keyword}`);

export function ContactOptOut(props: { contactId: string }) {
  const { client, me } = useApp();
  const [state, setState] = useState<OptOut | undefined>();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | undefined>();
  const url = `/v1/contacts/${props.contactId}/opt-out`;
  useEffect(() => {
    let cancelled = false;
    client
      .request('GET', url, optOutSchema)
      .then((s) => !cancelled && setState(s))
      .catch((e) => !cancelled && setError(describeError(e)));
    return () => {
      cancelled = true;
    };
  }, [client, url]);
  const change = async (method: 'PUT' | 'DELETE') => {
    setBusy(true);
    try {
      setState(await client.request(method, url, optOutSchema));
      setError(undefined);
    } catch (e) {
      setError(describeError(e));
    } finally {
      setBusy(false);
    }
  };
  return (
    <section aria-label="Campaigns" className="stack">
      {state &&
        (state.optedOut ? (
          <p>
            Opted out of campaigns ({by(state.keyword)}
            {state.optedOutAt ? `, ${dayLabel(new Date(state.optedOutAt))}` : ''})
          </p>
        ) : (
          <p>
            Receives campaigns
            {state.optedInBy ? ` (back in: ${by(state.optedInBy).replace('replied ', '')})` : ''}
          </p>
        ))}
      {state?.optedOut === false && roleAtLeast(me.role, 'agent') && (
        <button type="button" disabled={busy} onClick={() => void change('PUT')}>
          Opt out of campaigns
        </button>
      )}
      {state?.optedOut && roleAtLeast(me.role, 'admin') && (
        <button type="button" disabled={busy} onClick={() => void change('DELETE')}>
          Opt back in to campaigns
        </button>
      )}
      {error && (
        <p role="alert" className="error">
          {error}
        </p>
      )}
    </section>
  );
}
