import { useState } from 'react';
import { describeError } from '../api/client.ts';
import { roleAtLeast, useApp } from '../app-context.tsx';
import { ErrorAlert } from '../components/form-parts.tsx';
import { type Label, labelSchema, useLabels } from '../components/labels.tsx';

/**
 * Labels (settings): every member sees the tenant's labels and how many conversations and
 * contacts carry each; admins create them, change their name and colour, and delete them.
 */
export function LabelsPage() {
  const { client, me } = useApp();
  const { labels, palette, error, setError, reload } = useLabels();
  const admin = roleAtLeast(me.role, 'admin');
  const [editing, setEditing] = useState<string | undefined>();
  const act = async (action: () => Promise<void>) => {
    try {
      await action();
      setError(undefined);
      await reload();
    } catch (e) {
      setError(describeError(e));
    }
  };

  return (
    <div className="page">
      <h1>Labels</h1>
      <p className="muted">Tag conversations and contacts; filter the inbox and target campaigns by label.</p>
      <ErrorAlert error={error} />
      {admin && (
        <LabelForm
          key={palette.join()}
          title="New label"
          submit="Add label"
          palette={palette}
          initial={{ name: '', color: palette[0] ?? '#6b7280' }}
          onSubmit={(value) =>
            act(async () => {
              await client.request('POST', '/v1/labels', labelSchema, { body: value });
            })
          }
        />
      )}
      <ul className="cards" aria-label="Labels">
        {labels.length === 0 && <li className="muted">No labels yet</li>}
        {labels.map((l) =>
          editing === l.id ? (
            <li key={l.id} className="card">
              <LabelForm
                title={`Edit ${l.name}`}
                submit="Save"
                palette={palette}
                initial={{ name: l.name, color: l.color }}
                onCancel={() => setEditing(undefined)}
                onSubmit={(value) =>
                  act(async () => {
                    await client.request('PATCH', `/v1/labels/${l.id}`, labelSchema, { body: value });
                    setEditing(undefined);
                  })
                }
              />
            </li>
          ) : (
            <LabelCard
              key={l.id}
              label={l}
              admin={admin}
              onEdit={() => setEditing(l.id)}
              onDelete={() => void act(() => client.send('DELETE', `/v1/labels/${l.id}`))}
            />
          ),
        )}
      </ul>
    </div>
  );
}

function LabelCard(props: { label: Label; admin: boolean; onEdit: () => void; onDelete: () => void }) {
  const l = props.label;
  return (
    <li className="card" aria-label={`Label ${l.name}`}>
      <header>
        <h2>
          <span className="swatch" style={{ background: l.color }} aria-hidden="true" /> {l.name}
        </h2>
        <span className="muted">
          {l.conversationCount} conversations · {l.contactCount} contacts
        </span>
      </header>
      {props.admin && (
        <div className="actions">
          <button type="button" aria-label={`Edit ${l.name}`} onClick={props.onEdit}>
            Edit
          </button>
          <button type="button" className="danger" aria-label={`Delete ${l.name}`} onClick={props.onDelete}>
            Delete
          </button>
        </div>
      )}
    </li>
  );
}

/** A label's name and colour: one of the palette's or any other (a colour input). */
function LabelForm(props: {
  title: string;
  submit: string;
  palette: string[];
  initial: { name: string; color: string };
  onSubmit: (value: { name: string; color: string }) => Promise<void>;
  onCancel?: () => void;
}) {
  const [value, setValue] = useState(props.initial);
  return (
    <form
      className="stacked-form"
      aria-label={props.title}
      onSubmit={(e) => {
        e.preventDefault();
        void props.onSubmit(value).then(() => {
          if (!props.onCancel) setValue({ name: '', color: value.color });
        });
      }}
    >
      <label>
        Name
        <input
          value={value.name}
          required
          maxLength={50}
          onChange={(e) => setValue({ ...value, name: e.target.value })}
        />
      </label>
      <fieldset>
        <legend>Colour</legend>
        <div className="palette">
          {props.palette.map((c) => (
            <button
              key={c}
              type="button"
              aria-label={`Colour ${c}`}
              aria-pressed={value.color === c}
              style={{ background: c }}
              onClick={() => setValue({ ...value, color: c })}
            />
          ))}
          <input
            type="color"
            aria-label="Custom colour"
            value={value.color}
            onChange={(e) => setValue({ ...value, color: e.target.value })}
          />
        </div>
      </fieldset>
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
