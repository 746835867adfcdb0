import { type Dispatch, type SetStateAction, useCallback, useEffect, useRef, useState } from 'react';
import type { z } from 'zod';
import { describeError } from './api/client.ts';
import { pageOf } from './api/schemas.ts';
import { useApp } from './app-context.tsx';

/** A page's list of one resource and the last error, as {@link useListResource} keeps them. */
export interface ListResource<T> {
  items: T[];
  /** The last failed load or action, worded for the user. */
  error: string | undefined;
  /** Loads the list again. Only the newest load applies. */
  reload(): Promise<void>;
  /**
   * The user's own change (a create, a delete): applied locally, and a load already under way
   * no longer applies, since it may predate the change (a slow first load would undo it).
   */
  update(change: (items: T[]) => T[]): void;
  /** A change from the server (a realtime event): applied without cancelling a load. */
  setItems: Dispatch<SetStateAction<T[]>>;
  /** Runs a user action: its error is shown; success clears the last one. */
  act(action: () => Promise<void>): Promise<void>;
}

/**
 * The list behind a form-and-list page (sessions, team, webhooks, API keys): the first page
 * (up to 100) of `path`, loaded on mount and parsed with `item`, then kept up to date locally.
 */
export function useListResource<T>(path: string, item: z.ZodType<T>): ListResource<T> {
  const { client } = useApp();
  const [items, setItems] = useState<T[]>([]);
  const [error, setError] = useState<string | undefined>();
  const loads = useRef(0);
  const reload = useCallback(async () => {
    const n = ++loads.current;
    try {
      const page = await client.request('GET', `${path}?limit=100`, pageOf(item));
      if (n === loads.current) setItems(page.items as T[]);
    } catch (e) {
      setError(describeError(e));
    }
  }, [client, path, item]);
  useEffect(() => {
    void reload();
  }, [reload]);
  const update = useCallback((change: (items: T[]) => T[]) => {
    loads.current++;
    setItems(change);
  }, []);
  const act = useCallback(async (action: () => Promise<void>) => {
    try {
      await action();
      setError(undefined);
    } catch (e) {
      setError(describeError(e));
    }
  }, []);
  return { items, error, reload, update, setItems, act };
}
