import { type ReactNode, useEffect, useState } from 'react';
import type { z } from 'zod';
import { describeError } from '../api/client.ts';
import { useApp } from '../app-context.tsx';
import { ErrorAlert } from './form-parts.tsx';

/**
 * One setting of a session card (`GET/PUT <url>`), edited as a draft: `draft` is what the form
 * shows, loaded from the API (`toDraft`) and replaced by what the API answers to a save; `save`
 * PUTs `toBody(draft)`. Until the GET answered the form stays disabled.
 */
export function useSessionSetting<S extends z.ZodType, D>(options: {
  url: string;
  schema: S;
  initial: D;
  toDraft: (value: z.infer<S>) => D;
  toBody: (draft: D) => unknown;
}) {
  const { client } = useApp();
  const { url, schema, toDraft, toBody } = options;
  const [draft, setDraftState] = useState<D>(options.initial);
  const [loaded, setLoaded] = useState(false);
  const [error, setError] = useState<string | undefined>();
  const [saved, setSaved] = useState(false);
  const [busy, setBusy] = useState(false);
  const setDraft = (change: D | ((draft: D) => D)) => {
    setDraftState(change);
    setSaved(false);
  };

  // biome-ignore lint/correctness/useExhaustiveDependencies: loaded once per URL; the mappers are the caller's constants.
  useEffect(() => {
    let cancelled = false;
    client
      .request('GET', url, schema)
      .then((value) => {
        if (cancelled) return;
        setDraftState(toDraft(value));
        setLoaded(true);
      })
      .catch((e: unknown) => !cancelled && setError(describeError(e)));
    return () => {
      cancelled = true;
    };
  }, [client, url]);

  return {
    draft,
    loaded,
    /** Changes the draft (and clears "Saved"). */
    setDraft,
    /** Changes one field of an object draft (and clears "Saved"). */
    setField: <K extends keyof D>(key: K, value: D[K]) => setDraft((d) => ({ ...d, [key]: value })),
    form: { error, saved, busy },
    save: async () => {
      setBusy(true);
      setSaved(false);
      try {
        setDraftState(toDraft(await client.request('PUT', url, schema, { body: toBody(draft) })));
        setError(undefined);
        setSaved(true);
      } catch (err) {
        setError(describeError(err));
      } finally {
        setBusy(false);
      }
    },
  };
}

/** The form of one session setting: its fields (disabled until loaded, and for non-admins), Save, "Saved", a footer, the error. */
export function SessionSettingForm(props: {
  /** A class of its own beside `session-setting` (its page's styles). */
  className?: string;
  ariaLabel: string;
  legend: string;
  saveLabel: string;
  admin: boolean;
  /** What useSessionSetting answered: whether it loaded, the form's state, and the save. */
  setting: {
    loaded: boolean;
    form: { error: string | undefined; saved: boolean; busy: boolean };
    save: () => Promise<void>;
  };
  children: ReactNode;
  /** Shown after "Saved" (what a save answered once, such as a generated secret). */
  footer?: ReactNode;
}) {
  return (
    <form
      className={props.className ? `session-setting ${props.className}` : 'session-setting'}
      aria-label={props.ariaLabel}
      onSubmit={(e) => {
        e.preventDefault();
        void props.setting.save();
      }}
    >
      <fieldset disabled={!props.admin || !props.setting.loaded}>
        <legend>{props.legend}</legend>
        {props.children}
        {props.admin && (
          <button type="submit" disabled={props.setting.form.busy}>
            {props.saveLabel}
          </button>
        )}
        {props.setting.form.saved && <output>Saved</output>}
        {props.footer}
      </fieldset>
      <ErrorAlert error={props.setting.form.error} />
    </form>
  );
}
