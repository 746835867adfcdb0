// The API benchmark's tenant data: contacts with a phone identity, one conversation each on one
// session, and messages spread evenly over the conversations, inserted set-based.
import { type Db, withTenant } from '@switchboard/db';

/** What seedConversations() inserts. */
export interface SeedOptions {
  tenantId: string;
  sessionId: string;
  conversations: number;
  messages: number;
}

/**
 * Inserts `conversations` contacts (push name `Contact <n>`, phone identity 5511000000000 + n) and
 * a conversation with each, then `messages` messages (body `message number <g>`, message g in
 * conversation g % conversations + 1), then runs VACUUM (ANALYZE).
 *
 * Set-based `INSERT ... SELECT generate_series`, as the database owner `owner` (row-level
 * security is forced on the owner too, hence the tenant setting). Conversation n's newest
 * message is n seconds before the seed; messages of a conversation are a millisecond apart.
 */
export async function seedConversations(owner: Db, options: SeedOptions): Promise<void> {
  const { tenantId, sessionId, conversations, messages } = options;
  await withTenant(
    owner,
    tenantId,
    async (tx) => {
      // A deterministic RFC 4122 uuid (version 4, variant 10) from a text, so that contacts,
      // conversations and messages can refer to each other without a join.
      await tx.$executeRawUnsafe(`
        CREATE FUNCTION pg_temp.uid(t text) RETURNS uuid LANGUAGE sql IMMUTABLE AS
        $$ SELECT overlay(overlay(md5(t) PLACING '4' FROM 13) PLACING '8' FROM 17)::uuid $$`);
      await tx.$executeRawUnsafe(`
        INSERT INTO contacts (id, tenant_id, push_name)
        SELECT pg_temp.uid('contact' || g), '${tenantId}', 'Contact ' || g FROM generate_series(1, ${conversations}) g`);
      await tx.$executeRawUnsafe(`
        INSERT INTO contact_identities (tenant_id, contact_id, kind, value)
        SELECT '${tenantId}', pg_temp.uid('contact' || g), 'pn', (5511000000000 + g)::text
        FROM generate_series(1, ${conversations}) g`);
      await tx.$executeRawUnsafe(`
        INSERT INTO conversations (id, tenant_id, session_id, contact_id, last_message_at)
        SELECT pg_temp.uid('conversation' || g), '${tenantId}', '${sessionId}', pg_temp.uid('contact' || g),
               date_trunc('second', now()) - g * interval '1 second'
        FROM generate_series(1, ${conversations}) g`);
      await tx.$executeRawUnsafe(`
        INSERT INTO messages (tenant_id, session_id, conversation_id, direction, status, type, body,
                              provider_message_id, created_at)
        SELECT '${tenantId}', '${sessionId}', pg_temp.uid('conversation' || (g % ${conversations} + 1)),
               (CASE WHEN g % 2 = 0 THEN 'inbound' ELSE 'outbound' END)::message_direction,
               'delivered', 'text', 'message number ' || g, 'bench-' || g,
               date_trunc('second', now()) - (g % ${conversations} + 1) * interval '1 second'
                 - (g / ${conversations}) * interval '1 millisecond'
        FROM generate_series(1, ${messages}) g`);
    },
    { timeout: 30 * 60_000, maxWait: 60_000 },
  );
  // VACUUM as well: it moves the search index's pending entries (migration 0008) into the index,
  // as autovacuum does on a live database.
  await owner.$executeRawUnsafe('VACUUM (ANALYZE)');
}
