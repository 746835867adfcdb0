import { useEffect, useState } from 'react';
import { z } from 'zod';
import { type ApiClient, describeError } from '../api/client.ts';
import { type InviteDetails, inviteSchema } from '../api/schemas.ts';

/** The invite token in the link's fragment (`/accept-invite#token=...`), which no server ever sees. */
export function inviteTokenOf(hash: string): string | undefined {
  const token = new URLSearchParams(hash.replace(/^#/, '')).get('token');
  return token === null || token === '' ? undefined : token;
}

type Lookup =
  | { kind: 'loading' }
  | { kind: 'ready'; invite: InviteDetails }
  | { kind: 'invalid'; message: string };

/**
 * The accept-invite page: the link a new member (or the tenant's first owner, whose link the
 * operator keeps) opens. It shows who the invite is for, sets the password with the single-use
 * token, then signs in with it (`onAccepted`).
 */
export function AcceptInvitePage(props: {
  client: ApiClient;
  onAccepted: (email: string, password: string) => Promise<string | undefined>;
}) {
  const [token] = useState(() => inviteTokenOf(location.hash));
  const [lookup, setLookup] = useState<Lookup>(() =>
    token ? { kind: 'loading' } : { kind: 'invalid', message: 'This link has no invite token.' },
  );
  const [password, setPassword] = useState('');
  const [repeated, setRepeated] = useState('');
  const [error, setError] = useState<string | undefined>();
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    if (!token) return;
    props.client.publicRequest('/v1/auth/invite', inviteSchema, { token }).then(
      (invite) => setLookup({ kind: 'ready', invite }),
      () =>
        setLookup({
          kind: 'invalid',
          message: 'This invite link has expired or was already used. Ask for a new one.',
        }),
    );
  }, [props.client, token]);

  if (lookup.kind === 'loading') return <p className="splash">Loading…</p>;
  if (lookup.kind === 'invalid') {
    return (
      <main className="login">
        <section aria-label="Invite">
          <h1>Switchboard</h1>
          <p role="alert" className="error">
            {lookup.message}
          </p>
          <a href="/">Go to sign in</a>
        </section>
      </main>
    );
  }
  const { invite } = lookup;
  return (
    <main className="login">
      <form
        aria-label="Accept the invite"
        onSubmit={async (e) => {
          e.preventDefault();
          if (password !== repeated) {
            setError('The two passwords differ.');
            return;
          }
          setBusy(true);
          setError(undefined);
          try {
            await props.client.publicRequest('/v1/auth/invite/accept', z.undefined(), {
              token,
              password,
            });
          } catch (failure) {
            setError(describeError(failure));
            setBusy(false);
            return;
          }
          const failed = await props.onAccepted(invite.email, password);
          if (failed) {
            setError(failed);
            setBusy(false);
          }
        }}
      >
        <h1>Switchboard</h1>
        <p>
          Set a password for <strong>{invite.email}</strong> to join {invite.tenant}.
        </p>
        <label>
          New password
          <input
            type="password"
            autoComplete="new-password"
            minLength={12}
            required
            value={password}
            onChange={(e) => setPassword(e.target.value)}
          />
        </label>
        <label>
          Repeat the password
          <input
            type="password"
            autoComplete="new-password"
            minLength={12}
            required
            value={repeated}
            onChange={(e) => setRepeated(e.target.value)}
          />
        </label>
        {error && (
          <p role="alert" className="error">
            {error}
          </p>
        )}
        <button type="submit" disabled={busy}>
          {busy ? 'Setting the password…' : 'Set password and sign in'}
        </button>
      </form>
    </main>
  );
}
