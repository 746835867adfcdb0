// A customer's answer to an interactive message, as WhatsApp's app protocol carries it: a reply
// button (`buttonsResponseMessage`), a template's quick-reply button
// (`templateButtonReplyMessage`), a list row (`listResponseMessage`), or a native-flow button or
// list (`interactiveResponseMessage`, whose choice is JSON in `paramsJson`). Each becomes the
// same structured `interactive_reply` the Cloud API's replies map to: which button or row, and
// the text the customer saw.
import type { proto } from '@whiskeysockets/baileys';
import type { MessageContent } from '../channel.ts';

/** The message fields that carry an interactive reply. */
export const INTERACTIVE_REPLY_TYPES = [
  'buttonsResponseMessage',
  'templateButtonReplyMessage',
  'listResponseMessage',
  'interactiveResponseMessage',
] as const;

type InteractiveReplyType = (typeof INTERACTIVE_REPLY_TYPES)[number];

/** Whether message field `type` is an interactive reply. */
export function isInteractiveReplyType(type: string): type is InteractiveReplyType {
  return (INTERACTIVE_REPLY_TYPES as readonly string[]).includes(type);
}

type Reply =
  | {
      content: Extract<MessageContent, { type: 'interactive_reply' }>;
      contextInfo: proto.IContextInfo | null;
    }
  | { malformed: string };

const text = (value: string | null | undefined): string | undefined =>
  typeof value === 'string' && value.trim() !== '' ? value : undefined;

/** Maps the interactive reply in `message[type]`; a reply without the choice's id is malformed (named). */
export function mapInteractiveReply(message: proto.IMessage, type: InteractiveReplyType): Reply {
  switch (type) {
    case 'buttonsResponseMessage': {
      const m = message.buttonsResponseMessage!;
      const id = text(m.selectedButtonId);
      if (!id) return { malformed: 'buttonsResponseMessage without selectedButtonId' };
      return reply('button', id, text(m.selectedDisplayText) ?? id, undefined, m.contextInfo);
    }
    case 'templateButtonReplyMessage': {
      const m = message.templateButtonReplyMessage!;
      const id = text(m.selectedId);
      if (!id) return { malformed: 'templateButtonReplyMessage without selectedId' };
      return reply('button', id, text(m.selectedDisplayText) ?? id, undefined, m.contextInfo);
    }
    case 'listResponseMessage': {
      const m = message.listResponseMessage!;
      const id = text(m.singleSelectReply?.selectedRowId);
      if (!id) return { malformed: 'listResponseMessage without singleSelectReply.selectedRowId' };
      return reply('list', id, text(m.title) ?? id, text(m.description), m.contextInfo);
    }
    case 'interactiveResponseMessage': {
      const m = message.interactiveResponseMessage!;
      const flow = m.nativeFlowResponseMessage;
      let params: unknown;
      try {
        params = JSON.parse(flow?.paramsJson ?? '');
      } catch {
        return { malformed: 'interactiveResponseMessage whose paramsJson is not JSON' };
      }
      const fields = (params ?? {}) as Record<string, unknown>;
      const id = typeof fields.id === 'string' ? text(fields.id) : undefined;
      if (!id) return { malformed: 'interactiveResponseMessage without an id in paramsJson' };
      const shown =
        (typeof fields.display_text === 'string' ? text(fields.display_text) : undefined) ??
        (typeof fields.title === 'string' ? text(fields.title) : undefined) ??
        text(m.body?.text) ??
        id;
      const description = typeof fields.description === 'string' ? text(fields.description) : undefined;
      return reply(flow?.name === 'single_select' ? 'list' : 'button', id, shown, description, m.contextInfo);
    }
  }
}

function reply(
  kind: 'button' | 'list',
  id: string,
  title: string,
  description: string | undefined,
  contextInfo: proto.IContextInfo | null | undefined,
): Reply {
  return {
    content: { type: 'interactive_reply', kind, id, title, ...(description ? { description } : {}) },
    contextInfo: contextInfo ?? null,
  };
}
