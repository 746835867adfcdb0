import { useCallback, useEffect, useRef, useState } from 'react';
import { describeError } from '../api/client.ts';
import {
  type ApiKey,
  apiKeySchema,
  createdApiKeySchema,
  createdWebhookSchema,
  pageOf,
  type Webhook,
  webhookSchema,
} from '../api/schemas.ts';
import { useApp } from '../app-context.tsx';
import { timeOf } from '../format.ts';

/** Admin settings: webhook subscriptions and API keys (each secret shown once, at creation). */
export function SettingsPage() {
  return (
    <div className="page">
      <h1>Settings</h1>
      <Webhooks />
      <ApiKeys />
    </div>
  );
}

/** A secret the API shows once: visible until dismissed, with a copy button. */
function ShownOnce(props: { label: string; secret: string; onDone: () => void }) {
  const [copied, setCopied] = useState(false);
  return (
    <section className="secret" aria-label={props.label}>
      <p>
        <strong>{props.label}</strong>: copy it now, it is not shown again.
      </p>
      <code>{props.secret}</code>
      <button
        type="button"
        onClick={() =>
          navigator.clipboard
            ?.writeText(props.secret)
            .then(() => setCopied(true))
            .catch(() => setCopied(false))
        }
      >
        {copied ? 'Copied' : 'Copy'}
      </button>
      <button type="button" className="link" onClick={props.onDone}>
        Done
      </button>
    </section>
  );
}

const EVENTS = ['message.received', 'message.sent'] as const;

function Webhooks() {
  const { client } = useApp();
  const [items, setItems] = useState<Webhook[]>([]);
  const [url, setUrl] = useState('');
  const [events, setEvents] = useState<string[]>(['message.received']);
  const [secret, setSecret] = useState<string | undefined>();
  const [error, setError] = useState<string | undefined>();
  const load = useCallback(async () => {
    try {
      setItems((await client.request('GET', '/v1/webhooks?limit=100', pageOf(webhookSchema))).items);
    } catch (e) {
      setError(describeError(e));
    }
  }, [client]);
  useEffect(() => {
    void load();
  }, [load]);
  return (
    <section aria-labelledby="webhooks-title">
      <h2 id="webhooks-title">Webhooks</h2>
      {error && (
        <p role="alert" className="error">
          {error}
        </p>
      )}
      {secret && <ShownOnce label="Signing secret" secret={secret} onDone={() => setSecret(undefined)} />}
      <form
        className="inline-form"
        aria-label="Add a webhook"
        onSubmit={async (e) => {
          e.preventDefault();
          try {
            const created = await client.request('POST', '/v1/webhooks', createdWebhookSchema, {
              body: { url: url.trim(), events },
            });
            const { secret: shown, ...rest } = created;
            setSecret(shown);
            setItems((list) => [rest, ...list]);
            setUrl('');
            setError(undefined);
          } catch (err) {
            setError(describeError(err));
          }
        }}
      >
        <label>
          URL
          <input
            type="url"
            required
            value={url}
            placeholder="https://example.com/hooks"
            onChange={(e) => setUrl(e.target.value)}
          />
        </label>
        <fieldset>
          <legend>Events</legend>
          {EVENTS.map((ev) => (
            <label key={ev} className="check">
              <input
                type="checkbox"
                checked={events.includes(ev)}
                onChange={(e) =>
                  setEvents((list) => (e.target.checked ? [...list, ev] : list.filter((x) => x !== ev)))
                }
              />
              {ev}
            </label>
          ))}
        </fieldset>
        <button type="submit" disabled={events.length === 0}>
          Add webhook
        </button>
      </form>
      <ul className="rows" aria-label="Webhook subscriptions">
        {items.length === 0 && <li className="muted">No webhooks</li>}
        {items.map((w) => (
          <li key={w.id}>
            <span>
              <code>{w.url}</code> {w.events.join(', ')} {w.active ? '' : '(paused)'}
            </span>
            <button
              type="button"
              className="danger"
              onClick={async () => {
                try {
                  await client.send('DELETE', `/v1/webhooks/${w.id}`);
                  setItems((list) => list.filter((x) => x.id !== w.id));
                } catch (err) {
                  setError(describeError(err));
                }
              }}
            >
              Delete
            </button>
          </li>
        ))}
      </ul>
    </section>
  );
}

const SCOPES = ['read', 'send', 'manage'] as const;

function ApiKeys() {
  const { client } = useApp();
  const [items, setItems] = useState<ApiKey[]>([]);
  const [name, setName] = useState('');
  const [scopes, setScopes] = useState<string[]>(['read', 'send']);
  const [key, setKey] = useState<string | undefined>();
  const [error, setError] = useState<string | undefined>();
  // Only the newest load is applied: the page's first load, slow on a busy server, must not
  // replace the list after a key created since then.
  const loads = useRef(0);
  const load = useCallback(async () => {
    const n = ++loads.current;
    try {
      const page = await client.request('GET', '/v1/api-keys?limit=100', pageOf(apiKeySchema));
      if (n === loads.current) setItems(page.items);
    } catch (e) {
      setError(describeError(e));
    }
  }, [client]);
  useEffect(() => {
    void load();
  }, [load]);
  return (
    <section aria-labelledby="keys-title">
      <h2 id="keys-title">API keys</h2>
      {error && (
        <p role="alert" className="error">
          {error}
        </p>
      )}
      {key && <ShownOnce label="New API key" secret={key} onDone={() => setKey(undefined)} />}
      <form
        className="inline-form"
        aria-label="Create an API key"
        onSubmit={async (e) => {
          e.preventDefault();
          try {
            const created = await client.request('POST', '/v1/api-keys', createdApiKeySchema, {
              body: { name: name.trim(), scopes },
            });
            const { key: shown, ...rest } = created;
            setKey(shown);
            loads.current++;
            setItems((list) => [rest, ...list.filter((k) => k.id !== rest.id)]);
            setName('');
            setError(undefined);
          } catch (err) {
            setError(describeError(err));
          }
        }}
      >
        <label>
          Name
          <input required value={name} onChange={(e) => setName(e.target.value)} />
        </label>
        <fieldset>
          <legend>Scopes</legend>
          {SCOPES.map((s) => (
            <label key={s} className="check">
              <input
                type="checkbox"
                checked={scopes.includes(s)}
                onChange={(e) =>
                  setScopes((list) => (e.target.checked ? [...list, s] : list.filter((x) => x !== s)))
                }
              />
              {s}
            </label>
          ))}
        </fieldset>
        <button type="submit" disabled={scopes.length === 0}>
          Create key
        </button>
      </form>
      <ul className="rows" aria-label="API keys">
        {items.length === 0 && <li className="muted">No API keys</li>}
        {items.map((k) => (
          <li key={k.id}>
            <span>
              <strong>{k.name}</strong> <code>{k.prefix}…</code> {k.scopes.join(', ')} ·{' '}
              {k.revokedAt ? 'revoked' : k.lastUsedAt ? `last used ${timeOf(k.lastUsedAt)}` : 'never used'}
            </span>
            {!k.revokedAt && (
              <button
                type="button"
                className="danger"
                onClick={async () => {
                  try {
                    await client.send('DELETE', `/v1/api-keys/${k.id}`);
                    setItems((list) =>
                      list.map((x) => (x.id === k.id ? { ...x, revokedAt: new Date().toISOString() } : x)),
                    );
                  } catch (err) {
                    setError(describeError(err));
                  }
                }}
              >
                Revoke
              </button>
            )}
          </li>
        ))}
      </ul>
    </section>
  );
}
