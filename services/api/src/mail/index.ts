// Email delivery: the mail port (transport.ts), its SMTP adapter on nodemailer (smtp.ts), the
// templates in every language (templates.ts), the Mailer that writes, queues and retries in the
// background (mailer.ts), and the security notices the API's identity code hands over
// (security-notices.ts).
import { readFile } from 'node:fs/promises';
import type { Logger, MetricsRegistry } from '@switchboard/telemetry';
import { Mailer } from './mailer.ts';
import { createSmtpTransport, type SmtpTlsMode } from './smtp.ts';
import type { MailLocale } from './templates.ts';

export { DEFAULT_RETRY_DELAYS_MS, isTransient, Mailer, type MailerOptions, type MailKind } from './mailer.ts';
export {
  KNOWN_DEVICES_PER_MEMBER,
  noteSignIn,
  type SecurityEvent,
  sendSecurityNotice,
  settledSecurityNotices,
} from './security-notices.ts';
export { createSmtpTransport, SMTP_TLS_MODES, type SmtpSettings, type SmtpTlsMode } from './smtp.ts';
export {
  CATALOGUE,
  escapeHtml,
  inviteMail,
  MAIL_LOCALES,
  type MailLocale,
  mailLocaleOf,
  passwordResetMail,
  SECURITY_NOTICE_KINDS,
  type SecurityNoticeKind,
  securityNoticeMail,
  type TwoFactorChange,
} from './templates.ts';
export type { MailTransport, OutgoingMail } from './transport.ts';

/** The SMTP_* / PUBLIC_URL / MAIL_LOCALE settings (the API config's fields). */
export interface MailConfig {
  SMTP_HOST?: string | undefined;
  SMTP_PORT?: number | undefined;
  SMTP_TLS: SmtpTlsMode;
  SMTP_FROM?: string | undefined;
  SMTP_USERNAME?: string | undefined;
  SMTP_PASSWORD?: string | undefined;
  SMTP_CA_FILE?: string | undefined;
  PUBLIC_URL?: string | undefined;
  MAIL_LOCALE: MailLocale;
}

/**
 * The Mailer the configuration asks for: none without SMTP_HOST (the caller keeps today's log
 * line). With SMTP_HOST, SMTP_FROM and PUBLIC_URL are required and SMTP_USERNAME and
 * SMTP_PASSWORD come together; a missing one throws naming it.
 */
export async function mailerFromConfig(
  config: MailConfig,
  tenantName: string,
  telemetry: { logger?: Logger; metrics?: MetricsRegistry },
): Promise<Mailer | undefined> {
  if (!config.SMTP_HOST) return undefined;
  if (!config.SMTP_FROM) throw new Error('SMTP_FROM: required when SMTP_HOST is set');
  if (!config.PUBLIC_URL) throw new Error('PUBLIC_URL: required when SMTP_HOST is set (links in mails)');
  if (!!config.SMTP_USERNAME !== !!config.SMTP_PASSWORD)
    throw new Error('SMTP_USERNAME and SMTP_PASSWORD: give both or neither');
  const ca = config.SMTP_CA_FILE ? await readFile(config.SMTP_CA_FILE, 'utf8') : undefined;
  const transport = createSmtpTransport({
    host: config.SMTP_HOST,
    port: config.SMTP_PORT,
    tls: config.SMTP_TLS,
    from: config.SMTP_FROM,
    auth:
      config.SMTP_USERNAME && config.SMTP_PASSWORD
        ? { user: config.SMTP_USERNAME, pass: config.SMTP_PASSWORD }
        : undefined,
    ca,
  });
  return new Mailer({
    transport,
    publicUrl: config.PUBLIC_URL,
    tenantName,
    locale: config.MAIL_LOCALE,
    logger: telemetry.logger,
    metrics: telemetry.metrics,
  });
}
