/**
 * Interactive messages on the Cloud API: our {@link InteractiveMessage} as Graph's `interactive`
 * object (`type: button | list | cta_url`), and the customer's answers in Meta's webhooks
 * (`interactive.button_reply`, `interactive.list_reply`, and the legacy `button` of a template's
 * quick reply) as structured `interactive_reply` content. Meta's limits are checked before the
 * send (the API checks them too, with the field named): one failing here is unrecoverable.
 */
import type { InteractiveMessage, MessageContent } from '../channel.ts';
import { UnrecoverableChannelError } from '../errors.ts';

/** Meta's limits on interactive messages (characters), from the Cloud API's message reference. */
export const CLOUD_API_INTERACTIVE_LIMITS = {
  body: 1024,
  header: 60,
  footer: 60,
  buttons: 3,
  buttonTitle: 20,
  buttonId: 256,
  listButton: 20,
  sections: 10,
  rows: 10,
  sectionTitle: 24,
  rowTitle: 24,
  rowDescription: 72,
  rowId: 200,
  ctaDisplayText: 20,
} as const;

function invalid(why: string): UnrecoverableChannelError {
  return new UnrecoverableChannelError('INVALID_CONTENT', `interactive ${why}`, { status: 400 });
}

function within(value: string | undefined, max: number, field: string): void {
  if (value !== undefined && (value.length === 0 || value.length > max))
    throw invalid(`${field} must be 1 to ${max} characters`);
}

/** Graph's `interactive` object for `m` (the send body's `type: interactive` part). */
export function toGraphInteractive(m: InteractiveMessage): Record<string, unknown> {
  const L = CLOUD_API_INTERACTIVE_LIMITS;
  within(m.body, L.body, 'body');
  within(m.header, L.header, 'header');
  within(m.footer, L.footer, 'footer');
  const common = {
    ...(m.header ? { header: { type: 'text', text: m.header } } : {}),
    body: { text: m.body },
    ...(m.footer ? { footer: { text: m.footer } } : {}),
  };
  switch (m.kind) {
    case 'button': {
      if (m.buttons.length < 1 || m.buttons.length > L.buttons)
        throw invalid(`needs 1 to ${L.buttons} buttons`);
      const ids = new Set<string>();
      for (const b of m.buttons) {
        within(b.title, L.buttonTitle, 'button title');
        within(b.id, L.buttonId, 'button id');
        if (ids.has(b.id)) throw invalid(`button id ${b.id} is used twice`);
        ids.add(b.id);
      }
      return {
        type: 'button',
        ...common,
        action: { buttons: m.buttons.map((b) => ({ type: 'reply', reply: { id: b.id, title: b.title } })) },
      };
    }
    case 'list': {
      within(m.button, L.listButton, 'list button');
      if (m.sections.length < 1 || m.sections.length > L.sections)
        throw invalid(`needs 1 to ${L.sections} sections`);
      const rows = m.sections.flatMap((s) => s.rows);
      if (rows.length < 1 || rows.length > L.rows) throw invalid(`needs 1 to ${L.rows} rows in all`);
      if (m.sections.length > 1 && m.sections.some((s) => !s.title))
        throw invalid('sections need a title when there are several');
      const ids = new Set<string>();
      for (const s of m.sections) within(s.title, L.sectionTitle, 'section title');
      for (const r of rows) {
        within(r.title, L.rowTitle, 'row title');
        within(r.id, L.rowId, 'row id');
        within(r.description, L.rowDescription, 'row description');
        if (ids.has(r.id)) throw invalid(`row id ${r.id} is used twice`);
        ids.add(r.id);
      }
      return {
        type: 'list',
        ...common,
        action: {
          button: m.button,
          sections: m.sections.map((s) => ({
            ...(s.title ? { title: s.title } : {}),
            rows: s.rows.map((r) => ({
              id: r.id,
              title: r.title,
              ...(r.description ? { description: r.description } : {}),
            })),
          })),
        },
      };
    }
    case 'cta_url': {
      within(m.displayText, L.ctaDisplayText, 'display text');
      if (!/^https?:\/\/\S+$/.test(m.url)) throw invalid('url must be an http(s) URL');
      return {
        type: 'cta_url',
        ...common,
        action: { name: 'cta_url', parameters: { display_text: m.displayText, url: m.url } },
      };
    }
  }
}

/** The structured reply of an `interactive` webhook message; undefined for kinds not mapped (flows). */
export function interactiveReplyContent(
  interactive:
    | { type: 'button_reply'; button_reply: { id: string; title: string } }
    | { type: 'list_reply'; list_reply: { id: string; title: string; description?: string | undefined } }
    | { type: 'nfm_reply' },
): MessageContent | undefined {
  if (interactive.type === 'button_reply')
    return {
      type: 'interactive_reply',
      kind: 'button',
      id: interactive.button_reply.id,
      title: interactive.button_reply.title,
    };
  if (interactive.type === 'list_reply') {
    const { id, title, description } = interactive.list_reply;
    return { type: 'interactive_reply', kind: 'list', id, title, ...(description ? { description } : {}) };
  }
  return undefined;
}

/** A template quick-reply (`type: button`): the button's text, its payload as the id (the text when none). */
export function legacyButtonReply(button: { text: string; payload?: string | undefined }): MessageContent {
  return { type: 'interactive_reply', kind: 'button', id: button.payload ?? button.text, title: button.text };
}
