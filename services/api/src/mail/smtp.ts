import { createTransport } from 'nodemailer';
import type { MailTransport, OutgoingMail } from './transport.ts';

/** How the connection to the SMTP server is protected. */
export const SMTP_TLS_MODES = ['none', 'starttls', 'tls'] as const;

/** `none`: plain text; `starttls`: plain, then upgraded (required, never optional); `tls`: TLS from the start. */
export type SmtpTlsMode = (typeof SMTP_TLS_MODES)[number];

/** What the SMTP adapter needs: the relay, its TLS mode, the sender, and optional credentials. */
export interface SmtpSettings {
  host: string;
  /** Default by mode: 25 (none), 587 (starttls), 465 (tls). */
  port?: number | undefined;
  tls: SmtpTlsMode;
  /** The From header: `Name <address>` or an address. */
  from: string;
  /** AUTH credentials; none sends without authenticating. */
  auth?: { user: string; pass: string } | undefined;
  /** PEM certificates to trust for the relay's certificate (a private CA or a self-signed relay). */
  ca?: string | undefined;
  /** Milliseconds to wait for the connection, greeting and each command (default 10s). */
  timeoutMs?: number | undefined;
}

const DEFAULT_PORTS: Record<SmtpTlsMode, number> = { none: 25, starttls: 587, tls: 465 };

/**
 * The mail port on nodemailer's SMTP transport. With `starttls` the upgrade is required: a server
 * that does not offer STARTTLS fails the send rather than receive the mail in plain text. The
 * relay's certificate is always verified (against `ca` when given, else the system's roots).
 */
export function createSmtpTransport(settings: SmtpSettings): MailTransport {
  const timeout = settings.timeoutMs ?? 10_000;
  const transporter = createTransport({
    host: settings.host,
    port: settings.port ?? DEFAULT_PORTS[settings.tls],
    secure: settings.tls === 'tls',
    requireTLS: settings.tls === 'starttls',
    ignoreTLS: settings.tls === 'none',
    ...(settings.auth ? { auth: { user: settings.auth.user, pass: settings.auth.pass } } : {}),
    tls: { rejectUnauthorized: true, ...(settings.ca ? { ca: settings.ca } : {}) },
    connectionTimeout: timeout,
    greetingTimeout: timeout,
    socketTimeout: timeout,
    // nodemailer's own logger stays off: it would print addresses and, at debug, the AUTH exchange.
    logger: false,
    debug: false,
  });
  return {
    async send(mail: OutgoingMail): Promise<void> {
      await transporter.sendMail({
        from: settings.from,
        to: mail.to,
        subject: mail.subject,
        text: mail.text,
        html: mail.html,
      });
    },
    async close(): Promise<void> {
      transporter.close();
    },
  };
}
