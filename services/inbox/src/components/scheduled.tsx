import { useCallback, useEffect, useRef, useState } from 'react';
import { z } from 'zod';
import { describeError } from '../api/client.ts';
import { pageOf } from '../api/schemas.ts';
import { roleAtLeast, useApp } from '../app-context.tsx';

/** A scheduled message as the inbox reads it (`/v1/scheduled-messages`). */
export const scheduledMessageSchema = z.object({
  id: z.string(),
  conversationId: z.string(),
  sessionId: z.string(),
  content: z.unknown(),
  sendAt: z.string(),
  status: z.enum(['scheduled', 'sent', 'failed', 'cancelled']),
  failureReason: z.string().nullable(),
});
export type ScheduledMessage = z.infer<typeof scheduledMessageSchema>;

/** The member's time zone, as the browser reports it (the times shown and typed are in it). */
export function localTimeZone(): string {
  return Intl.DateTimeFormat().resolvedOptions().timeZone;
}

/** A `datetime-local` value (the member's local wall time) as the instant the API takes. */
export function instantOf(local: string): string | undefined {
  const at = new Date(local);
  return Number.isNaN(at.getTime()) ? undefined : at.toISOString();
}

/** What a scheduled message will send, in a line. */
function summaryOf(content: unknown): string {
  const parsed = z.object({ type: z.string(), text: z.string().optional() }).safeParse(content);
  if (!parsed.success) return 'Message';
  return parsed.data.type === 'text' ? (parsed.data.text ?? '') : `A ${parsed.data.type} message`;
}

/**
 * The pending scheduled messages (of one conversation, or all), newest first, each with Cancel.
 * `version` reloads the list when it changes (after the composer scheduled one).
 */
export function ScheduledList(props: {
  conversationId?: string | undefined;
  version?: number;
  /** Hides the whole list while nothing is pending (the thread's), instead of saying so (the page's). */
  hideWhenEmpty?: boolean;
  /** Links each item to its conversation (the page listing all). */
  onOpen?: (conversationId: string) => void;
}) {
  const { client, me, subscribe } = useApp();
  const canCancel = roleAtLeast(me.role, 'agent');
  const [items, setItems] = useState<ScheduledMessage[]>([]);
  const [error, setError] = useState<string | undefined>();
  const [loaded, setLoaded] = useState(false);
  const loads = useRef(0);
  const { conversationId, version } = props;

  const reload = useCallback(async () => {
    const n = ++loads.current;
    const query = new URLSearchParams({ status: 'scheduled', limit: '100' });
    if (conversationId) query.set('conversationId', conversationId);
    try {
      const page = await client.request(
        'GET',
        `/v1/scheduled-messages?${query}`,
        pageOf(scheduledMessageSchema),
      );
      if (n !== loads.current) return;
      setItems(page.items);
      setError(undefined);
    } catch (e) {
      if (n === loads.current) setError(describeError(e));
    } finally {
      if (n === loads.current) setLoaded(true);
    }
  }, [client, conversationId]);

  useEffect(() => {
    void version;
    void reload();
  }, [reload, version]);

  // A due one is sent by the worker as an outbound message: the list is read again then.
  useEffect(
    () =>
      subscribe((event) => {
        if (event.type !== 'message.created' || event.data.direction !== 'outbound') return;
        if (conversationId && event.data.conversationId !== conversationId) return;
        void reload();
      }),
    [subscribe, reload, conversationId],
  );

  const cancel = async (s: ScheduledMessage) => {
    try {
      await client.request('POST', `/v1/scheduled-messages/${s.id}/cancel`, scheduledMessageSchema);
      loads.current++;
      setItems((list) => list.filter((x) => x.id !== s.id));
      setError(undefined);
    } catch (e) {
      setError(describeError(e));
      void reload();
    }
  };

  if (props.hideWhenEmpty && items.length === 0 && !error) return null;
  const pending = [...items].sort((a, b) => a.sendAt.localeCompare(b.sendAt));
  return (
    <section className="scheduled" aria-label="Scheduled messages">
      {error && (
        <p role="alert" className="error">
          {error}
        </p>
      )}
      <ul aria-label="Pending scheduled messages">
        {loaded && pending.length === 0 && <li className="muted">No scheduled messages</li>}
        {pending.map((s) => {
          const text = summaryOf(s.content);
          const when = new Date(s.sendAt).toLocaleString();
          return (
            <li key={s.id} aria-label={`Scheduled for ${when}: ${text}`}>
              <span className="when">
                <time dateTime={s.sendAt}>{when}</time>
              </span>{' '}
              <span className="what">{text}</span>{' '}
              {props.onOpen && (
                <button type="button" className="link" onClick={() => props.onOpen?.(s.conversationId)}>
                  Open conversation
                </button>
              )}{' '}
              {canCancel && (
                <button
                  type="button"
                  className="link"
                  aria-label={`Cancel the message scheduled for ${when}`}
                  onClick={() => void cancel(s)}
                >
                  Cancel
                </button>
              )}
            </li>
          );
        })}
      </ul>
    </section>
  );
}

/**
 * The composer's scheduling row: a local date and time (the member's time zone shown) and the
 * button that schedules the composer's text for it. The API's refusal (a time in the past, more
 * than a year ahead) is shown as it words it.
 */
export function ScheduleControls(props: {
  conversationId: string;
  text: string;
  onScheduled: () => void;
  onClose: () => void;
}) {
  const { client } = useApp();
  const [when, setWhen] = useState('');
  const [error, setError] = useState<string | undefined>();
  const [busy, setBusy] = useState(false);
  const input = useRef<HTMLInputElement>(null);
  useEffect(() => input.current?.focus(), []);

  const schedule = async () => {
    const sendAt = instantOf(when);
    const text = props.text.trim();
    if (!sendAt) return setError('Choose a date and time');
    if (!text) return setError('Type the message to schedule');
    setBusy(true);
    try {
      await client.request('POST', '/v1/scheduled-messages', scheduledMessageSchema, {
        body: { conversationId: props.conversationId, content: { type: 'text', text }, sendAt },
      });
      setError(undefined);
      setWhen('');
      props.onScheduled();
    } catch (e) {
      setError(describeError(e));
    } finally {
      setBusy(false);
    }
  };

  return (
    <fieldset className="schedule" aria-label="Schedule the message">
      <label>
        Send at
        <input
          ref={input}
          type="datetime-local"
          value={when}
          onChange={(e) => setWhen(e.target.value)}
          onKeyDown={(e) => {
            // Enter here schedules; it must not reach the composer's form, which sends now.
            if (e.key === 'Enter') {
              e.preventDefault();
              void schedule();
            } else if (e.key === 'Escape') {
              e.stopPropagation();
              props.onClose();
            }
          }}
        />
      </label>
      <span className="muted">your time ({localTimeZone()})</span>
      <button type="button" disabled={busy || !when || !props.text.trim()} onClick={() => void schedule()}>
        Schedule message
      </button>
      <button type="button" className="link" onClick={props.onClose}>
        Close
      </button>
      {error && (
        <p role="alert" className="error">
          {error}
        </p>
      )}
    </fieldset>
  );
}
