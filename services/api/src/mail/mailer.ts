import type { Logger, MetricsRegistry } from '@switchboard/telemetry';
import {
  type InviteMail,
  inviteMail,
  type MailLocale,
  mailLocaleOf,
  passwordResetMail,
  type SecurityNoticeMail,
  securityNoticeMail,
} from './templates.ts';
import type { MailTransport, OutgoingMail } from './transport.ts';

/** The kinds of mail the API sends (the `kind` label of the mail counter). */
export type MailKind = 'password_reset' | 'invite' | 'security_notice';

/** What the Mailer needs besides its transport. */
export interface MailerOptions {
  transport: MailTransport;
  /** The inbox's public URL (PUBLIC_URL): links in mails point under it. */
  publicUrl: string;
  /** The tenant's name as mails show it. */
  tenantName: string;
  /** The tenant's default language: the mails of a member without a locale of their own. */
  locale: MailLocale;
  /**
   * Milliseconds to wait before each retry of a transient failure (a 4xx answer, a connection
   * that failed or timed out): its length is the number of retries. Default 2s, 10s, 60s, 5min.
   */
  retryDelaysMs?: readonly number[] | undefined;
  /** Mails waiting or being sent at most; one more is dropped (logged and counted). Default 1000. */
  maxQueued?: number | undefined;
  logger?: Logger | undefined;
  metrics?: MetricsRegistry | undefined;
}

/** Retry delays of a transient failure: a greylisting relay typically accepts after a minute or a few. */
export const DEFAULT_RETRY_DELAYS_MS = [2_000, 10_000, 60_000, 300_000] as const;

/** A language tag as deliveries carry it: a member's locale, or none for the tenant's default. */
type LocaleTag = string | null | undefined;

/**
 * Writes the API's mails and sends them in the background: every method returns at once, so no
 * HTTP answer waits for (or fails with) the SMTP server. The queue is in memory (a mail not yet
 * sent when the process stops is lost: a reset can be requested again, an invite resent) and
 * bounded by `maxQueued`. A transient failure is retried after each of `retryDelaysMs`; a
 * permanent one (a 5xx answer, refused credentials) is not. Each outcome is counted in
 * switchboard_api_mails_total{kind, outcome: sent, retried, failed, dropped} and every failure
 * logged with the kind, the error's message and code only (never the address, token or link).
 * `close` waits for the mails on their way, then closes the transport.
 */
export class Mailer {
  private readonly pending = new Set<Promise<void>>();
  private readonly counter: MailCounter | undefined;
  private readonly options: MailerOptions;
  private readonly retryDelays: readonly number[];
  private readonly maxQueued: number;
  private readonly timers = new Set<{ timer: NodeJS.Timeout; resolve: () => void }>();
  private closing = false;

  constructor(options: MailerOptions) {
    this.options = options;
    this.retryDelays = options.retryDelaysMs ?? DEFAULT_RETRY_DELAYS_MS;
    this.maxQueued = options.maxQueued ?? 1000;
    this.counter = options.metrics ? mailCounter(options.metrics) : undefined;
  }

  /** The inbox page that sets a password with a single-use token (carried in the fragment, which no server sees). */
  linkFor(token: string): string {
    return `${this.inboxUrl()}/accept-invite#token=${encodeURIComponent(token)}`;
  }

  /** The inbox's address without a trailing slash. */
  inboxUrl(): string {
    return this.options.publicUrl.replace(/\/+$/, '');
  }

  /** The catalogue's language for a member's locale; the tenant's default without one. */
  localeFor(tag: LocaleTag): MailLocale {
    return mailLocaleOf(tag, this.options.locale);
  }

  /** Sends the password reset mail for a token the API issued. */
  passwordReset(delivery: { email: string; token: string; expiresAt: Date; locale?: LocaleTag }): void {
    const mail = passwordResetMail(this.localeFor(delivery.locale), {
      email: delivery.email,
      tenant: this.options.tenantName,
      link: this.linkFor(delivery.token),
      expiresAt: delivery.expiresAt,
    });
    this.dispatch('password_reset', mail);
  }

  /** Sends the invite mail of a new member. */
  invite(delivery: Omit<InviteMail, 'link' | 'tenant'> & { token: string; locale?: LocaleTag }): void {
    const mail = inviteMail(this.localeFor(delivery.locale), {
      email: delivery.email,
      displayName: delivery.displayName,
      role: delivery.role,
      tenant: this.options.tenantName,
      link: this.linkFor(delivery.token),
      expiresAt: delivery.expiresAt,
    });
    this.dispatch('invite', mail);
  }

  /** Sends a security notice (new sign-in, password changed, two-factor changed) to the member. */
  securityNotice(delivery: Omit<SecurityNoticeMail, 'link' | 'tenant'> & { locale?: LocaleTag }): void {
    const { locale, ...notice } = delivery;
    const mail = securityNoticeMail(this.localeFor(locale), {
      ...notice,
      tenant: this.options.tenantName,
      link: `${this.inboxUrl()}/`,
    });
    this.dispatch('security_notice', mail);
  }

  /** Mails waiting or being sent now. */
  get queued(): number {
    return this.pending.size;
  }

  /** Resolves when every mail handed over so far has been sent or has failed (tests, shutdown). */
  async settled(): Promise<void> {
    while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
  }

  /**
   * Stops retrying (a mail waiting for its next attempt fails now, logged and counted), waits for
   * the attempts under way, then closes the transport.
   */
  async close(): Promise<void> {
    this.closing = true;
    for (const waiting of this.timers) {
      clearTimeout(waiting.timer);
      waiting.resolve();
    }
    await this.settled();
    await this.options.transport.close();
  }

  private dispatch(kind: MailKind, mail: OutgoingMail): void {
    if (this.closing || this.pending.size >= this.maxQueued) {
      this.counter?.inc({ kind, outcome: 'dropped' });
      this.options.logger?.error(
        { kind, queued: this.pending.size },
        this.closing ? 'mail dropped: the mailer is closing' : 'mail dropped: the mail queue is full',
      );
      return;
    }
    const work = this.deliver(kind, mail);
    this.pending.add(work);
    void work.finally(() => this.pending.delete(work));
  }

  private async deliver(kind: MailKind, mail: OutgoingMail): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        await this.options.transport.send(mail);
        this.counter?.inc({ kind, outcome: 'sent' });
        return;
      } catch (error) {
        // The error's message and code only: nodemailer's error objects can carry the command sent.
        const { message, code, responseCode } = describe(error);
        const delay = this.retryDelays[attempt];
        if (delay !== undefined && isTransient(code, responseCode) && !this.closing) {
          this.counter?.inc({ kind, outcome: 'retried' });
          this.options.logger?.warn(
            { kind, error: message, code, responseCode, attempt: attempt + 1, retryInMs: delay },
            'mail delivery failed; retrying',
          );
          await this.wait(delay);
          if (!this.closing) continue;
        }
        this.counter?.inc({ kind, outcome: 'failed' });
        this.options.logger?.error(
          { kind, error: message, code, responseCode, attempts: attempt + 1 },
          'mail delivery failed',
        );
        return;
      }
    }
  }

  private wait(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const waiting = {
        timer: setTimeout(() => {
          this.timers.delete(waiting);
          resolve();
        }, ms),
        resolve,
      };
      this.timers.add(waiting);
    });
  }
}

// nodemailer's codes of failures that a later attempt can get past: no connection, a timeout, a
// dropped socket, a failed DNS lookup. EAUTH (refused credentials), EENVELOPE (refused address)
// and EMESSAGE are permanent unless the server's answer says otherwise (a 4xx code).
const TRANSIENT_CODES = new Set([
  'ECONNECTION',
  'ETIMEDOUT',
  'ESOCKET',
  'EDNS',
  'ECONNRESET',
  'ECONNREFUSED',
]);

/** Whether a failure is worth another attempt: a 4xx SMTP answer (RFC 5321 4.2.1) or a connection problem. */
export function isTransient(code: string | undefined, responseCode: number | undefined): boolean {
  if (responseCode !== undefined) return responseCode >= 400 && responseCode < 500;
  return code !== undefined && TRANSIENT_CODES.has(code);
}

type MailCounter = ReturnType<MetricsRegistry['counter']>;
const counters = new WeakMap<MetricsRegistry, MailCounter>();

/** The mail counter of a registry, created once (several Mailers may share a registry). */
function mailCounter(metrics: MetricsRegistry): MailCounter {
  let counter = counters.get(metrics);
  if (!counter) {
    counter = metrics.counter<'kind' | 'outcome'>({
      name: 'switchboard_api_mails_total',
      help: 'Mails the API handed to the SMTP server, by kind and outcome (sent, retried, failed, dropped).',
      labelNames: ['kind', 'outcome'],
    });
    counters.set(metrics, counter);
  }
  return counter;
}

function describe(error: unknown): {
  message: string;
  code: string | undefined;
  responseCode: number | undefined;
} {
  if (error instanceof Error) {
    const { code, responseCode } = error as { code?: unknown; responseCode?: unknown };
    return {
      // A relay's answer may quote the recipient ("550 5.1.1 <a@b>: no such user"): addresses
      // are cut out, so the log never holds one.
      message: error.message.replace(/[^\s<>()"',;:@]+@[^\s<>()"',;:@]+/g, '<address>'),
      code: typeof code === 'string' ? code : undefined,
      responseCode: typeof responseCode === 'number' ? responseCode : undefined,
    };
  }
  return { message: 'non-Error thrown by the transport', code: undefined, responseCode: undefined };
}
