import { useState } from 'react';
import { Field, SignInForm } from '../components/form-parts.tsx';
import { SsoButton } from './sso.tsx';

/** Email and password; `onLogin` answers an error message, or undefined when signed in. */
export function LoginPage(props: {
  notice?: string;
  onLogin: (email: string, password: string) => Promise<string | undefined>;
}) {
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<string | undefined>();
  const [busy, setBusy] = useState(false);
  return (
    <SignInForm
      label="Sign in"
      busy={busy}
      error={error}
      submit={{ idle: 'Sign in', busy: 'Signing in…' }}
      onSubmit={async () => {
        setBusy(true);
        setError(await props.onLogin(email.trim(), password));
        setBusy(false);
      }}
    >
      {props.notice && !error && <p className="notice">{props.notice}</p>}
      <SsoButton />
      <Field label="Email" type="email" autoComplete="username" value={email} onChange={setEmail} />
      <Field
        label="Password"
        type="password"
        autoComplete="current-password"
        value={password}
        onChange={setPassword}
      />
    </SignInForm>
  );
}
