import { useCallback, useEffect, useState } from 'react';
import { type ApiClient, describeError } from '../api/client.ts';
import {
  type Enrolment,
  enrolmentSchema,
  recoveryCodesSchema,
  requiredEnrolmentSchema,
  type SignInStep,
  securityPolicySchema,
  type TwoFactorStatus,
  twoFactorStatusSchema,
} from '../api/two-factor-schemas.ts';
import { roleAtLeast, useApp } from '../app-context.tsx';
import { ErrorAlert, SignInForm } from '../components/form-parts.tsx';

/** The input of a 6-digit code (or, where `recovery`, a recovery code). */
function CodeField(props: { label: string; value: string; onChange: (value: string) => void }) {
  return (
    <label>
      {props.label}
      <input
        type="text"
        inputMode="text"
        autoComplete="one-time-code"
        spellCheck={false}
        required
        maxLength={64}
        value={props.value}
        onChange={(e) => props.onChange(e.target.value)}
      />
    </label>
  );
}

/** The recovery codes, shown once: copy, download, then done. */
function RecoveryCodes(props: { codes: string[]; onDone: () => void; done: string }) {
  const [copied, setCopied] = useState(false);
  const text = `${props.codes.join('\n')}\n`;
  return (
    <section className="secret recovery-codes" aria-label="Recovery codes">
      <p>
        <strong>Recovery codes</strong>: each signs you in once if you lose your authenticator. Keep them
        somewhere safe now; they are not shown again.
      </p>
      <ul>
        {props.codes.map((code) => (
          <li key={code}>
            <code>{code}</code>
          </li>
        ))}
      </ul>
      <button
        type="button"
        onClick={() =>
          navigator.clipboard
            ?.writeText(text)
            .then(() => setCopied(true))
            .catch(() => setCopied(false))
        }
      >
        {copied ? 'Copied' : 'Copy'}
      </button>
      <a
        className="button"
        download="switchboard-recovery-codes.txt"
        href={`data:text/plain;charset=utf-8,${encodeURIComponent(text)}`}
      >
        Download
      </a>
      <button type="button" onClick={props.onDone}>
        {props.done}
      </button>
    </section>
  );
}

/**
 * Enrolment: the QR code (and the secret for typing), a code to confirm it, then the recovery
 * codes once. `start` and `confirm` call the API (signed in, or with an enrol-only token).
 */
function EnrolmentSteps(props: {
  start: () => Promise<Enrolment>;
  confirm: (code: string) => Promise<string[]>;
  onDone: () => void;
  done: string;
}) {
  const { start } = props;
  const [enrolment, setEnrolment] = useState<Enrolment | undefined>();
  const [codes, setCodes] = useState<string[] | undefined>();
  const [code, setCode] = useState('');
  const [error, setError] = useState<string | undefined>();
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    start().then(setEnrolment, (e: unknown) => setError(describeError(e)));
  }, [start]);
  if (codes) return <RecoveryCodes codes={codes} onDone={props.onDone} done={props.done} />;
  return (
    <form
      aria-label="Set up two-factor sign-in"
      className="enrolment"
      onSubmit={async (e) => {
        e.preventDefault();
        setBusy(true);
        try {
          setCodes(await props.confirm(code.trim()));
          setError(undefined);
        } catch (err) {
          setError(describeError(err));
        }
        setBusy(false);
      }}
    >
      {enrolment && (
        <>
          <p>Scan this code with an authenticator app (or type the key), then enter the code it shows.</p>
          <img className="totp-qr" src={enrolment.qrCode} alt="QR code of the authenticator key" />
          <p>
            Key: <code className="totp-secret">{enrolment.secret}</code>
          </p>
          <CodeField label="Code from the app" value={code} onChange={setCode} />
        </>
      )}
      <ErrorAlert error={error} />
      <button type="submit" disabled={busy || !enrolment}>
        {busy ? 'Checking…' : 'Turn on two-factor sign-in'}
      </button>
    </form>
  );
}

/**
 * The sign-in's second step, after a good password: a code (or a recovery code) for the
 * challenge, or, when the tenant requires an admin or owner to have two-factor sign-in, the
 * enrolment that finishes that sign-in.
 */
export function TwoFactorSignIn(props: {
  client: ApiClient;
  step: Exclude<SignInStep, { kind: 'signed-in' }>;
  onSignedIn: () => Promise<void>;
  onCancel: () => void;
}) {
  const { client, step } = props;
  const [code, setCode] = useState('');
  const [error, setError] = useState<string | undefined>();
  const [busy, setBusy] = useState(false);
  const [tokens, setTokens] = useState<Parameters<ApiClient['signInWith']>[0] | undefined>();
  const enrolmentToken = step.kind === 'enrol' ? step.enrolmentToken : '';
  const start = useCallback(
    () => client.publicRequest('/v1/auth/two-factor/enrolment/start', enrolmentSchema, { enrolmentToken }),
    [client, enrolmentToken],
  );
  if (step.kind === 'enrol') {
    return (
      <main className="login">
        <section className="login-step" aria-label="Two-factor sign-in required">
          <h1>Switchboard</h1>
          <p>Your team requires two-factor sign-in for admins and owners. Set it up to continue.</p>
          <EnrolmentSteps
            start={start}
            confirm={async (value) => {
              const done = await client.publicRequest(
                '/v1/auth/two-factor/enrolment/confirm',
                requiredEnrolmentSchema,
                { enrolmentToken, code: value },
              );
              setTokens(done.tokens);
              return done.recoveryCodes;
            }}
            done="Continue"
            onDone={() => {
              if (!tokens) return;
              client.signInWith(tokens);
              void props.onSignedIn();
            }}
          />
          <button type="button" className="link" onClick={props.onCancel}>
            Back to sign in
          </button>
        </section>
      </main>
    );
  }
  return (
    <SignInForm
      label="Two-factor sign-in"
      busy={busy}
      error={error}
      submit={{ idle: 'Verify', busy: 'Verifying…' }}
      onSubmit={async () => {
        setBusy(true);
        try {
          await client.verifyTwoFactor(step.challenge, code.trim());
          await props.onSignedIn();
        } catch (err) {
          setError(describeError(err));
          setBusy(false);
        }
      }}
    >
      <p>Enter the code from your authenticator app, or one of your recovery codes.</p>
      <CodeField label="Authentication code" value={code} onChange={setCode} />
      <button type="button" className="link" onClick={props.onCancel}>
        Back to sign in
      </button>
    </SignInForm>
  );
}

/** The signed-in member's two-factor settings, and (admins and owners) the tenant's policy. */
export function TwoFactorPage() {
  const { client, me } = useApp();
  const [status, setStatus] = useState<TwoFactorStatus | undefined>();
  const [enrolling, setEnrolling] = useState(false);
  const [error, setError] = useState<string | undefined>();
  const load = useCallback(() => {
    client.request('GET', '/v1/auth/two-factor', twoFactorStatusSchema).then(
      (s) => {
        setStatus(s);
        setError(undefined);
      },
      (e: unknown) => setError(describeError(e)),
    );
  }, [client]);
  useEffect(load, [load]);
  const start = useCallback(
    () => client.request('POST', '/v1/auth/two-factor/enrol', enrolmentSchema),
    [client],
  );
  return (
    <div className="page">
      <h1>Two-factor sign-in</h1>
      <ErrorAlert error={error} />
      {status && !status.enabled && !enrolling && (
        <section aria-label="Two-factor status">
          <p>
            Two-factor sign-in is <strong>off</strong>.
            {status.required ? ' Your team requires it of admins and owners.' : ''}
          </p>
          <button type="button" onClick={() => setEnrolling(true)}>
            Set up two-factor sign-in
          </button>
        </section>
      )}
      {enrolling && (
        <EnrolmentSteps
          start={start}
          confirm={async (code) =>
            (
              await client.request('POST', '/v1/auth/two-factor/confirm', recoveryCodesSchema, {
                body: { code },
              })
            ).recoveryCodes
          }
          done="Done"
          onDone={() => {
            setEnrolling(false);
            load();
          }}
        />
      )}
      {status?.enabled && !enrolling && <Enabled status={status} onDisabled={load} />}
      {roleAtLeast(me.role, 'admin') && <Policy />}
    </div>
  );
}

function Enabled(props: { status: TwoFactorStatus; onDisabled: () => void }) {
  const { client } = useApp();
  const [password, setPassword] = useState('');
  const [code, setCode] = useState('');
  const [error, setError] = useState<string | undefined>();
  return (
    <section aria-label="Two-factor status">
      <p>
        Two-factor sign-in is <strong>on</strong>. Recovery codes left: {props.status.recoveryCodesLeft}.
      </p>
      {props.status.required ? (
        <p>Your team requires it of admins and owners, so it stays on.</p>
      ) : (
        <form
          aria-label="Turn off two-factor sign-in"
          className="inline-form"
          onSubmit={async (e) => {
            e.preventDefault();
            try {
              await client.send('POST', '/v1/auth/two-factor/disable', {
                body: { password, code: code.trim() },
              });
              props.onDisabled();
            } catch (err) {
              setError(describeError(err));
            }
          }}
        >
          <label>
            Password
            <input
              type="password"
              autoComplete="current-password"
              required
              value={password}
              onChange={(e) => setPassword(e.target.value)}
            />
          </label>
          <CodeField label="Code" value={code} onChange={setCode} />
          <button type="submit">Turn off</button>
          <ErrorAlert error={error} />
        </form>
      )}
    </section>
  );
}

function Policy() {
  const { client } = useApp();
  const [required, setRequired] = useState<boolean | undefined>();
  const [error, setError] = useState<string | undefined>();
  useEffect(() => {
    client.request('GET', '/v1/tenant/security', securityPolicySchema).then(
      (p) => setRequired(p.requireTwoFactorForAdmins),
      (e: unknown) => setError(describeError(e)),
    );
  }, [client]);
  return (
    <section aria-labelledby="policy-title">
      <h2 id="policy-title">Team policy</h2>
      <ErrorAlert error={error} />
      {required !== undefined && (
        <label className="check">
          <input
            type="checkbox"
            checked={required}
            onChange={async (e) => {
              const value = e.target.checked;
              // Shown at once; put back when the API refuses.
              setRequired(value);
              try {
                const saved = await client.request('PUT', '/v1/tenant/security', securityPolicySchema, {
                  body: { requireTwoFactorForAdmins: value },
                });
                setRequired(saved.requireTwoFactorForAdmins);
                setError(undefined);
              } catch (err) {
                setRequired(!value);
                setError(describeError(err));
              }
            }}
          />
          Require two-factor sign-in for admins and owners
        </label>
      )}
    </section>
  );
}
