import { createContext, type ReactNode, useContext, useEffect, useMemo, useRef, useState } from 'react';
import type { ApiClient } from './api/client.ts';
import { RealtimeConnection, type RealtimeState } from './api/realtime.ts';
import type { Me, RealtimeEvent, Role } from './api/schemas.ts';
import { InboxData } from './inbox-data.ts';

/** What every screen of a signed-in member shares. */
export interface AppValue {
  client: ApiClient;
  me: Me;
  data: InboxData;
  realtime: RealtimeState;
  /** Listens to realtime events; returns the unsubscribe. */
  subscribe: (listener: (event: RealtimeEvent) => void) => () => void;
  /** Listens for "refetch everything" (the stream could not resume). */
  onResync: (listener: () => void) => () => void;
  logout: () => Promise<void>;
}

const AppContext = createContext<AppValue | null>(null);

/** The signed-in context; only under <SignedIn>. */
export function useApp(): AppValue {
  const value = useContext(AppContext);
  if (!value) throw new Error('useApp outside <SignedIn>');
  return value;
}

const RANK: Record<Role, number> = { viewer: 0, agent: 1, admin: 2, owner: 3 };
/** Whether `role` is at least `needed`. */
export function roleAtLeast(role: Role, needed: Role): boolean {
  return RANK[role] >= RANK[needed];
}

/** Holds the realtime connection for as long as a member is signed in. */
export function SignedIn(props: {
  client: ApiClient;
  me: Me;
  logout: () => Promise<void>;
  children: ReactNode;
}) {
  const { client, me, logout } = props;
  const [realtime, setRealtime] = useState<RealtimeState>('connecting');
  const listeners = useRef(new Set<(event: RealtimeEvent) => void>());
  const resyncListeners = useRef(new Set<() => void>());
  const data = useMemo(() => new InboxData(client), [client]);

  useEffect(() => {
    const connection = new RealtimeConnection({
      client,
      onEvent: (event) => {
        data.observe(event);
        for (const listener of listeners.current) listener(event);
      },
      onState: setRealtime,
      onResync: () => {
        for (const listener of resyncListeners.current) listener();
      },
    });
    connection.start();
    // The page going away ends the stream itself; stopping first keeps it from counting as a drop.
    const unload = () => connection.stop();
    window.addEventListener('pagehide', unload);
    return () => {
      window.removeEventListener('pagehide', unload);
      connection.stop();
    };
  }, [client, data]);

  const value = useMemo<AppValue>(
    () => ({
      client,
      me,
      data,
      realtime,
      subscribe: (listener) => {
        listeners.current.add(listener);
        return () => listeners.current.delete(listener);
      },
      onResync: (listener) => {
        resyncListeners.current.add(listener);
        return () => resyncListeners.current.delete(listener);
      },
      logout,
    }),
    [client, me, data, realtime, logout],
  );
  return <AppContext.Provider value={value}>{props.children}</AppContext.Provider>;
}
