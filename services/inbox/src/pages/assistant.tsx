import { useCallback, useEffect, useState } from 'react';
import { z } from 'zod';
import { describeError } from '../api/client.ts';
import { sessionSchema } from '../api/schemas.ts';
import { roleAtLeast, useApp } from '../app-context.tsx';
import { ErrorAlert } from '../components/form-parts.tsx';
import { timeOf } from '../format.ts';

/*
 * The AI assistant (`/v1/assistant`, `/v1/sessions/:id/assistant`): the tenant's provider, limits
 * and guardrails, the kill switch, each session's on/off, prompt and knowledge, the budget left
 * and the usage log. Admins change it; other members see it.
 */

const limitsSchema = z.object({
  baseUrl: z.string(),
  model: z.string(),
  apiKeyRef: z.string().nullable(),
  dailyMessageLimit: z.number().nullable(),
  dailyTokenLimit: z.number().nullable(),
  monthlyMessageLimit: z.number().nullable(),
  monthlyTokenLimit: z.number().nullable(),
  maxReplyTokens: z.number(),
  burstMaxReplies: z.number(),
  burstWindowSeconds: z.number(),
  timeoutSeconds: z.number(),
  blockedTopics: z.array(z.string()),
  blockedTopicReply: z.string(),
  handoffKeywords: z.array(z.string()),
  handoffMessage: z.string(),
  allowContactDetails: z.boolean(),
});
type TenantSettings = z.infer<typeof limitsSchema>;
const tenantViewSchema = z.object({ settings: limitsSchema.nullable(), paused: z.boolean() });
const sessionSettingsSchema = z.object({
  enabled: z.boolean(),
  systemPrompt: z.string().nullable(),
  knowledge: z.string().nullable(),
  historyMaxMessages: z.number(),
  historyMaxTokens: z.number(),
  answerMode: z.enum(['always', 'outside_business_hours', 'until_agent']),
});
type SessionSettings = z.infer<typeof sessionSettingsSchema>;
const budgetLine = z.object({
  used: z.number(),
  limit: z.number().nullable(),
  remaining: z.number().nullable(),
});
const budgetSchema = z.object({
  day: z.object({ date: z.string(), messages: budgetLine, tokens: budgetLine }),
  month: z.object({ month: z.string(), messages: budgetLine, tokens: budgetLine }),
});
const usageSchema = z.object({
  items: z.array(
    z.object({
      id: z.string(),
      outcome: z.string(),
      reason: z.string().nullable(),
      model: z.string(),
      tokensIn: z.number(),
      tokensOut: z.number(),
      latencyMs: z.number(),
      costMicros: z.number().nullable(),
      createdAt: z.string(),
    }),
  ),
  nextCursor: z.string().nullable(),
});

const DEFAULTS: TenantSettings = {
  baseUrl: 'https://api.openai.com/v1',
  model: 'gpt-4o-mini',
  apiKeyRef: null,
  dailyMessageLimit: 500,
  dailyTokenLimit: 500_000,
  monthlyMessageLimit: 10_000,
  monthlyTokenLimit: 10_000_000,
  maxReplyTokens: 500,
  burstMaxReplies: 5,
  burstWindowSeconds: 600,
  timeoutSeconds: 30,
  blockedTopics: [],
  blockedTopicReply: 'Sorry, I cannot help with that topic.',
  handoffKeywords: [],
  handoffMessage: 'I am passing you to a member of our team, who will answer here shortly.',
  allowContactDetails: false,
};

/** The assistant's page. */
export function AssistantPage() {
  const { client, me } = useApp();
  const admin = roleAtLeast(me.role, 'admin');
  const [view, setView] = useState<z.infer<typeof tenantViewSchema> | undefined>();
  const [error, setError] = useState<string | undefined>();
  const [refresh, setRefresh] = useState(0);

  useEffect(() => {
    let cancelled = false;
    client
      .request('GET', '/v1/assistant', tenantViewSchema)
      .then((v) => !cancelled && setView(v))
      .catch((e: unknown) => !cancelled && setError(describeError(e)));
    return () => {
      cancelled = true;
    };
  }, [client]);

  return (
    <div className="page">
      <h1>AI assistant</h1>
      <ErrorAlert error={error} />
      {view && (
        <section aria-label="Kill switch">
          <p>
            {view.paused
              ? 'The assistant is paused: it answers nobody.'
              : 'The assistant answers where a session has it on.'}
          </p>
          {admin && (
            <button
              type="button"
              onClick={async () => {
                try {
                  const next = await client.request(
                    'PUT',
                    '/v1/assistant/kill-switch',
                    z.object({ paused: z.boolean() }),
                    { body: { paused: !view.paused } },
                  );
                  setView({ ...view, paused: next.paused });
                  setError(undefined);
                } catch (e) {
                  setError(describeError(e));
                }
              }}
            >
              {view.paused ? 'Resume the assistant' : 'Pause the assistant'}
            </button>
          )}
        </section>
      )}
      {view && (
        <ProviderForm
          initial={view.settings ?? DEFAULTS}
          admin={admin}
          onSaved={(settings) => {
            setView({ ...view, settings });
            setRefresh((n) => n + 1);
          }}
        />
      )}
      <SessionAssistant admin={admin} />
      <BudgetAndUsage refresh={refresh} />
    </div>
  );
}

const optionalNumber = (text: string): number | null => (text.trim() === '' ? null : Number(text));
const list = (text: string): string[] =>
  text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);

function ProviderForm(props: {
  initial: TenantSettings;
  admin: boolean;
  onSaved: (settings: TenantSettings) => void;
}) {
  const { client } = useApp();
  const [s, setS] = useState(props.initial);
  const [topics, setTopics] = useState(props.initial.blockedTopics.join(', '));
  const [keywords, setKeywords] = useState(props.initial.handoffKeywords.join(', '));
  const [error, setError] = useState<string | undefined>();
  const [saved, setSaved] = useState(false);
  const set = (patch: Partial<TenantSettings>) => {
    setS({ ...s, ...patch });
    setSaved(false);
  };
  const limit = (
    label: string,
    key: 'dailyMessageLimit' | 'dailyTokenLimit' | 'monthlyMessageLimit' | 'monthlyTokenLimit',
  ) => (
    <label>
      {label}
      <input
        type="number"
        min={1}
        value={s[key] ?? ''}
        placeholder="no limit"
        onChange={(e) => set({ [key]: optionalNumber(e.target.value) })}
      />
    </label>
  );
  return (
    <form
      aria-label="Provider"
      onSubmit={async (e) => {
        e.preventDefault();
        try {
          const body = { ...s, blockedTopics: list(topics), handoffKeywords: list(keywords) };
          const view = await client.request('PUT', '/v1/assistant', tenantViewSchema, { body });
          if (view.settings) props.onSaved(view.settings);
          setError(undefined);
          setSaved(true);
        } catch (err) {
          setError(describeError(err));
        }
      }}
    >
      <fieldset disabled={!props.admin}>
        <legend>Provider, limits and guardrails</legend>
        <label>
          API base URL (OpenAI-compatible)
          <input type="url" required value={s.baseUrl} onChange={(e) => set({ baseUrl: e.target.value })} />
        </label>
        <label>
          Model
          <input required value={s.model} onChange={(e) => set({ model: e.target.value })} />
        </label>
        <label>
          API key reference
          <input
            value={s.apiKeyRef ?? ''}
            placeholder="secret://vault/assistant#openai"
            onChange={(e) => set({ apiKeyRef: e.target.value.trim() ? e.target.value.trim() : null })}
          />
        </label>
        {limit('Replies per day', 'dailyMessageLimit')}
        {limit('Tokens per day', 'dailyTokenLimit')}
        {limit('Replies per month', 'monthlyMessageLimit')}
        {limit('Tokens per month', 'monthlyTokenLimit')}
        <label>
          Most replies per conversation in the burst window
          <input
            type="number"
            min={1}
            value={s.burstMaxReplies}
            onChange={(e) => set({ burstMaxReplies: Number(e.target.value) })}
          />
        </label>
        <label>
          Burst window (seconds)
          <input
            type="number"
            min={10}
            value={s.burstWindowSeconds}
            onChange={(e) => set({ burstWindowSeconds: Number(e.target.value) })}
          />
        </label>
        <label>
          Blocked topics (comma-separated)
          <input
            value={topics}
            onChange={(e) => {
              setTopics(e.target.value);
              setSaved(false);
            }}
          />
        </label>
        <label>
          Answer to a blocked topic
          <input value={s.blockedTopicReply} onChange={(e) => set({ blockedTopicReply: e.target.value })} />
        </label>
        <label>
          Words asking for a person (comma-separated; empty: a default list)
          <input
            value={keywords}
            onChange={(e) => {
              setKeywords(e.target.value);
              setSaved(false);
            }}
          />
        </label>
        <label>
          Hand-off message
          <input value={s.handoffMessage} onChange={(e) => set({ handoffMessage: e.target.value })} />
        </label>
        <label className="check">
          <input
            type="checkbox"
            checked={s.allowContactDetails}
            onChange={(e) => set({ allowContactDetails: e.target.checked })}
          />
          Send phone numbers and e-mail addresses to the provider
        </label>
        {props.admin && <button type="submit">Save provider</button>}
        {saved && <output>Saved</output>}
      </fieldset>
      <ErrorAlert error={error} />
    </form>
  );
}

function SessionAssistant(props: { admin: boolean }) {
  const { client } = useApp();
  const [sessions, setSessions] = useState<{ id: string; name: string }[]>([]);
  const [sessionId, setSessionId] = useState<string | undefined>();
  const [s, setS] = useState<SessionSettings | undefined>();
  const [error, setError] = useState<string | undefined>();
  const [saved, setSaved] = useState(false);

  useEffect(() => {
    let cancelled = false;
    client
      .request('GET', '/v1/sessions', z.object({ items: z.array(sessionSchema) }))
      .then((page) => {
        if (cancelled) return;
        setSessions(page.items);
        setSessionId((current) => current ?? page.items[0]?.id);
      })
      .catch((e: unknown) => !cancelled && setError(describeError(e)));
    return () => {
      cancelled = true;
    };
  }, [client]);

  useEffect(() => {
    if (!sessionId) return;
    let cancelled = false;
    setS(undefined);
    client
      .request('GET', `/v1/sessions/${sessionId}/assistant`, sessionSettingsSchema)
      .then((settings) => !cancelled && setS(settings))
      .catch((e: unknown) => !cancelled && setError(describeError(e)));
    return () => {
      cancelled = true;
    };
  }, [client, sessionId]);

  const set = (patch: Partial<SessionSettings>) => {
    if (s) setS({ ...s, ...patch });
    setSaved(false);
  };
  return (
    <form
      aria-label="Session assistant"
      onSubmit={async (e) => {
        e.preventDefault();
        if (!s || !sessionId) return;
        try {
          const body = {
            ...s,
            systemPrompt: s.systemPrompt?.trim() ? s.systemPrompt : null,
            knowledge: s.knowledge?.trim() ? s.knowledge : null,
          };
          setS(
            await client.request('PUT', `/v1/sessions/${sessionId}/assistant`, sessionSettingsSchema, {
              body,
            }),
          );
          setError(undefined);
          setSaved(true);
        } catch (err) {
          setError(describeError(err));
        }
      }}
    >
      <fieldset disabled={!props.admin || !s}>
        <legend>Per session</legend>
        <label>
          Session
          <select value={sessionId ?? ''} onChange={(e) => setSessionId(e.target.value)}>
            {sessions.map((session) => (
              <option key={session.id} value={session.id}>
                {session.name}
              </option>
            ))}
          </select>
        </label>
        <label className="check">
          <input
            type="checkbox"
            checked={s?.enabled ?? false}
            onChange={(e) => set({ enabled: e.target.checked })}
          />
          Answer this session's customers
        </label>
        <label>
          When it answers
          <select
            value={s?.answerMode ?? 'always'}
            onChange={(e) => set({ answerMode: e.target.value as SessionSettings['answerMode'] })}
          >
            <option value="always">Always</option>
            <option value="outside_business_hours">Outside business hours</option>
            <option value="until_agent">Until an agent takes over</option>
          </select>
        </label>
        <label>
          Instructions (system prompt)
          <textarea
            rows={3}
            value={s?.systemPrompt ?? ''}
            onChange={(e) => set({ systemPrompt: e.target.value })}
          />
        </label>
        <label>
          Knowledge
          <textarea
            rows={5}
            value={s?.knowledge ?? ''}
            onChange={(e) => set({ knowledge: e.target.value })}
          />
        </label>
        <label>
          History: most messages
          <input
            type="number"
            min={1}
            max={100}
            value={s?.historyMaxMessages ?? 20}
            onChange={(e) => set({ historyMaxMessages: Number(e.target.value) })}
          />
        </label>
        <label>
          History: most tokens
          <input
            type="number"
            min={100}
            value={s?.historyMaxTokens ?? 4000}
            onChange={(e) => set({ historyMaxTokens: Number(e.target.value) })}
          />
        </label>
        {props.admin && <button type="submit">Save session assistant</button>}
        {saved && <output>Saved</output>}
      </fieldset>
      <ErrorAlert error={error} />
    </form>
  );
}

function BudgetAndUsage(props: { refresh: number }) {
  const { client } = useApp();
  const [budget, setBudget] = useState<z.infer<typeof budgetSchema> | undefined>();
  const [usage, setUsage] = useState<z.infer<typeof usageSchema>['items']>([]);
  const [error, setError] = useState<string | undefined>();
  const [tick, setTick] = useState(0);

  const load = useCallback(async () => {
    const [b, u] = await Promise.all([
      client.request('GET', '/v1/assistant/budget', budgetSchema),
      client.request('GET', '/v1/assistant/usage?limit=50', usageSchema),
    ]);
    setBudget(b);
    setUsage(u.items);
  }, [client]);

  useEffect(() => {
    void props.refresh;
    void tick;
    load().catch((e: unknown) => setError(describeError(e)));
  }, [load, props.refresh, tick]);

  const line = (l: z.infer<typeof budgetLine>) =>
    `${l.used} used, ${l.remaining === null ? 'no limit' : `${l.remaining} left`}`;
  return (
    <section aria-label="Budget and usage">
      <h2>Budget</h2>
      <ErrorAlert error={error} />
      {budget && (
        <table aria-label="Budget">
          <tbody>
            <tr>
              <th scope="row">Today ({budget.day.date})</th>
              <td>Replies: {line(budget.day.messages)}</td>
              <td>Tokens: {line(budget.day.tokens)}</td>
            </tr>
            <tr>
              <th scope="row">This month ({budget.month.month})</th>
              <td>Replies: {line(budget.month.messages)}</td>
              <td>Tokens: {line(budget.month.tokens)}</td>
            </tr>
          </tbody>
        </table>
      )}
      <h2>Usage</h2>
      <button type="button" onClick={() => setTick((n) => n + 1)}>
        Refresh
      </button>
      <table aria-label="Usage log">
        <thead>
          <tr>
            <th>Time</th>
            <th>Outcome</th>
            <th>Model</th>
            <th>Tokens in</th>
            <th>Tokens out</th>
            <th>Latency</th>
            <th>Cost (USD)</th>
          </tr>
        </thead>
        <tbody>
          {usage.map((u) => (
            <tr key={u.id}>
              <td>{timeOf(u.createdAt)}</td>
              <td>{u.reason ? `${u.outcome} (${u.reason})` : u.outcome}</td>
              <td>{u.model}</td>
              <td>{u.tokensIn}</td>
              <td>{u.tokensOut}</td>
              <td>{u.latencyMs} ms</td>
              <td>{u.costMicros === null ? '—' : (u.costMicros / 1_000_000).toFixed(6)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}
