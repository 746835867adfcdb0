import { useSyncExternalStore } from 'react';

/*
 * A router of a handful of screens does not need a library: the path lives in history, `navigate` pushes,
 * and `usePath` re-renders on back/forward. The API serves index.html for every non-API path, so
 * a reload on /c/<id> lands back here.
 */

const listeners = new Set<() => void>();
function notify() {
  for (const listener of listeners) listener();
}
// Guarded so the pure parsing below can be unit-tested outside a browser.
if (typeof window !== 'undefined') window.addEventListener('popstate', notify);

/** Goes to `path` (pushes a history entry unless `replace`). */
export function navigate(path: string, options: { replace?: boolean } = {}): void {
  if (path === location.pathname + location.search) return;
  if (options.replace) history.replaceState(null, '', path);
  else history.pushState(null, '', path);
  notify();
}

/** The current path and query, re-rendering on navigation. */
export function usePath(): string {
  return useSyncExternalStore(
    (listener) => {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    () => location.pathname + location.search,
  );
}

/** The screen a path shows. */
export type Route =
  | { screen: 'inbox'; conversationId: string | undefined }
  | { screen: 'sessions' }
  | { screen: 'team' }
  | { screen: 'scheduled' }
  | { screen: 'quick-replies' }
  | { screen: 'labels' }
  | { screen: 'campaigns' }
  | { screen: 'settings' }
  | { screen: 'assistant' }
  | { screen: 'security' }
  | { screen: 'two-factor' }
  | { screen: 'accept-invite' }
  | { screen: 'sso-callback' };

/** Parses a path into the screen it shows (anything unknown is the inbox). */
export function routeOf(path: string): Route {
  const pathname = path.split('?')[0] ?? '/';
  const conversation = /^\/c\/([0-9a-f-]{36})$/.exec(pathname);
  if (conversation) return { screen: 'inbox', conversationId: conversation[1] };
  if (pathname === '/sessions') return { screen: 'sessions' };
  if (pathname === '/team') return { screen: 'team' };
  if (pathname === '/scheduled') return { screen: 'scheduled' };
  if (pathname === '/quick-replies') return { screen: 'quick-replies' };
  if (pathname === '/labels') return { screen: 'labels' };
  if (pathname === '/campaigns') return { screen: 'campaigns' };
  if (pathname === '/settings') return { screen: 'settings' };
  if (pathname === '/assistant') return { screen: 'assistant' };
  if (pathname === '/settings/security') return { screen: 'security' };
  if (pathname === '/two-factor') return { screen: 'two-factor' };
  if (pathname === '/accept-invite') return { screen: 'accept-invite' };
  if (pathname === '/sso/callback') return { screen: 'sso-callback' };
  return { screen: 'inbox', conversationId: undefined };
}
