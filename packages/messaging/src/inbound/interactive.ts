// Inbound structured content (outbound/interactive.ts describes the column): a customer's pick of
// a reply button or list row, a poll, and a vote on one, as message columns and as the fields of
// the `message.received` webhook event.
import type { MessageContent } from '@switchboard/channels';
import type { Prisma } from '@switchboard/db';

type Structured = Extract<MessageContent, { type: 'interactive_reply' | 'poll' | 'poll_vote' }>;

/** The columns of structured content: the `interactive` JSON, and a `body` for previews and search. */
export function structuredColumns(content: Structured): {
  type: 'interactive_reply' | 'poll' | 'poll_vote';
  body: string | null;
  interactive: Prisma.InputJsonObject;
} {
  switch (content.type) {
    case 'interactive_reply':
      return {
        type: 'interactive_reply',
        body: content.title,
        interactive: {
          kind: content.kind,
          id: content.id,
          title: content.title,
          ...(content.description ? { description: content.description } : {}),
        },
      };
    case 'poll':
      return {
        type: 'poll',
        body: content.name,
        interactive: {
          name: content.name,
          options: content.options,
          selectableCount: content.selectableCount,
        },
      };
    case 'poll_vote':
      return {
        type: 'poll_vote',
        body: content.selectedOptions.join(', ') || null,
        interactive: { pollMessageId: content.pollMessageId, selectedOptions: content.selectedOptions },
      };
  }
}

/** The structured fields of a `message.received` / `message.sent` event (webhooks/events.ts). */
export function structuredEventData(content: MessageContent): {
  interactiveReply?: { kind: 'button' | 'list'; id: string; title: string; description?: string };
  poll?: { name: string; options: string[]; selectableCount: number };
  pollVote?: { pollMessageId: string; selectedOptions: string[] };
} {
  switch (content.type) {
    case 'interactive_reply':
      return {
        interactiveReply: {
          kind: content.kind,
          id: content.id,
          title: content.title,
          ...(content.description ? { description: content.description } : {}),
        },
      };
    case 'poll':
      return {
        poll: { name: content.name, options: content.options, selectableCount: content.selectableCount },
      };
    case 'poll_vote':
      return { pollVote: { pollMessageId: content.pollMessageId, selectedOptions: content.selectedOptions } };
    default:
      return {};
  }
}
