import { useState } from 'react';
import { type QuickReply, quickReplySchema } from '../api/schemas.ts';
import { roleAtLeast, useApp } from '../app-context.tsx';
import { ErrorAlert } from '../components/form-parts.tsx';
import { useListResource } from '../list-resource.ts';

/** A quick reply's fields as the forms edit them. */
interface Draft {
  shortcut: string;
  title: string;
  body: string;
}
const EMPTY: Draft = { shortcut: '', title: '', body: '' };

/**
 * Quick replies: what the composer suggests after `/`. Every member sees them; admins (the
 * API's `manage` routes) create, edit and delete them.
 */
export function QuickRepliesPage() {
  const { client, me } = useApp();
  const replies = useListResource('/v1/quick-replies', quickReplySchema);
  const admin = roleAtLeast(me.role, 'admin');
  const [draft, setDraft] = useState<Draft>(EMPTY);
  const [editing, setEditing] = useState<string | undefined>();
  const sorted = [...replies.items].sort((a, b) => a.shortcut.localeCompare(b.shortcut));

  return (
    <div className="page">
      <h1>Quick replies</h1>
      <p className="muted">Type / and the shortcut in the composer to use one.</p>
      <ErrorAlert error={replies.error} />
      {admin && (
        <ReplyForm
          label="New quick reply"
          submit="Add quick reply"
          value={draft}
          onChange={setDraft}
          onSubmit={() =>
            replies.act(async () => {
              const created = await client.request('POST', '/v1/quick-replies', quickReplySchema, {
                body: draft,
              });
              replies.update((list) => [created, ...list.filter((q) => q.id !== created.id)]);
              setDraft(EMPTY);
            })
          }
        />
      )}
      <ul className="cards" aria-label="Quick replies">
        {sorted.length === 0 && <li className="muted">No quick replies yet</li>}
        {sorted.map((q) =>
          editing === q.id ? (
            <li key={q.id} className="card">
              <EditReply
                reply={q}
                onCancel={() => setEditing(undefined)}
                onSave={(change) =>
                  replies.act(async () => {
                    const saved = await client.request(
                      'PATCH',
                      `/v1/quick-replies/${q.id}`,
                      quickReplySchema,
                      {
                        body: change,
                      },
                    );
                    replies.update((list) => list.map((x) => (x.id === saved.id ? saved : x)));
                    setEditing(undefined);
                  })
                }
              />
            </li>
          ) : (
            <li key={q.id} className="card" aria-label={`Quick reply /${q.shortcut}`}>
              <header>
                <h2>/{q.shortcut}</h2>
                <span className="muted">{q.title}</span>
              </header>
              <p className="quick-reply-body">{q.body}</p>
              {admin && (
                <div className="actions">
                  <button type="button" onClick={() => setEditing(q.id)} aria-label={`Edit /${q.shortcut}`}>
                    Edit
                  </button>
                  <button
                    type="button"
                    className="danger"
                    aria-label={`Delete /${q.shortcut}`}
                    onClick={() =>
                      void replies.act(async () => {
                        await client.send('DELETE', `/v1/quick-replies/${q.id}`);
                        replies.update((list) => list.filter((x) => x.id !== q.id));
                      })
                    }
                  >
                    Delete
                  </button>
                </div>
              )}
            </li>
          ),
        )}
      </ul>
    </div>
  );
}

/** One quick reply's edit form: only the changed fields are sent. */
function EditReply(props: {
  reply: QuickReply;
  onCancel: () => void;
  onSave: (change: Partial<Draft>) => void;
}) {
  const q = props.reply;
  const [value, setValue] = useState<Draft>({ shortcut: q.shortcut, title: q.title, body: q.body });
  return (
    <ReplyForm
      label={`Edit /${q.shortcut}`}
      submit="Save"
      value={value}
      onChange={setValue}
      onCancel={props.onCancel}
      onSubmit={() => {
        const change: Partial<Draft> = {};
        if (value.shortcut !== q.shortcut) change.shortcut = value.shortcut;
        if (value.title !== q.title) change.title = value.title;
        if (value.body !== q.body) change.body = value.body;
        props.onSave(change);
      }}
    />
  );
}

/** The fields of a quick reply: shortcut, title and text, all required (the API checks their shape). */
function ReplyForm(props: {
  label: string;
  submit: string;
  value: Draft;
  onChange: (value: Draft) => void;
  onSubmit: () => void;
  onCancel?: () => void;
}) {
  const v = props.value;
  return (
    <form
      className="stacked-form"
      aria-label={props.label}
      onSubmit={(e) => {
        e.preventDefault();
        props.onSubmit();
      }}
      onKeyDown={(e) => {
        if (e.key === 'Escape' && props.onCancel) {
          e.stopPropagation();
          props.onCancel();
        }
      }}
    >
      <label>
        Shortcut
        <input
          value={v.shortcut}
          required
          maxLength={32}
          placeholder="thanks"
          onChange={(e) => props.onChange({ ...v, shortcut: e.target.value })}
        />
      </label>
      <label>
        Title
        <input
          value={v.title}
          required
          maxLength={100}
          placeholder="Thank the customer"
          onChange={(e) => props.onChange({ ...v, title: e.target.value })}
        />
      </label>
      <label>
        Text
        <textarea
          value={v.body}
          required
          maxLength={4096}
          rows={3}
          onChange={(e) => props.onChange({ ...v, body: e.target.value })}
        />
      </label>
      <div className="actions">
        <button type="submit">{props.submit}</button>
        {props.onCancel && (
          <button type="button" className="link" onClick={props.onCancel}>
            Cancel
          </button>
        )}
      </div>
    </form>
  );
}
