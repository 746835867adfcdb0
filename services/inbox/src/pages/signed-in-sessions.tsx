import { useCallback, useEffect, useState } from 'react';
import { z } from 'zod';
import { describeError } from '../api/client.ts';
import { useApp } from '../app-context.tsx';
import { ErrorAlert } from '../components/form-parts.tsx';
import { AuditExport, MailLanguage } from './security-settings.tsx';

/** One signed-in session (GET /v1/auth/sessions). */
const signedInSessionSchema = z.object({
  id: z.string(),
  browser: z.string(),
  os: z.string(),
  ip: z.string(),
  createdAt: z.string(),
  lastSeenAt: z.string(),
  current: z.boolean(),
});
type SignedInSession = z.infer<typeof signedInSessionSchema>;
const sessionsSchema = z.object({ items: z.array(signedInSessionSchema) });

const when = (iso: string) =>
  new Date(iso).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });

/**
 * Settings > Security: the sessions below, then the mail language and (admins) the audit export
 * (security-settings.tsx). Sessions: the devices signed in as me (browser, OS, IP, signed in, last
 * seen), this one marked, and an End button for each other one. An ended session is signed out
 * at once: its next request is refused and its realtime stream closes.
 */
export function SignedInSessionsPage() {
  const { client } = useApp();
  const [sessions, setSessions] = useState<SignedInSession[] | undefined>();
  const [error, setError] = useState<string | undefined>();
  const [notice, setNotice] = useState<string | undefined>();
  const load = useCallback(async () => {
    try {
      setSessions((await client.request('GET', '/v1/auth/sessions', sessionsSchema)).items);
    } catch (e) {
      setError(describeError(e));
    }
  }, [client]);
  useEffect(() => {
    void load();
  }, [load]);

  const end = async (session: SignedInSession) => {
    try {
      await client.send('DELETE', `/v1/auth/sessions/${session.id}`);
      setSessions((list) => list?.filter((s) => s.id !== session.id));
      setNotice(`Ended the session of ${session.browser} on ${session.os}.`);
      setError(undefined);
    } catch (e) {
      setError(describeError(e));
    }
  };

  return (
    <div className="page">
      <h1>Security</h1>
      <section aria-labelledby="sessions-title">
        <h2 id="sessions-title">Sessions</h2>
        <p>Where you are signed in. End a session you do not recognise: that device is signed out at once.</p>
        <ErrorAlert error={error} />
        {notice && <p role="status">{notice}</p>}
        {sessions === undefined ? (
          <p>Loading…</p>
        ) : (
          <table className="table" aria-label="Signed-in sessions">
            <thead>
              <tr>
                <th>Device</th>
                <th>IP address</th>
                <th>Signed in</th>
                <th>Last seen</th>
                <th>Actions</th>
              </tr>
            </thead>
            <tbody>
              {sessions.map((s) => (
                <tr key={s.id} aria-current={s.current ? 'true' : undefined}>
                  <td>
                    {s.browser} on {s.os}
                    {s.current && <strong> (this device)</strong>}
                  </td>
                  <td>{s.ip}</td>
                  <td>{when(s.createdAt)}</td>
                  <td>{when(s.lastSeenAt)}</td>
                  <td>
                    {!s.current && (
                      <button
                        type="button"
                        className="danger"
                        aria-label={`End the session of ${s.browser} on ${s.os} from ${s.ip}`}
                        onClick={() => void end(s)}
                      >
                        End
                      </button>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>
      <MailLanguage />
      <AuditExport />
    </div>
  );
}
