import { useState } from 'react';
import { apiKeySchema, createdApiKeySchema, createdWebhookSchema, webhookSchema } from '../api/schemas.ts';
import { useApp } from '../app-context.tsx';
import { BusinessHoursSettings } from '../components/business-hours.tsx';
import { CheckboxGroup, ErrorAlert } from '../components/form-parts.tsx';
import { ReadReceiptSettings } from '../components/read-receipts.tsx';
import { timeOf } from '../format.ts';
import { useListResource } from '../list-resource.ts';

/** Admin settings: business hours and the away message, read receipts, webhook subscriptions and API keys (each secret shown once, at creation). */
export function SettingsPage() {
  return (
    <div className="page">
      <h1>Settings</h1>
      <BusinessHoursSettings />
      <ReadReceiptSettings />
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

const EVENTS = [
  'message.received',
  'message.sent',
  'message.status',
  'session.state_changed',
  'conversation.assigned',
  'conversation.resolved',
  'conversation.reopened',
  'call.received',
] as const;

function Webhooks() {
  const { client } = useApp();
  const webhooks = useListResource('/v1/webhooks', webhookSchema);
  const [url, setUrl] = useState('');
  const [events, setEvents] = useState<string[]>(['message.received']);
  const [secret, setSecret] = useState<string | undefined>();
  return (
    <section aria-labelledby="webhooks-title">
      <h2 id="webhooks-title">Webhooks</h2>
      <ErrorAlert error={webhooks.error} />
      {secret && <ShownOnce label="Signing secret" secret={secret} onDone={() => setSecret(undefined)} />}
      <form
        className="inline-form"
        aria-label="Add a webhook"
        onSubmit={(e) => {
          e.preventDefault();
          void webhooks.act(async () => {
            const created = await client.request('POST', '/v1/webhooks', createdWebhookSchema, {
              body: { url: url.trim(), events },
            });
            const { secret: shown, ...rest } = created;
            setSecret(shown);
            webhooks.update((list) => [rest, ...list.filter((w) => w.id !== rest.id)]);
            setUrl('');
          });
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
        <CheckboxGroup legend="Events" options={EVENTS} value={events} onChange={setEvents} />
        <button type="submit" disabled={events.length === 0}>
          Add webhook
        </button>
      </form>
      <ul className="rows" aria-label="Webhook subscriptions">
        {webhooks.items.length === 0 && <li className="muted">No webhooks</li>}
        {webhooks.items.map((w) => (
          <li key={w.id}>
            <span>
              <code>{w.url}</code> {w.events.join(', ')} {w.active ? '' : '(paused)'}
            </span>
            <button
              type="button"
              className="danger"
              onClick={() =>
                void webhooks.act(async () => {
                  await client.send('DELETE', `/v1/webhooks/${w.id}`);
                  webhooks.update((list) => list.filter((x) => x.id !== w.id));
                })
              }
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
  const keys = useListResource('/v1/api-keys', apiKeySchema);
  const [name, setName] = useState('');
  const [scopes, setScopes] = useState<string[]>(['read', 'send']);
  const [key, setKey] = useState<string | undefined>();
  return (
    <section aria-labelledby="keys-title">
      <h2 id="keys-title">API keys</h2>
      <ErrorAlert error={keys.error} />
      {key && <ShownOnce label="New API key" secret={key} onDone={() => setKey(undefined)} />}
      <form
        className="inline-form"
        aria-label="Create an API key"
        onSubmit={(e) => {
          e.preventDefault();
          void keys.act(async () => {
            const created = await client.request('POST', '/v1/api-keys', createdApiKeySchema, {
              body: { name: name.trim(), scopes },
            });
            const { key: shown, ...rest } = created;
            setKey(shown);
            keys.update((list) => [rest, ...list.filter((k) => k.id !== rest.id)]);
            setName('');
          });
        }}
      >
        <label>
          Name
          <input required value={name} onChange={(e) => setName(e.target.value)} />
        </label>
        <CheckboxGroup legend="Scopes" options={SCOPES} value={scopes} onChange={setScopes} />
        <button type="submit" disabled={scopes.length === 0}>
          Create key
        </button>
      </form>
      <ul className="rows" aria-label="API keys">
        {keys.items.length === 0 && <li className="muted">No API keys</li>}
        {keys.items.map((k) => (
          <li key={k.id}>
            <span>
              <strong>{k.name}</strong> <code>{k.prefix}…</code> {k.scopes.join(', ')} ·{' '}
              {k.revokedAt ? 'revoked' : k.lastUsedAt ? `last used ${timeOf(k.lastUsedAt)}` : 'never used'}
            </span>
            {!k.revokedAt && (
              <button
                type="button"
                className="danger"
                onClick={() =>
                  void keys.act(async () => {
                    await client.send('DELETE', `/v1/api-keys/${k.id}`);
                    keys.update((list) =>
                      list.map((x) => (x.id === k.id ? { ...x, revokedAt: new Date().toISOString() } : x)),
                    );
                  })
                }
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
