import { useCallback, useEffect, useState } from 'react';
import { z } from 'zod';
import { describeError } from '../api/client.ts';
import { pageOf, sessionSchema, templateSchema } from '../api/schemas.ts';
import { roleAtLeast, useApp } from '../app-context.tsx';
import { ErrorAlert } from '../components/form-parts.tsx';
import { useLabels } from '../components/labels.tsx';
import '../styles/labels.css';

const countsSchema = z.object({
  total: z.number(),
  pending: z.number(),
  queued: z.number(),
  sent: z.number(),
  delivered: z.number(),
  read: z.number(),
  failed: z.number(),
  skipped: z.number(),
});
const campaignSchema = z.object({
  id: z.string(),
  name: z.string(),
  sessionId: z.string(),
  template: z.object({ name: z.string(), language: z.string() }),
  segment: z.object({ type: z.string() }).passthrough(),
  status: z.enum(['running', 'paused', 'cancelled', 'completed']),
  perMinute: z.number(),
  counts: countsSchema,
  createdAt: z.string(),
});
type Campaign = z.infer<typeof campaignSchema>;
const recipientSchema = z.object({
  contactId: z.string(),
  phoneNumber: z.string(),
  status: z.string(),
  reason: z.string().nullable(),
  contactName: z.string().nullable(),
});
const importSchema = z.object({
  id: z.string(),
  fileName: z.string(),
  totalRows: z.number(),
  imported: z.number(),
  rejected: z.array(z.object({ line: z.number(), reason: z.string() })),
  createdAt: z.string(),
});
type ContactImport = z.infer<typeof importSchema>;

/** Recipients done with (sent or further, failed, or skipped), for the progress bar. */
function done(c: Campaign['counts']): number {
  return c.sent + c.delivered + c.read + c.failed + c.skipped;
}

/**
 * Campaigns: the list with each one's progress, a campaign's recipients and their results,
 * pause / resume / cancel, and (admins) a CSV import of contacts and a new campaign from a
 * template to a segment (a label, an import, or contacts recently in touch).
 */
export function CampaignsPage() {
  const { client, me } = useApp();
  const admin = roleAtLeast(me.role, 'admin');
  const [campaigns, setCampaigns] = useState<Campaign[]>([]);
  const [imports, setImports] = useState<ContactImport[]>([]);
  const [open, setOpen] = useState<string | undefined>();
  const [error, setError] = useState<string | undefined>();
  const reload = useCallback(async () => {
    try {
      const [list, importList] = await Promise.all([
        client.request('GET', '/v1/campaigns', z.object({ items: z.array(campaignSchema) })),
        client.request('GET', '/v1/contact-imports', z.object({ items: z.array(importSchema) })),
      ]);
      setCampaigns(list.items);
      setImports(importList.items);
    } catch (e) {
      setError(describeError(e));
    }
  }, [client]);
  useEffect(() => {
    void reload();
  }, [reload]);
  // While one runs or its messages' statuses may still move (within a day of its start), its
  // progress is read again every 2 s.
  const active = campaigns.some(
    (c) =>
      c.status === 'running' ||
      (c.counts.queued + c.counts.sent + c.counts.delivered > 0 &&
        Date.now() - Date.parse(c.createdAt) < 86_400_000),
  );
  useEffect(() => {
    if (!active) return;
    const timer = setInterval(() => void reload(), 2_000);
    return () => clearInterval(timer);
  }, [active, reload]);
  const act = async (action: () => Promise<unknown>) => {
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
      <h1>Campaigns</h1>
      <p className="muted">
        An approved template to many contacts, once each. Contacts who replied with an opt-out keyword are
        skipped.
      </p>
      <ErrorAlert error={error} />
      {admin && <ImportForm onImported={() => void reload()} />}
      {admin && <CampaignForm imports={imports} onCreated={(id) => void reload().then(() => setOpen(id))} />}
      <ul className="cards" aria-label="Campaigns">
        {campaigns.length === 0 && <li className="muted">No campaigns yet</li>}
        {campaigns.map((c) => (
          <li key={c.id} className="card" aria-label={`Campaign ${c.name}`}>
            <header>
              <h2>{c.name}</h2>
              <span className={`status-pill ${c.status}`}>{c.status}</span>
            </header>
            <p className="muted">
              {c.template.name} ({c.template.language}) · {c.perMinute}/min
            </p>
            <progress
              className="progress"
              aria-label={`Progress of ${c.name}`}
              max={Math.max(c.counts.total, 1)}
              value={done(c.counts)}
            />
            <output className="counts" aria-label={`Counts of ${c.name}`}>
              {c.counts.total} recipients · {c.counts.pending} pending · {c.counts.queued} queued ·{' '}
              {c.counts.sent} sent · {c.counts.delivered} delivered · {c.counts.read} read · {c.counts.failed}{' '}
              failed · {c.counts.skipped} skipped
            </output>
            <div className="actions">
              <button type="button" onClick={() => setOpen(open === c.id ? undefined : c.id)}>
                {open === c.id ? 'Hide recipients' : 'Recipients'}
              </button>
              {admin && c.status === 'running' && (
                <button
                  type="button"
                  onClick={() =>
                    void act(() => client.request('POST', `/v1/campaigns/${c.id}/pause`, campaignSchema))
                  }
                >
                  Pause
                </button>
              )}
              {admin && c.status === 'paused' && (
                <button
                  type="button"
                  onClick={() =>
                    void act(() => client.request('POST', `/v1/campaigns/${c.id}/resume`, campaignSchema))
                  }
                >
                  Resume
                </button>
              )}
              {admin && (c.status === 'running' || c.status === 'paused') && (
                <button
                  type="button"
                  className="danger"
                  onClick={() =>
                    void act(() => client.request('POST', `/v1/campaigns/${c.id}/cancel`, campaignSchema))
                  }
                >
                  Cancel campaign
                </button>
              )}
            </div>
            {open === c.id && <Recipients campaign={c} />}
          </li>
        ))}
      </ul>
    </div>
  );
}

/** A campaign's recipients (first 100) and each one's result. */
function Recipients(props: { campaign: Campaign }) {
  const { client } = useApp();
  const [rows, setRows] = useState<z.infer<typeof recipientSchema>[]>([]);
  const [error, setError] = useState<string | undefined>();
  const counts = JSON.stringify(props.campaign.counts);
  useEffect(() => {
    void counts;
    client
      .request('GET', `/v1/campaigns/${props.campaign.id}/recipients?limit=100`, pageOf(recipientSchema))
      .then((page) => setRows(page.items))
      .catch((e: unknown) => setError(describeError(e)));
  }, [client, props.campaign.id, counts]);
  return (
    <>
      <ErrorAlert error={error} />
      <table className="recipients" aria-label={`Recipients of ${props.campaign.name}`}>
        <thead>
          <tr>
            <th>Contact</th>
            <th>Number</th>
            <th>Status</th>
            <th>Reason</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((r) => (
            <tr key={r.contactId}>
              <td>{r.contactName ?? '—'}</td>
              <td>{r.phoneNumber ? `+${r.phoneNumber}` : '—'}</td>
              <td>{r.status}</td>
              <td>{r.reason ?? ''}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </>
  );
}

/** A CSV file of contacts (phone, name, labels): imported, with the rejected rows listed by line. */
function ImportForm(props: { onImported: () => void }) {
  const { client } = useApp();
  const [file, setFile] = useState<File | undefined>();
  const [report, setReport] = useState<ContactImport | undefined>();
  const [error, setError] = useState<string | undefined>();
  return (
    <form
      className="stacked-form"
      aria-label="Import contacts"
      onSubmit={(e) => {
        e.preventDefault();
        if (!file) return;
        void (async () => {
          try {
            const csv = await file.text();
            setReport(
              await client.request('POST', '/v1/contact-imports', importSchema, {
                body: { fileName: file.name, csv },
              }),
            );
            setError(undefined);
            props.onImported();
          } catch (err) {
            setError(describeError(err));
          }
        })();
      }}
    >
      <label>
        Contacts CSV (columns: phone, name, labels separated by ;)
        <input type="file" accept=".csv,text/csv" required onChange={(e) => setFile(e.target.files?.[0])} />
      </label>
      <div className="actions">
        <button type="submit">Import contacts</button>
      </div>
      <ErrorAlert error={error} />
      {report && (
        <section aria-label="Import report">
          <p>
            {report.fileName}: {report.imported} of {report.totalRows} rows imported
          </p>
          {report.rejected.length > 0 && (
            <ul aria-label="Rejected rows">
              {report.rejected.map((r) => (
                <li key={r.line}>
                  Line {r.line}: {r.reason}
                </li>
              ))}
            </ul>
          )}
        </section>
      )}
    </form>
  );
}

/** A new campaign: name, Cloud API session, template (with its body parameters), segment, pace. */
function CampaignForm(props: { imports: ContactImport[]; onCreated: (id: string) => void }) {
  const { client } = useApp();
  const { labels } = useLabels();
  const [sessions, setSessions] = useState<z.infer<typeof sessionSchema>[]>([]);
  const [templates, setTemplates] = useState<z.infer<typeof templateSchema>[]>([]);
  const [error, setError] = useState<string | undefined>();
  const [name, setName] = useState('');
  const [sessionId, setSessionId] = useState('');
  const [templateId, setTemplateId] = useState('');
  const [parameters, setParameters] = useState('');
  const [segmentType, setSegmentType] = useState<'label' | 'import' | 'recent'>('label');
  const [segmentValue, setSegmentValue] = useState('');
  const [days, setDays] = useState('30');
  const [perMinute, setPerMinute] = useState('60');
  useEffect(() => {
    client
      .request('GET', '/v1/sessions?limit=100', pageOf(sessionSchema))
      .then((p) => setSessions(p.items.filter((s) => s.channel === 'cloud-api')))
      .catch((e: unknown) => setError(describeError(e)));
    client
      .request('GET', '/v1/templates?limit=100', pageOf(templateSchema))
      .then((p) => setTemplates(p.items))
      .catch((e: unknown) => setError(describeError(e)));
  }, [client]);
  const template = templates.find((t) => t.id === templateId);
  const needsParameters = template ? /\{\{\s*\d+\s*\}\}/.test(template.body) : false;
  return (
    <form
      className="stacked-form"
      aria-label="New campaign"
      onSubmit={(e) => {
        e.preventDefault();
        if (!template) return;
        const texts = parameters
          .split('\n')
          .map((p) => p.trim())
          .filter(Boolean);
        const segment =
          segmentType === 'recent'
            ? { type: 'recent', days: Number(days) }
            : segmentType === 'label'
              ? { type: 'label', labelId: segmentValue }
              : { type: 'import', importId: segmentValue };
        void (async () => {
          try {
            const created = await client.request('POST', '/v1/campaigns', campaignSchema, {
              body: {
                name,
                sessionId,
                template: {
                  name: template.name,
                  language: template.language,
                  ...(texts.length > 0
                    ? {
                        components: [
                          { type: 'body', parameters: texts.map((text) => ({ type: 'text', text })) },
                        ],
                      }
                    : {}),
                },
                segment,
                perMinute: Number(perMinute),
              },
            });
            setError(undefined);
            setName('');
            props.onCreated(created.id);
          } catch (err) {
            setError(describeError(err));
          }
        })();
      }}
    >
      <label>
        Campaign name
        <input value={name} required maxLength={120} onChange={(e) => setName(e.target.value)} />
      </label>
      <label>
        Session
        <select value={sessionId} required onChange={(e) => setSessionId(e.target.value)}>
          <option value="">Choose a Cloud API session</option>
          {sessions.map((s) => (
            <option key={s.id} value={s.id}>
              {s.name}
            </option>
          ))}
        </select>
      </label>
      <label>
        Template
        <select value={templateId} required onChange={(e) => setTemplateId(e.target.value)}>
          <option value="">Choose a template</option>
          {templates.map((t) => (
            <option key={t.id} value={t.id}>
              {t.name} ({t.language})
            </option>
          ))}
        </select>
      </label>
      {needsParameters && (
        <label>
          Body parameters (one per line)
          <textarea value={parameters} rows={3} onChange={(e) => setParameters(e.target.value)} />
        </label>
      )}
      <label>
        Send to
        <select
          value={segmentType}
          onChange={(e) => {
            setSegmentType(e.target.value as typeof segmentType);
            setSegmentValue('');
          }}
        >
          <option value="label">Contacts with a label</option>
          <option value="import">Contacts of an import</option>
          <option value="recent">Contacts in touch recently</option>
        </select>
      </label>
      {segmentType === 'label' && (
        <label>
          Label
          <select value={segmentValue} required onChange={(e) => setSegmentValue(e.target.value)}>
            <option value="">Choose a label</option>
            {labels.map((l) => (
              <option key={l.id} value={l.id}>
                {l.name}
              </option>
            ))}
          </select>
        </label>
      )}
      {segmentType === 'import' && (
        <label>
          Import
          <select value={segmentValue} required onChange={(e) => setSegmentValue(e.target.value)}>
            <option value="">Choose an import</option>
            {props.imports.map((i) => (
              <option key={i.id} value={i.id}>
                {i.fileName} ({i.imported} contacts)
              </option>
            ))}
          </select>
        </label>
      )}
      {segmentType === 'recent' && (
        <label>
          Days
          <input type="number" min={1} max={365} value={days} onChange={(e) => setDays(e.target.value)} />
        </label>
      )}
      <label>
        Sends per minute
        <input
          type="number"
          min={1}
          max={6000}
          value={perMinute}
          onChange={(e) => setPerMinute(e.target.value)}
        />
      </label>
      <div className="actions">
        <button type="submit">Start campaign</button>
      </div>
      <ErrorAlert error={error} />
    </form>
  );
}
