// The mails the API sends, in plain text and HTML from one set of strings per locale. A locale is
// one entry of CATALOGUE; adding a language is adding an entry with the same keys (the type
// checks that every key is there).
import type { OutgoingMail } from './transport.ts';

/** The strings of one language; `{name}` placeholders are filled by `render`. */
interface Strings {
  passwordReset: { subject: string; intro: string; action: string; expiry: string; ignore: string };
  invite: { subject: string; intro: string; action: string; expiry: string; ignore: string };
  /** Formats an expiry for the reader (the mail's `{expires}`). */
  formatDate: (date: Date) => string;
}

const english: Strings = {
  passwordReset: {
    subject: 'Reset your {tenant} password',
    intro: 'Someone asked to reset the password of {email} on {tenant}.',
    action: 'Set a new password',
    expiry: 'The link works once, until {expires}.',
    ignore: 'If you did not ask for this, ignore this mail: your password stays as it is.',
  },
  invite: {
    subject: 'You are invited to {tenant}',
    intro: 'Hello {name}, you are invited to the {tenant} inbox on Switchboard as {role}.',
    action: 'Accept the invite',
    expiry: 'The link works once, until {expires}.',
    ignore: 'If you did not expect this invite, ignore this mail.',
  },
  formatDate: (date) =>
    `${new Intl.DateTimeFormat('en-GB', { dateStyle: 'long', timeStyle: 'short', timeZone: 'UTC' }).format(date)} UTC`,
};

/** Every language a mail can be written in, by BCP 47 tag. */
export const CATALOGUE = { en: english } as const satisfies Record<string, Strings>;

/** A language of the catalogue. */
export type MailLocale = keyof typeof CATALOGUE;

/** The catalogue's languages (MAIL_LOCALE takes one of them). */
export const MAIL_LOCALES = Object.keys(CATALOGUE) as [MailLocale, ...MailLocale[]];

/** What a password reset mail says. */
export interface PasswordResetMail {
  email: string;
  tenant: string;
  link: string;
  expiresAt: Date;
}

/** What an invite mail says. */
export interface InviteMail {
  email: string;
  displayName: string;
  role: string;
  tenant: string;
  link: string;
  expiresAt: Date;
}

function fill(template: string, values: Record<string, string>): string {
  return template.replace(/\{(\w+)\}/g, (whole, key: string) => values[key] ?? whole);
}

/** Escapes text for HTML content and double-quoted attributes. */
export function escapeHtml(text: string): string {
  return text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

/** The same mail as text and as a small HTML page; every value is escaped in the HTML. */
function compose(
  to: string,
  strings: { subject: string; intro: string; action: string; expiry: string; ignore: string },
  values: Record<string, string>,
  link: string,
): OutgoingMail {
  const subject = fill(strings.subject, values);
  const intro = fill(strings.intro, values);
  const action = fill(strings.action, values);
  const expiry = fill(strings.expiry, values);
  const ignore = fill(strings.ignore, values);
  const text = `${intro}\n\n${action}:\n${link}\n\n${expiry}\n\n${ignore}\n`;
  const e = escapeHtml;
  const html = [
    '<!doctype html>',
    `<html><head><meta charset="utf-8"><title>${e(subject)}</title></head>`,
    '<body style="font-family:sans-serif;line-height:1.5">',
    `<p>${e(intro)}</p>`,
    `<p><a href="${e(link)}">${e(action)}</a></p>`,
    `<p>${e(expiry)}</p>`,
    `<p style="color:#555">${e(ignore)}</p>`,
    '</body></html>',
  ].join('\n');
  return { to, subject, text, html };
}

/** The password reset mail in `locale`. */
export function passwordResetMail(locale: MailLocale, mail: PasswordResetMail): OutgoingMail {
  const strings = CATALOGUE[locale];
  const values = { email: mail.email, tenant: mail.tenant, expires: strings.formatDate(mail.expiresAt) };
  return compose(mail.email, strings.passwordReset, values, mail.link);
}

/** The invite mail in `locale`. */
export function inviteMail(locale: MailLocale, mail: InviteMail): OutgoingMail {
  const strings = CATALOGUE[locale];
  const values = {
    name: mail.displayName,
    role: mail.role,
    tenant: mail.tenant,
    expires: strings.formatDate(mail.expiresAt),
  };
  return compose(mail.email, strings.invite, values, mail.link);
}
