import { useEffect, useState } from 'react';
import { z } from 'zod';
import { type ApiClient, describeError } from '../api/client.ts';
import { type InviteDetails, inviteSchema } from '../api/schemas.ts';
import { ErrorAlert, Field, SignInForm } from '../components/form-parts.tsx';

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
 * operator keeps) opens, and the link of a password reset mail. It shows who the token is for,
 * sets the password with the single-use token, then signs in with it (`onAccepted`).
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
          <ErrorAlert error={lookup.message} />
          <a href="/">Go to sign in</a>
        </section>
      </main>
    );
  }
  const { invite } = lookup;
  const reset = invite.purpose === 'reset';
  return (
    <SignInForm
      label={reset ? 'Reset your password' : 'Accept the invite'}
      busy={busy}
      error={error}
      submit={{ idle: 'Set password and sign in', busy: 'Setting the password…' }}
      onSubmit={async () => {
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
      {reset ? (
        <p>
          Set a new password for <strong>{invite.email}</strong> on {invite.tenant}.
        </p>
      ) : (
        <p>
          Set a password for <strong>{invite.email}</strong> to join {invite.tenant}.
        </p>
      )}
      <Field
        label="New password"
        type="password"
        autoComplete="new-password"
        minLength={12}
        value={password}
        onChange={setPassword}
      />
      <Field
        label="Repeat the password"
        type="password"
        autoComplete="new-password"
        minLength={12}
        value={repeated}
        onChange={setRepeated}
      />
    </SignInForm>
  );
}
