import { useCallback, useEffect, useMemo, useState } from 'react';
import { ApiClient, describeError, sessionRefreshStore } from './api/client.ts';
import { type Me, meSchema } from './api/schemas.ts';
import type { SignInStep } from './api/two-factor-schemas.ts';
import { roleAtLeast, SignedIn, useApp } from './app-context.tsx';
import { AcceptInvitePage } from './pages/accept-invite.tsx';
import { AssistantPage } from './pages/assistant.tsx';
import { CampaignsPage } from './pages/campaigns.tsx';
import { InboxPage } from './pages/inbox.tsx';
import { LabelsPage } from './pages/labels.tsx';
import { LoginPage } from './pages/login.tsx';
import { QuickRepliesPage } from './pages/quick-replies.tsx';
import { ScheduledPage } from './pages/scheduled.tsx';
import { SessionsPage } from './pages/sessions.tsx';
import { SettingsPage } from './pages/settings.tsx';
import { SignedInSessionsPage } from './pages/signed-in-sessions.tsx';
import { SsoCallbackPage } from './pages/sso.tsx';
import { TeamPage } from './pages/team.tsx';
import { TwoFactorPage, TwoFactorSignIn } from './pages/two-factor.tsx';
import { navigate, routeOf, usePath } from './router.ts';

type AuthState =
  | { kind: 'checking' }
  | { kind: 'signed-out'; notice?: string; secondStep?: Exclude<SignInStep, { kind: 'signed-in' }> }
  | { kind: 'signed-in'; me: Me };

/** The inbox: the login screen, or the signed-in shell. */
export function App() {
  const client = useMemo(() => new ApiClient({ store: sessionRefreshStore }), []);
  const path = usePath();
  const [auth, setAuth] = useState<AuthState>(() =>
    client.hasRefreshToken() ? { kind: 'checking' } : { kind: 'signed-out' },
  );

  const loadMe = useCallback(async () => {
    const me = await client.request('GET', '/v1/auth/me', meSchema);
    setAuth({ kind: 'signed-in', me });
  }, [client]);

  useEffect(() => {
    client.onSignedOut = () => setAuth({ kind: 'signed-out', notice: 'You were signed out.' });
    if (client.hasRefreshToken()) {
      // A reload: the access token was in memory only; the refresh token gets a new one.
      loadMe().catch(() => setAuth({ kind: 'signed-out' }));
    }
  }, [client, loadMe]);

  const logout = useCallback(async () => {
    client.onSignedOut = undefined;
    await client.logout();
    client.onSignedOut = () => setAuth({ kind: 'signed-out', notice: 'You were signed out.' });
    setAuth({ kind: 'signed-out', notice: 'You signed out.' });
    navigate('/', { replace: true });
  }, [client]);

  // An invite link works whoever is signed in on this browser: it signs in as the invited member.
  if (routeOf(path).screen === 'accept-invite') {
    return (
      <AcceptInvitePage
        client={client}
        onAccepted={async (email, password) => {
          try {
            const step = await client.login(email, password);
            // Leaves the page and drops the spent token from the address bar and history.
            navigate('/', { replace: true });
            if (step.kind !== 'signed-in') setAuth({ kind: 'signed-out', secondStep: step });
            else await loadMe();
            return undefined;
          } catch (error) {
            return describeError(error);
          }
        }}
      />
    );
  }
  // Back from the identity provider: the API checks the answer and signs in.
  if (routeOf(path).screen === 'sso-callback') {
    return (
      <SsoCallbackPage
        onCallback={async (query) => {
          try {
            await client.ssoSignIn(query);
            await loadMe();
            navigate('/', { replace: true });
            return undefined;
          } catch (error) {
            return describeError(error);
          }
        }}
      />
    );
  }
  if (auth.kind === 'checking') return <p className="splash">Loading…</p>;
  if (auth.kind === 'signed-out' && auth.secondStep) {
    return (
      <TwoFactorSignIn
        client={client}
        step={auth.secondStep}
        onSignedIn={loadMe}
        onCancel={() => setAuth({ kind: 'signed-out' })}
      />
    );
  }
  if (auth.kind === 'signed-out') {
    return (
      <LoginPage
        {...(auth.notice ? { notice: auth.notice } : {})}
        onLogin={async (email, password) => {
          try {
            const step = await client.login(email, password);
            if (step.kind !== 'signed-in') setAuth({ kind: 'signed-out', secondStep: step });
            else await loadMe();
            return undefined;
          } catch (error) {
            return describeError(error);
          }
        }}
      />
    );
  }
  return (
    <SignedIn client={client} me={auth.me} logout={logout}>
      <Shell />
    </SignedIn>
  );
}

const SCREENS = [
  { path: '/', label: 'Inbox', screen: 'inbox' },
  { path: '/sessions', label: 'Sessions', screen: 'sessions' },
  { path: '/scheduled', label: 'Scheduled', screen: 'scheduled' },
  { path: '/quick-replies', label: 'Quick replies', screen: 'quick-replies' },
  { path: '/labels', label: 'Labels', screen: 'labels' },
  { path: '/campaigns', label: 'Campaigns', screen: 'campaigns' },
  { path: '/team', label: 'Team', screen: 'team' },
  { path: '/assistant', label: 'Assistant', screen: 'assistant' },
  { path: '/settings', label: 'Settings', screen: 'settings' },
  { path: '/settings/security', label: 'Security', screen: 'security' },
  { path: '/two-factor', label: 'Two-factor', screen: 'two-factor' },
] as const;

const REALTIME_LABEL = {
  connecting: 'Connecting…',
  live: 'Live',
  reconnecting: 'Reconnecting…',
  offline: 'Offline',
  stopped: 'Stopped',
} as const;

function Shell() {
  const { me, realtime, logout } = useApp();
  const route = routeOf(usePath());
  const screens = SCREENS.filter((s) => s.screen !== 'settings' || roleAtLeast(me.role, 'admin'));
  return (
    <div className="shell">
      <header className="topbar">
        <span className="brand">Switchboard</span>
        <nav aria-label="Main">
          {screens.map((s) => (
            <a
              key={s.path}
              href={s.path}
              aria-current={route.screen === s.screen ? 'page' : undefined}
              onClick={(e) => {
                e.preventDefault();
                navigate(s.path);
              }}
            >
              {s.label}
            </a>
          ))}
        </nav>
        <span className={`realtime realtime-${realtime}`} role="status" aria-label="Realtime connection">
          {REALTIME_LABEL[realtime]}
        </span>
        <span className="me" title={me.email}>
          {me.displayName}
        </span>
        <button type="button" className="link" onClick={() => void logout()}>
          Log out
        </button>
      </header>
      <main className="screen">
        {route.screen === 'inbox' && <InboxPage conversationId={route.conversationId} />}
        {route.screen === 'sessions' && <SessionsPage />}
        {route.screen === 'team' && <TeamPage />}
        {route.screen === 'scheduled' && <ScheduledPage />}
        {route.screen === 'quick-replies' && <QuickRepliesPage />}
        {route.screen === 'labels' && <LabelsPage />}
        {route.screen === 'campaigns' && <CampaignsPage />}
        {route.screen === 'settings' && <SettingsPage />}
        {route.screen === 'assistant' && <AssistantPage />}
        {route.screen === 'security' && <SignedInSessionsPage />}
        {route.screen === 'two-factor' && <TwoFactorPage />}
      </main>
    </div>
  );
}
