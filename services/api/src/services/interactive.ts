// Interactive messages and polls: which session can send which (Meta's reply buttons, lists and
// CTA URLs only exist on the Cloud API; polls only on WhatsApp Web), and their message columns.
import type { Conversation, Prisma, Session } from '@switchboard/db';
import {
  type InteractiveMessageInput,
  interactiveColumns,
  type PollInput,
  pollColumns,
} from '@switchboard/messaging/producer';
import { ApiError } from '../errors.ts';
import type { MessageColumns } from '../sending.ts';

/** The columns of an interactive send; refused (422 channel_unsupported) on a Baileys session. */
export function interactiveMessageColumns(
  conversation: Conversation & { session: Session },
  interactive: InteractiveMessageInput,
): MessageColumns {
  if (conversation.session.channel !== 'cloud_api')
    throw new ApiError(
      'channel_unsupported',
      `interactive messages (reply buttons, lists, CTA URLs) need a Cloud API session; this conversation is on session ${conversation.session.name}, a Baileys (WhatsApp Web) session: send a poll instead`,
    );
  const columns = interactiveColumns(interactive);
  return { ...columns, interactive: columns.interactive as Prisma.InputJsonObject };
}

/** The columns of a poll send; refused (422 channel_unsupported) on a Cloud API session. */
export function pollMessageColumns(
  conversation: Conversation & { session: Session },
  poll: PollInput,
): MessageColumns {
  if (conversation.session.channel !== 'baileys')
    throw new ApiError(
      'channel_unsupported',
      `polls need a Baileys (WhatsApp Web) session; this conversation is on session ${conversation.session.name}, a Cloud API session: send reply buttons or a list instead`,
    );
  const columns = pollColumns(poll);
  return { ...columns, interactive: columns.interactive as Prisma.InputJsonObject };
}
