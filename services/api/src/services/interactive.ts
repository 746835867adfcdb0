// Interactive messages and polls: their content checked against Meta's and WhatsApp's limits
// (the route's schema checks only the shape), which session can send which (Meta's reply
// buttons, lists and CTA URLs only exist on the Cloud API; polls only on WhatsApp Web), and their
// message columns.
import type { Conversation, Prisma, Session } from '@switchboard/db';
import {
  interactiveColumns,
  interactiveMessageSchema,
  pollColumns,
  pollSchema,
} from '@switchboard/messaging/producer';
import type { z } from 'zod';
import { ApiError } from '../errors.ts';
import type { MessageColumns } from '../sending.ts';

/**
 * `input` checked against `schema`: a 422 `invalid_content` naming each field that breaks a
 * limit (`body.interactive.buttons`, `body.poll.options.2`...).
 */
function valid<S extends z.ZodType>(schema: S, input: unknown, at: string): z.output<S> {
  const parsed = schema.safeParse(input);
  if (parsed.success) return parsed.data;
  const issues = parsed.error.issues.map((i) => ({
    path: [at, ...i.path.map(String)].join('.'),
    message: i.message,
  }));
  throw new ApiError('invalid_content', issues.map((i) => `${i.path}: ${i.message}`).join('; '), { issues });
}

/** The columns of an interactive send: 422 invalid_content outside Meta's limits, 422 channel_unsupported on a Baileys session. */
export function interactiveMessageColumns(
  conversation: Conversation & { session: Session },
  input: unknown,
): MessageColumns {
  const interactive = valid(interactiveMessageSchema, input, 'body.interactive');
  if (conversation.session.channel !== 'cloud_api')
    throw new ApiError(
      'channel_unsupported',
      `interactive messages (reply buttons, lists, CTA URLs) need a Cloud API session; this conversation is on session ${conversation.session.name}, a Baileys (WhatsApp Web) session: send a poll instead`,
    );
  const columns = interactiveColumns(interactive);
  return { ...columns, interactive: columns.interactive as Prisma.InputJsonObject };
}

/** The columns of a poll send: 422 invalid_content outside WhatsApp's limits, 422 channel_unsupported on a Cloud API session. */
export function pollMessageColumns(
  conversation: Conversation & { session: Session },
  input: unknown,
): MessageColumns {
  const poll = valid(pollSchema, input, 'body.poll');
  if (conversation.session.channel !== 'baileys')
    throw new ApiError(
      'channel_unsupported',
      `polls need a Baileys (WhatsApp Web) session; this conversation is on session ${conversation.session.name}, a Cloud API session: send reply buttons or a list instead`,
    );
  const columns = pollColumns(poll);
  return { ...columns, interactive: columns.interactive as Prisma.InputJsonObject };
}
