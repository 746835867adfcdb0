import { useEffect, useState } from 'react';
import { z } from 'zod';
import { ApiRequestError, describeError } from '../api/client.ts';
import { roleAtLeast, useApp } from '../app-context.tsx';
import { ErrorAlert } from '../components/form-parts.tsx';

/** The mail languages the API writes (its mail catalogue); '' is the tenant's default. */
const LOCALES = [
  { value: '', label: 'Tenant default' },
  { value: 'en', label: 'English' },
  { value: 'pt-BR', label: 'Português (Brasil)' },
  { value: 'es', label: 'Español' },
] as const;

const localeSchema = z.object({ locale: z.string().nullable().optional() });

/**
 * Settings > Security > Mail language: the language of the member's mails (invites, resets,
 * security notices), read from `GET /v1/auth/me` and saved with `PATCH /v1/auth/me`.
 */
export function MailLanguage() {
  const { client } = useApp();
  const [locale, setLocale] = useState<string | undefined>();
  const [error, setError] = useState<string | undefined>();
  const [notice, setNotice] = useState<string | undefined>();
  useEffect(() => {
    let live = true;
    client
      .request('GET', '/v1/auth/me', localeSchema)
      .then((me) => live && setLocale(me.locale ?? ''))
      .catch((e: unknown) => live && setError(describeError(e)));
    return () => {
      live = false;
    };
  }, [client]);

  const save = async (value: string) => {
    const before = locale;
    setLocale(value);
    try {
      const saved = await client.request('PATCH', '/v1/auth/me', localeSchema, {
        body: { locale: value === '' ? null : value },
      });
      setLocale(saved.locale ?? '');
      const label = LOCALES.find((l) => l.value === (saved.locale ?? ''))?.label;
      setNotice(`Your mails are now written in: ${label}.`);
      setError(undefined);
    } catch (e) {
      setLocale(before);
      setError(describeError(e));
    }
  };

  return (
    <section aria-labelledby="language-title">
      <h2 id="language-title">Mail language</h2>
      <p>The language of the mails you get: invites, password resets and security notices.</p>
      <ErrorAlert error={error} />
      {notice && <p role="status">{notice}</p>}
      {locale === undefined ? (
        <p>Loading…</p>
      ) : (
        <label>
          Mail language
          <select value={locale} onChange={(e) => void save(e.target.value)}>
            {LOCALES.map((l) => (
              <option key={l.value} value={l.value}>
                {l.label}
              </option>
            ))}
          </select>
        </label>
      )}
    </section>
  );
}

/** `YYYY-MM-DD` (a date input's value) as the UTC midnight starting that day, `days` later. */
function utcDay(date: string, days = 0): string {
  const at = new Date(`${date}T00:00:00Z`);
  at.setUTCDate(at.getUTCDate() + days);
  return at.toISOString();
}

/**
 * Settings > Security > Audit log (admins): a range of days (UTC, both included; either may be
 * left empty) exported by `GET /v1/audit-log/export` as JSON lines, fetched with the access token
 * and saved as a file.
 */
export function AuditExport() {
  const { client, me } = useApp();
  const [from, setFrom] = useState('');
  const [to, setTo] = useState('');
  const [error, setError] = useState<string | undefined>();
  const [busy, setBusy] = useState(false);
  if (!roleAtLeast(me.role, 'admin')) return null;

  const download = async () => {
    setBusy(true);
    try {
      const query = new URLSearchParams();
      if (from) query.set('from', utcDay(from));
      if (to) query.set('to', utcDay(to, 1));
      const search = query.toString();
      const res = await client.fetch('GET', `/v1/audit-log/export${search ? `?${search}` : ''}`);
      if (!res.ok) {
        const body = (await res.json().catch(() => undefined)) as
          | { error?: { code?: string; message?: string } }
          | undefined;
        throw new ApiRequestError(
          res.status,
          body?.error?.code ?? 'http_error',
          body?.error?.message ?? `the API answered ${res.status}`,
        );
      }
      const url = URL.createObjectURL(await res.blob());
      const link = document.createElement('a');
      link.href = url;
      link.download = `switchboard-audit-${from || 'start'}-${to || 'now'}.ndjson`;
      document.body.append(link);
      link.click();
      link.remove();
      // Revoked once the click's download has taken the blob.
      setTimeout(() => URL.revokeObjectURL(url), 10_000);
      setError(undefined);
    } catch (e) {
      setError(describeError(e));
    } finally {
      setBusy(false);
    }
  };

  return (
    <section aria-labelledby="audit-title">
      <h2 id="audit-title">Audit log</h2>
      <p>
        Every identity event (sign-ins, invites, role changes, sessions ended…) as JSON lines, one entry per
        line, oldest first. Days are in UTC; leave a date empty for no bound.
      </p>
      <ErrorAlert error={error} />
      <form
        className="inline-form"
        aria-label="Export audit log"
        onSubmit={(e) => {
          e.preventDefault();
          void download();
        }}
      >
        <label>
          From
          <input type="date" value={from} onChange={(e) => setFrom(e.target.value)} />
        </label>
        <label>
          To (included)
          <input type="date" value={to} min={from || undefined} onChange={(e) => setTo(e.target.value)} />
        </label>
        <button type="submit" disabled={busy}>
          Export audit log
        </button>
      </form>
    </section>
  );
}
