// The conversation list's label parts (issue #20.4), kept apart from the list's statement
// (services/conversations.ts) so it reads as two lines there: each row's labels, and the
// `?label=` filter.
import { Prisma } from '@switchboard/db';

/** A label on a conversation, as the list's rows carry it. */
export interface ConversationLabelRef {
  id: string;
  name: string;
  color: string;
}

/**
 * The select-list entry of a conversation's labels (by name), as a JSON array: one probe of
 * conversation_labels' key (tenant_id, conversation_id, label_id) per row, each label by its key.
 */
export const conversationLabelsColumn = Prisma.sql`COALESCE((
           SELECT json_agg(json_build_object('id', l.id, 'name', l.name, 'color', l.color) ORDER BY l.name, l.id)
             FROM conversation_labels cl
             JOIN labels l ON l.tenant_id = cl.tenant_id AND l.id = cl.label_id
            WHERE cl.tenant_id = c.tenant_id AND cl.conversation_id = c.id), '[]'::json) AS labels`;

/**
 * The `?label=` condition: the conversation carries label `labelId`. The label's conversations
 * are one range of the (tenant_id, label_id, conversation_id) index; the planner joins them to
 * the newest-first walk (or walks and probes, when the label is on most conversations).
 */
export function labelCondition(labelId: string): Prisma.Sql {
  return Prisma.sql`EXISTS (SELECT 1 FROM conversation_labels cl
     WHERE cl.tenant_id = c.tenant_id AND cl.label_id = ${labelId}::uuid AND cl.conversation_id = c.id)`;
}

/** The labels column as read back (the driver parses json; a string is parsed here). */
export function labelsOfRow(value: unknown): ConversationLabelRef[] {
  const parsed = typeof value === 'string' ? (JSON.parse(value) as unknown) : value;
  return Array.isArray(parsed) ? (parsed as ConversationLabelRef[]) : [];
}
