// Labels in the inbox (issue #20.4): the tenant's labels (useLabels), chips on a conversation row
// and in the thread header, the list's label filter, and the bar that applies or removes a label
// on the selected conversations in one request.
import { useCallback, useEffect, useState } from 'react';
import { z } from 'zod';
import { describeError } from '../api/client.ts';
import { type Conversation, conversationSchema } from '../api/schemas.ts';
import { roleAtLeast, useApp } from '../app-context.tsx';
import '../styles/labels.css';

/** A label as GET /v1/labels lists it. */
export const labelSchema = z.object({
  id: z.string(),
  name: z.string(),
  color: z.string(),
  conversationCount: z.number().int(),
  contactCount: z.number().int(),
});
export type Label = z.infer<typeof labelSchema>;

/** A label on a conversation (the list's and the thread's chips). */
export const appliedLabelSchema = z.object({ id: z.string(), name: z.string(), color: z.string() });
export type AppliedLabel = z.infer<typeof appliedLabelSchema>;

/** What a bulk apply or remove answers. */
const bulkResultSchema = z.object({ changed: z.array(z.string()), unchanged: z.array(z.string()) });

const appliedListSchema = z.object({ items: z.array(appliedLabelSchema) });

export const labelListSchema = z.object({ items: z.array(labelSchema), palette: z.array(z.string()) });

/** The labels a conversation carries (older APIs send none). */
export function labelsOf(c: Conversation): AppliedLabel[] {
  return c.labels ?? [];
}

/** The tenant's labels and palette, loaded on mount; `reload` after a change. */
export function useLabels() {
  const { client } = useApp();
  const [labels, setLabels] = useState<Label[]>([]);
  const [palette, setPalette] = useState<string[]>([]);
  const [error, setError] = useState<string | undefined>();
  const reload = useCallback(async () => {
    try {
      const list = await client.request('GET', '/v1/labels', labelListSchema);
      setLabels(list.items);
      setPalette(list.palette);
      setError(undefined);
    } catch (e) {
      setError(describeError(e));
    }
  }, [client]);
  useEffect(() => {
    void reload();
  }, [reload]);
  return { labels, palette, error, setError, reload };
}

/** Black or white text, whichever reads better on `color` ('#rrggbb'). */
function textOn(color: string): string {
  const n = Number.parseInt(color.slice(1), 16);
  const luminance = (0.299 * ((n >> 16) & 255) + 0.587 * ((n >> 8) & 255) + 0.114 * (n & 255)) / 255;
  return luminance > 0.6 ? '#111' : '#fff';
}

/** One label as a coloured chip; with `onRemove`, a × button takes it off. */
export function LabelChip(props: { label: AppliedLabel; onRemove?: () => void; disabled?: boolean }) {
  const { label } = props;
  return (
    <span className="label-chip" style={{ background: label.color, color: textOn(label.color) }}>
      {label.name}
      {props.onRemove && (
        <button
          type="button"
          aria-label={`Remove label ${label.name}`}
          disabled={props.disabled}
          onClick={(e) => {
            e.preventDefault();
            e.stopPropagation();
            props.onRemove?.();
          }}
        >
          ×
        </button>
      )}
    </span>
  );
}

/** The chips of a conversation row (nothing when it has no labels). */
export function LabelChips(props: { labels: AppliedLabel[] }) {
  if (props.labels.length === 0) return null;
  return (
    <span className="label-chips" title={`Labels: ${props.labels.map((l) => l.name).join(', ')}`}>
      {props.labels.map((l) => (
        <LabelChip key={l.id} label={l} />
      ))}
    </span>
  );
}

/** The list's label filter: every label, or one. */
export function LabelFilter(props: { labels: Label[]; value: string; onChange: (labelId: string) => void }) {
  if (props.labels.length === 0 && !props.value) return null;
  return (
    <select aria-label="Label filter" value={props.value} onChange={(e) => props.onChange(e.target.value)}>
      <option value="">All labels</option>
      {props.labels.map((l) => (
        <option key={l.id} value={l.id}>
          {l.name}
        </option>
      ))}
    </select>
  );
}

/**
 * The bar over a multi-selection of conversations: pick a label, apply it to (or remove it from)
 * all of them in one request (POST /v1/labels/:id/apply|remove), then `onDone` reloads the list.
 */
export function BulkLabelBar(props: {
  labels: Label[];
  selected: string[];
  onDone: () => void;
  onCancel: () => void;
}) {
  const { client } = useApp();
  const [labelId, setLabelId] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | undefined>();
  const run = async (action: 'apply' | 'remove') => {
    if (!labelId || props.selected.length === 0) return;
    setBusy(true);
    try {
      await client.request('POST', `/v1/labels/${labelId}/${action}`, bulkResultSchema, {
        body: { conversationIds: props.selected },
      });
      setError(undefined);
      props.onDone();
    } catch (e) {
      setError(describeError(e));
    } finally {
      setBusy(false);
    }
  };
  return (
    <div className="bulk-labels" role="toolbar" aria-label="Bulk labels">
      <span>{props.selected.length} selected</span>
      <select aria-label="Label to apply" value={labelId} onChange={(e) => setLabelId(e.target.value)}>
        <option value="">Choose a label</option>
        {props.labels.map((l) => (
          <option key={l.id} value={l.id}>
            {l.name}
          </option>
        ))}
      </select>
      <button
        type="button"
        disabled={busy || !labelId || props.selected.length === 0}
        onClick={() => void run('apply')}
      >
        Apply label
      </button>
      <button
        type="button"
        disabled={busy || !labelId || props.selected.length === 0}
        onClick={() => void run('remove')}
      >
        Remove label
      </button>
      <button type="button" className="link" onClick={props.onCancel}>
        Done
      </button>
      {error && (
        <p role="alert" className="error">
          {error}
        </p>
      )}
    </div>
  );
}

/**
 * The labels on one conversation or contact: chips (× removes, for agents) and a picker that
 * applies one more (PUT / DELETE `/v1/<target>s/:id/labels/:labelId`); `onChanged` runs after each
 * change with the labels now on it.
 */
function LabelEditor(props: {
  target: 'conversation' | 'contact';
  id: string;
  on: AppliedLabel[];
  ariaLabel: string;
  onChanged: (on: AppliedLabel[]) => Promise<void> | void;
}) {
  const { client, me } = useApp();
  const { labels } = useLabels();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | undefined>();
  const canWork = roleAtLeast(me.role, 'agent');
  const change = async (method: 'PUT' | 'DELETE', labelId: string) => {
    setBusy(true);
    try {
      const now = await client.request(
        method,
        `/v1/${props.target}s/${props.id}/labels/${labelId}`,
        appliedListSchema,
      );
      await props.onChanged(now.items);
      setError(undefined);
    } catch (e) {
      setError(describeError(e));
    } finally {
      setBusy(false);
    }
  };
  const available = labels.filter((l) => !props.on.some((x) => x.id === l.id));
  return (
    <section className="thread-labels" aria-label={props.ariaLabel}>
      {props.on.map((l) => (
        <LabelChip
          key={l.id}
          label={l}
          disabled={busy}
          {...(canWork ? { onRemove: () => void change('DELETE', l.id) } : {})}
        />
      ))}
      {canWork && available.length > 0 && (
        <select
          aria-label="Add label"
          value=""
          disabled={busy}
          onChange={(e) => e.target.value && void change('PUT', e.target.value)}
        >
          <option value="">+ Label</option>
          {available.map((l) => (
            <option key={l.id} value={l.id}>
              {l.name}
            </option>
          ))}
        </select>
      )}
      {error && (
        <span role="alert" className="error">
          {error}
        </span>
      )}
    </section>
  );
}

/** The thread header's labels; the conversation is read again after a change (its row shows them too). */
export function ThreadLabels(props: { conversation: Conversation; onChanged: (c: Conversation) => void }) {
  const { client } = useApp();
  const c = props.conversation;
  return (
    <LabelEditor
      target="conversation"
      id={c.id}
      on={labelsOf(c)}
      ariaLabel="Conversation labels"
      onChanged={async () =>
        props.onChanged(await client.request('GET', `/v1/conversations/${c.id}`, conversationSchema))
      }
    />
  );
}

/** The contact panel's labels (GET `/v1/contacts/:id/labels`): the ones campaigns' label segments pick. */
export function ContactLabels(props: { contactId: string }) {
  const { client } = useApp();
  const [on, setOn] = useState<AppliedLabel[] | undefined>();
  const [error, setError] = useState<string | undefined>();
  useEffect(() => {
    let cancelled = false;
    client
      .request('GET', `/v1/contacts/${props.contactId}/labels`, appliedListSchema)
      .then((list) => !cancelled && setOn(list.items))
      .catch((e) => !cancelled && setError(describeError(e)));
    return () => {
      cancelled = true;
    };
  }, [client, props.contactId]);
  if (error)
    return (
      <p role="alert" className="error">
        {error}
      </p>
    );
  if (!on) return null;
  return (
    <LabelEditor target="contact" id={props.contactId} on={on} ariaLabel="Contact labels" onChanged={setOn} />
  );
}
