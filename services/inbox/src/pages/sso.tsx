import { useEffect, useRef, useState } from 'react';
import { z } from 'zod';
import { ErrorAlert } from '../components/form-parts.tsx';

const ssoStatusSchema = z.object({ enabled: z.boolean(), ssoOnly: z.boolean() });

type SsoStatus = z.infer<typeof ssoStatusSchema>;

// Whether the tenant has SSO is the API's configuration: asked once per page load, not at every
// showing of the login form (a sign-out shows it again without asking).
let ssoStatus: Promise<SsoStatus | undefined> | undefined;
function loadSsoStatus(): Promise<SsoStatus | undefined> {
  ssoStatus ??= fetch('/v1/auth/sso')
    .then(async (res) => (res.ok ? ssoStatusSchema.parse(await res.json()) : undefined))
    .catch(() => undefined);
  return ssoStatus;
}

/**
 * "Sign in with SSO" on the login form, when the tenant has single sign-on: the browser goes to
 * the API's start route, which redirects to the identity provider (and sets the cookie binding
 * the sign-in to this browser). Nothing is shown without SSO.
 */
export function SsoButton() {
  const [status, setStatus] = useState<SsoStatus | undefined>();
  useEffect(() => {
    let live = true;
    void loadSsoStatus().then((value) => live && setStatus(value));
    return () => {
      live = false;
    };
  }, []);
  if (!status?.enabled) return null;
  return (
    <div className="sso">
      <button type="button" onClick={() => location.assign('/v1/auth/sso/start')}>
        Sign in with SSO
      </button>
      <p className="hint">
        {status.ssoOnly
          ? 'Members sign in with SSO; the password is for owners only.'
          : 'or with your password:'}
      </p>
    </div>
  );
}

/**
 * The page the identity provider sends the browser back to (`/sso/callback?code=…&state=…`): its
 * query goes to the API once, which answers with the tokens (`onCallback` signs in with them) or
 * says what was wrong.
 */
export function SsoCallbackPage(props: { onCallback: (query: string) => Promise<string | undefined> }) {
  const [error, setError] = useState<string | undefined>();
  const sent = useRef(false);
  useEffect(() => {
    // Once: the state is single use, and React runs effects twice in development.
    if (sent.current) return;
    sent.current = true;
    const query = location.search;
    // The code leaves the address bar and the history before anything else happens.
    history.replaceState(null, '', '/sso/callback');
    props.onCallback(query).then(setError, (failure: unknown) => setError(String(failure)));
  }, [props]);
  return (
    <main className="login">
      <section aria-label="Single sign-on">
        <h1>Switchboard</h1>
        {error ? (
          <>
            <ErrorAlert error={`Single sign-on failed: ${error}`} />
            <a href="/">Back to sign in</a>
          </>
        ) : (
          <p className="splash">Signing in…</p>
        )}
      </section>
    </main>
  );
}
