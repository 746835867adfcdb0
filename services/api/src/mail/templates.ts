// The mails the API sends, in plain text and HTML from one set of strings per locale. A locale is
// one entry of CATALOGUE; adding a language is adding an entry with the same keys (the type
// checks that every key is there). A tag the catalogue lacks falls back to its language, then to
// English (`mailLocaleOf`).
import type { OutgoingMail } from './transport.ts';

/** The strings of a mail with a link: `{name}` placeholders are filled by `fill`. */
interface LinkStrings {
  subject: string;
  intro: string;
  action: string;
  expiry: string;
  ignore: string;
}

/** The strings of a security notice: what happened, the details, and what to do if it was not you. */
interface NoticeStrings {
  subject: string;
  intro: string;
}

/** The strings of one language. */
interface Strings {
  passwordReset: LinkStrings;
  invite: LinkStrings;
  notice: {
    new_sign_in: NoticeStrings;
    password_changed: NoticeStrings;
    two_factor_changed: NoticeStrings;
    /** The details lines: `{when}`, `{ip}`, `{device}`. */
    when: string;
    ip: string;
    device: string;
    notYou: string;
    open: string;
  };
  /** Role names as the reader reads them. */
  roles: Record<'owner' | 'admin' | 'agent' | 'viewer', string>;
  /** Formats a date for the reader (the mail's `{expires}` and `{when}`). */
  formatDate: (date: Date) => string;
}

const dateIn = (tag: string) => (date: Date) =>
  `${new Intl.DateTimeFormat(tag, { dateStyle: 'long', timeStyle: 'short', timeZone: 'UTC' }).format(date)} UTC`;

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
  notice: {
    new_sign_in: {
      subject: 'New sign-in to {tenant}',
      intro: 'Hello {name}, your {tenant} account ({email}) was signed in to from a new device or address.',
    },
    password_changed: {
      subject: 'Your {tenant} password was changed',
      intro: 'Hello {name}, the password of your {tenant} account ({email}) was changed.',
    },
    two_factor_changed: {
      subject: 'Two-factor sign-in changed on {tenant}',
      intro: 'Hello {name}, two-factor sign-in of your {tenant} account ({email}) was {change}.',
    },
    when: 'When: {when}',
    ip: 'IP address: {ip}',
    device: 'Device: {device}',
    notYou:
      'If this was not you, reset your password now and tell an administrator of {tenant}: someone else may know it.',
    open: 'Open {tenant}',
  },
  roles: { owner: 'owner', admin: 'administrator', agent: 'agent', viewer: 'viewer' },
  formatDate: dateIn('en-GB'),
};

const brazilianPortuguese: Strings = {
  passwordReset: {
    subject: 'Redefina sua senha de {tenant}',
    intro: 'Alguém pediu para redefinir a senha de {email} em {tenant}.',
    action: 'Definir uma nova senha',
    expiry: 'O link funciona uma vez, até {expires}.',
    ignore: 'Se você não pediu isso, ignore este e-mail: sua senha continua a mesma.',
  },
  invite: {
    subject: 'Você foi convidado para {tenant}',
    intro: 'Olá {name}, você foi convidado para a caixa de entrada de {tenant} no Switchboard como {role}.',
    action: 'Aceitar o convite',
    expiry: 'O link funciona uma vez, até {expires}.',
    ignore: 'Se você não esperava este convite, ignore este e-mail.',
  },
  notice: {
    new_sign_in: {
      subject: 'Novo acesso a {tenant}',
      intro: 'Olá {name}, sua conta de {tenant} ({email}) foi acessada de um novo dispositivo ou endereço.',
    },
    password_changed: {
      subject: 'Sua senha de {tenant} foi alterada',
      intro: 'Olá {name}, a senha da sua conta de {tenant} ({email}) foi alterada.',
    },
    two_factor_changed: {
      subject: 'A verificação em duas etapas mudou em {tenant}',
      intro: 'Olá {name}, a verificação em duas etapas da sua conta de {tenant} ({email}) foi {change}.',
    },
    when: 'Quando: {when}',
    ip: 'Endereço IP: {ip}',
    device: 'Dispositivo: {device}',
    notYou:
      'Se não foi você, redefina sua senha agora e avise um administrador de {tenant}: outra pessoa pode conhecê-la.',
    open: 'Abrir {tenant}',
  },
  roles: { owner: 'proprietário', admin: 'administrador', agent: 'atendente', viewer: 'leitor' },
  formatDate: dateIn('pt-BR'),
};

const spanish: Strings = {
  passwordReset: {
    subject: 'Restablece tu contraseña de {tenant}',
    intro: 'Alguien pidió restablecer la contraseña de {email} en {tenant}.',
    action: 'Elegir una nueva contraseña',
    expiry: 'El enlace funciona una vez, hasta el {expires}.',
    ignore: 'Si no lo pediste, ignora este correo: tu contraseña no cambia.',
  },
  invite: {
    subject: 'Te invitaron a {tenant}',
    intro: 'Hola {name}, te invitaron a la bandeja de entrada de {tenant} en Switchboard como {role}.',
    action: 'Aceptar la invitación',
    expiry: 'El enlace funciona una vez, hasta el {expires}.',
    ignore: 'Si no esperabas esta invitación, ignora este correo.',
  },
  notice: {
    new_sign_in: {
      subject: 'Nuevo inicio de sesión en {tenant}',
      intro:
        'Hola {name}, se inició sesión en tu cuenta de {tenant} ({email}) desde un dispositivo o dirección nuevos.',
    },
    password_changed: {
      subject: 'Tu contraseña de {tenant} cambió',
      intro: 'Hola {name}, la contraseña de tu cuenta de {tenant} ({email}) cambió.',
    },
    two_factor_changed: {
      subject: 'La verificación en dos pasos cambió en {tenant}',
      intro: 'Hola {name}, la verificación en dos pasos de tu cuenta de {tenant} ({email}) fue {change}.',
    },
    when: 'Cuándo: {when}',
    ip: 'Dirección IP: {ip}',
    device: 'Dispositivo: {device}',
    notYou:
      'Si no fuiste tú, restablece tu contraseña ahora y avisa a un administrador de {tenant}: otra persona podría conocerla.',
    open: 'Abrir {tenant}',
  },
  roles: { owner: 'propietario', admin: 'administrador', agent: 'agente', viewer: 'lector' },
  formatDate: dateIn('es'),
};

/** How a two-factor change reads in each language (the notice's `{change}`). */
const TWO_FACTOR_CHANGES: Record<MailLocale, Record<TwoFactorChange, string>> = {
  en: { enabled: 'turned on', disabled: 'turned off', recovery_codes_renewed: 'given new recovery codes' },
  'pt-BR': {
    enabled: 'ativada',
    disabled: 'desativada',
    recovery_codes_renewed: 'atualizada com novos códigos de recuperação',
  },
  es: {
    enabled: 'activada',
    disabled: 'desactivada',
    recovery_codes_renewed: 'renovada con nuevos códigos de recuperación',
  },
};

/** Every language a mail can be written in, by BCP 47 tag. */
export const CATALOGUE = { en: english, 'pt-BR': brazilianPortuguese, es: spanish } as const satisfies Record<
  string,
  Strings
>;

/** A language of the catalogue. */
export type MailLocale = keyof typeof CATALOGUE;

/** The catalogue's languages (MAIL_LOCALE and a member's locale take one of them). */
export const MAIL_LOCALES = Object.keys(CATALOGUE) as [MailLocale, ...MailLocale[]];

/**
 * The catalogue's language for a BCP 47 tag: the tag itself when the catalogue has it (compared
 * case-insensitively), else its language alone (`es-MX` → `es`), else the first catalogue entry
 * of that language (`pt` → `pt-BR`), else `fallback`.
 */
export function mailLocaleOf(tag: string | null | undefined, fallback: MailLocale = 'en'): MailLocale {
  if (!tag) return fallback;
  const lower = tag.toLowerCase();
  const language = lower.split('-')[0];
  return (
    MAIL_LOCALES.find((l) => l.toLowerCase() === lower) ??
    MAIL_LOCALES.find((l) => l.toLowerCase() === language) ??
    MAIL_LOCALES.find((l) => l.toLowerCase().split('-')[0] === language) ??
    fallback
  );
}

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

/** The kinds of security notice. */
export const SECURITY_NOTICE_KINDS = ['new_sign_in', 'password_changed', 'two_factor_changed'] as const;

/** A kind of security notice. */
export type SecurityNoticeKind = (typeof SECURITY_NOTICE_KINDS)[number];

/** What changed about two-factor sign-in (the `two_factor_changed` notice). */
export type TwoFactorChange = 'enabled' | 'disabled' | 'recovery_codes_renewed';

/** What a security notice says. */
export interface SecurityNoticeMail {
  kind: SecurityNoticeKind;
  email: string;
  displayName: string;
  tenant: string;
  /** The inbox (the notice links to it, never to an action). */
  link: string;
  at: Date;
  ip?: string | undefined;
  /** The User-Agent of the request, cut to 200 characters. */
  device?: string | undefined;
  /** For `two_factor_changed`: what changed. */
  change?: TwoFactorChange | undefined;
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

/**
 * The same mail as text and as a small HTML page: paragraphs before the link, the link, then
 * paragraphs after it; every value is escaped in the HTML.
 */
function compose(
  to: string,
  locale: MailLocale,
  subject: string,
  before: string[],
  action: { label: string; link: string },
  after: string[],
): OutgoingMail {
  const text = `${before.join('\n\n')}\n\n${action.label}:\n${action.link}\n\n${after.join('\n\n')}\n`;
  const e = escapeHtml;
  const html = [
    '<!doctype html>',
    `<html lang="${e(locale)}"><head><meta charset="utf-8"><title>${e(subject)}</title></head>`,
    '<body style="font-family:sans-serif;line-height:1.5">',
    ...before.map((p) => `<p>${e(p).replace(/\n/g, '<br>')}</p>`),
    `<p><a href="${e(action.link)}">${e(action.label)}</a></p>`,
    ...after.map((p) => `<p style="color:#555">${e(p)}</p>`),
    '</body></html>',
  ].join('\n');
  return { to, subject, text, html };
}

function linkMail(
  to: string,
  locale: MailLocale,
  strings: LinkStrings,
  values: Record<string, string>,
  link: string,
) {
  const f = (s: string) => fill(s, values);
  return compose(to, locale, f(strings.subject), [f(strings.intro)], { label: f(strings.action), link }, [
    f(strings.expiry),
    f(strings.ignore),
  ]);
}

/** The password reset mail in `locale`. */
export function passwordResetMail(locale: MailLocale, mail: PasswordResetMail): OutgoingMail {
  const strings = CATALOGUE[locale];
  const values = { email: mail.email, tenant: mail.tenant, expires: strings.formatDate(mail.expiresAt) };
  return linkMail(mail.email, locale, strings.passwordReset, values, mail.link);
}

/** The invite mail in `locale`. */
export function inviteMail(locale: MailLocale, mail: InviteMail): OutgoingMail {
  const strings = CATALOGUE[locale];
  const values = {
    name: mail.displayName,
    role: strings.roles[mail.role as keyof Strings['roles']] ?? mail.role,
    tenant: mail.tenant,
    expires: strings.formatDate(mail.expiresAt),
  };
  return linkMail(mail.email, locale, strings.invite, values, mail.link);
}

/** A security notice in `locale`: what happened, when, from where, and what to do if it was not the reader. */
export function securityNoticeMail(locale: MailLocale, mail: SecurityNoticeMail): OutgoingMail {
  const strings = CATALOGUE[locale].notice;
  const values = {
    name: mail.displayName,
    email: mail.email,
    tenant: mail.tenant,
    when: CATALOGUE[locale].formatDate(mail.at),
    ip: mail.ip ?? '',
    device: (mail.device ?? '').slice(0, 200),
    change: TWO_FACTOR_CHANGES[locale][mail.change ?? 'enabled'],
  };
  const f = (s: string) => fill(s, values);
  const kind = strings[mail.kind];
  const details = [
    f(strings.when),
    ...(mail.ip ? [f(strings.ip)] : []),
    ...(mail.device ? [f(strings.device)] : []),
  ].join('\n');
  return compose(
    mail.email,
    locale,
    f(kind.subject),
    [f(kind.intro), details],
    { label: f(strings.open), link: mail.link },
    [f(strings.notYou)],
  );
}
