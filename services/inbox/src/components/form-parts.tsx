import type { ReactNode } from 'react';

/** The last error of a page or form, announced to screen readers; nothing when there is none. */
export function ErrorAlert(props: { error: string | undefined }) {
  if (!props.error) return null;
  return (
    <p role="alert" className="error">
      {props.error}
    </p>
  );
}

/** A fieldset of checkboxes choosing a subset of `options` (webhook events, API key scopes). */
export function CheckboxGroup(props: {
  legend: string;
  options: readonly string[];
  value: string[];
  /** Called with the change to apply (a React state setter fits). */
  onChange: (change: (value: string[]) => string[]) => void;
}) {
  return (
    <fieldset>
      <legend>{props.legend}</legend>
      {props.options.map((option) => (
        <label key={option} className="check">
          <input
            type="checkbox"
            checked={props.value.includes(option)}
            onChange={(e) => {
              const checked = e.target.checked;
              props.onChange((value) => (checked ? [...value, option] : value.filter((x) => x !== option)));
            }}
          />
          {option}
        </label>
      ))}
    </fieldset>
  );
}

/** A required, labelled input of the sign-in pages (an email or a password). */
export function Field(props: {
  label: string;
  type: 'email' | 'password';
  autoComplete: 'username' | 'current-password' | 'new-password';
  minLength?: number;
  value: string;
  onChange: (value: string) => void;
}) {
  return (
    <label>
      {props.label}
      <input
        type={props.type}
        autoComplete={props.autoComplete}
        minLength={props.minLength}
        required
        value={props.value}
        onChange={(e) => props.onChange(e.target.value)}
      />
    </label>
  );
}

/**
 * The form of the pages shown before signing in (sign in, accept an invite): the product's name,
 * the fields, the last error and a submit button that says when the form is busy.
 */
export function SignInForm(props: {
  /** The form's accessible name. */
  label: string;
  busy: boolean;
  error: string | undefined;
  /** The button's text, and its text while busy. */
  submit: { idle: string; busy: string };
  onSubmit: () => Promise<void>;
  children: ReactNode;
}) {
  return (
    <main className="login">
      <form
        aria-label={props.label}
        onSubmit={async (e) => {
          e.preventDefault();
          await props.onSubmit();
        }}
      >
        <h1>Switchboard</h1>
        {props.children}
        <ErrorAlert error={props.error} />
        <button type="submit" disabled={props.busy}>
          {props.busy ? props.submit.busy : props.submit.idle}
        </button>
      </form>
    </main>
  );
}
