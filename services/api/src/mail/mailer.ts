import type { Logger, MetricsRegistry } from '@switchboard/telemetry';
import { type InviteMail, inviteMail, type MailLocale, passwordResetMail } from './templates.ts';
import type { MailTransport, OutgoingMail } from './transport.ts';

/** The kinds of mail the API sends (the `kind` label of the mail counter). */
export type MailKind = 'password_reset' | 'invite';

/** What the Mailer needs besides its transport. */
export interface MailerOptions {
  transport: MailTransport;
  /** The inbox's public URL (PUBLIC_URL): links in mails point under it. */
  publicUrl: string;
  /** The tenant's name as mails show it. */
  tenantName: string;
  locale: MailLocale;
  logger?: Logger | undefined;
  metrics?: MetricsRegistry | undefined;
}

/**
 * Writes the API's mails and hands them to the transport in the background: every method returns
 * at once, so no HTTP answer waits for (or fails with) the SMTP server. A failed send is logged
 * (never with the token or the link) and counted in switchboard_api_mails_total{outcome="failed"}.
 * `close` waits for the mails on their way, then closes the transport.
 */
export class Mailer {
  private readonly pending = new Set<Promise<void>>();
  private readonly counter: MailCounter | undefined;

  private readonly options: MailerOptions;

  constructor(options: MailerOptions) {
    this.options = options;
    this.counter = options.metrics ? mailCounter(options.metrics) : undefined;
  }

  /** The inbox page that sets a password with a single-use token (carried in the fragment, which no server sees). */
  linkFor(token: string): string {
    return `${this.options.publicUrl.replace(/\/+$/, '')}/accept-invite#token=${encodeURIComponent(token)}`;
  }

  /** Sends the password reset mail for a token the API issued. */
  passwordReset(delivery: { email: string; token: string; expiresAt: Date }): void {
    const mail = passwordResetMail(this.options.locale, {
      email: delivery.email,
      tenant: this.options.tenantName,
      link: this.linkFor(delivery.token),
      expiresAt: delivery.expiresAt,
    });
    this.dispatch('password_reset', mail);
  }

  /** Sends the invite mail of a new member. */
  invite(delivery: Omit<InviteMail, 'link' | 'tenant'> & { token: string }): void {
    const mail = inviteMail(this.options.locale, {
      email: delivery.email,
      displayName: delivery.displayName,
      role: delivery.role,
      tenant: this.options.tenantName,
      link: this.linkFor(delivery.token),
      expiresAt: delivery.expiresAt,
    });
    this.dispatch('invite', mail);
  }

  /** Resolves when every mail handed over so far has been sent or has failed (tests, shutdown). */
  async settled(): Promise<void> {
    await Promise.allSettled([...this.pending]);
  }

  /** Waits for the mails being sent, then closes the transport. */
  async close(): Promise<void> {
    await Promise.allSettled([...this.pending]);
    await this.options.transport.close();
  }

  private dispatch(kind: MailKind, mail: OutgoingMail): void {
    const work = this.options.transport.send(mail).then(
      () => {
        this.counter?.inc({ kind, outcome: 'sent' });
      },
      (error: unknown) => {
        this.counter?.inc({ kind, outcome: 'failed' });
        // The error's message and code only: nodemailer's error objects can carry the command sent.
        const { message, code } = describe(error);
        this.options.logger?.error({ kind, error: message, code }, 'mail delivery failed');
      },
    );
    this.pending.add(work);
    void work.finally(() => this.pending.delete(work));
  }
}

type MailCounter = ReturnType<MetricsRegistry['counter']>;
const counters = new WeakMap<MetricsRegistry, MailCounter>();

/** The mail counter of a registry, created once (several Mailers may share a registry). */
function mailCounter(metrics: MetricsRegistry): MailCounter {
  let counter = counters.get(metrics);
  if (!counter) {
    counter = metrics.counter<'kind' | 'outcome'>({
      name: 'switchboard_api_mails_total',
      help: 'Mails the API handed to the SMTP server, by kind and outcome (sent or failed).',
      labelNames: ['kind', 'outcome'],
    });
    counters.set(metrics, counter);
  }
  return counter;
}

function describe(error: unknown): { message: string; code: string | undefined } {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return { message: error.message, code: typeof code === 'string' ? code : undefined };
  }
  return { message: String(error), code: undefined };
}
