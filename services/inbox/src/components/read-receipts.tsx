import { useEffect, useState } from 'react';
import { z } from 'zod';
import { describeError } from '../api/client.ts';
import { useApp } from '../app-context.tsx';
import { ErrorAlert } from './form-parts.tsx';

/** `GET/PUT /v1/settings/read-receipts`. */
const readReceiptsSchema = z.object({ enabled: z.boolean() });

/**
 * Read receipts to WhatsApp (admins): whether opening a conversation marks the customer's
 * messages read on their phone (blue ticks). Saved as soon as it is switched.
 */
export function ReadReceiptSettings() {
  const { client } = useApp();
  const [enabled, setEnabled] = useState<boolean | undefined>();
  const [saving, setSaving] = useState(false);
  const [error, setError] = useState<string | undefined>();
  useEffect(() => {
    let cancelled = false;
    client
      .request('GET', '/v1/settings/read-receipts', readReceiptsSchema)
      .then((s) => {
        if (!cancelled) setEnabled(s.enabled);
      })
      .catch((e) => {
        if (!cancelled) setError(describeError(e));
      });
    return () => {
      cancelled = true;
    };
  }, [client]);
  const toggle = async (next: boolean) => {
    const previous = enabled;
    // Shown at once; put back if the API refuses.
    setEnabled(next);
    setSaving(true);
    setError(undefined);
    try {
      const saved = await client.request('PUT', '/v1/settings/read-receipts', readReceiptsSchema, {
        body: { enabled: next },
      });
      setEnabled(saved.enabled);
    } catch (e) {
      setEnabled(previous);
      setError(describeError(e));
    } finally {
      setSaving(false);
    }
  };
  return (
    <section className="read-receipts" aria-labelledby="read-receipts-title">
      <h2 id="read-receipts-title">Read receipts</h2>
      <ErrorAlert error={error} />
      <label>
        <input
          type="checkbox"
          checked={enabled ?? false}
          disabled={enabled === undefined || saving}
          onChange={(e) => void toggle(e.target.checked)}
        />
        Mark customers' messages read on WhatsApp when an agent opens the conversation
      </label>
    </section>
  );
}
