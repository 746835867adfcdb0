// Test support (not exported from the package): seeds one tenant with a row in every
// table, through plain SQL as the database owner, so isolation tests have something
// to fail on. rls.test.ts checks that every table got rows: a new table needs a line here.
import { randomBytes, randomUUID } from 'node:crypto';
import type pg from 'pg';

/** The ids of what seedTenant() created. */
export interface SeededTenant {
  tenantId: string;
  slug: string;
  userId: string;
  sessionId: string;
  contactId: string;
  conversationId: string;
  messageId: string;
}

/** Seeds a tenant and one or two rows in every tenant table; the owner is subject to the forced RLS too, so the tenant is set for the transaction. */
export async function seedTenant(
  owner: pg.ClientBase,
  slug = `t-${randomBytes(4).toString('hex')}`,
): Promise<SeededTenant> {
  const ids = {
    tenantId: randomUUID(),
    slug,
    userId: randomUUID(),
    sessionId: randomUUID(),
    contactId: randomUUID(),
    conversationId: randomUUID(),
    messageId: randomUUID(),
  };
  const replyId = randomUUID();
  const subscriptionId = randomUUID();
  const labelId = randomUUID();
  const campaignId = randomUUID();
  const t = ids.tenantId;
  const unique = `${slug}-${randomBytes(4).toString('hex')}`;

  const statements: [string, unknown[]][] = [
    ['INSERT INTO tenants (id, slug, display_name) VALUES ($1, $2, $3)', [t, slug, `Tenant ${slug}`]],
    [
      `INSERT INTO users (id, tenant_id, email, display_name, password_hash) VALUES ($1, $2, 'agent@example.com', 'Agent', 'x')`,
      [ids.userId, t],
    ],
    [`INSERT INTO memberships (tenant_id, user_id, role) VALUES ($1, $2, 'agent')`, [t, ids.userId]],
    [
      `INSERT INTO api_keys (tenant_id, name, prefix, key_hash, scopes, created_by_id) VALUES ($1, 'ci', $2, 'h', '{messages:send}', $3)`,
      [t, `sk_${unique}`, ids.userId],
    ],
    [
      `INSERT INTO refresh_tokens (tenant_id, user_id, family_id, token_hash, expires_at) VALUES ($1, $2, $3, $4, now() + interval '1 day')`,
      [t, ids.userId, randomUUID(), `rt-${unique}`],
    ],
    [
      `INSERT INTO password_reset_tokens (tenant_id, user_id, token_hash, expires_at) VALUES ($1, $2, $3, now() + interval '1 hour')`,
      [t, ids.userId, `pr-${unique}`],
    ],
    [
      `INSERT INTO sessions (id, tenant_id, name, channel, declared) VALUES ($1, $2, 'support', 'baileys', true)`,
      [ids.sessionId, t],
    ],
    [`INSERT INTO contacts (id, tenant_id, push_name) VALUES ($1, $2, 'Ana')`, [ids.contactId, t]],
    // The same phone number in every tenant: identities are unique per tenant only.
    [
      `INSERT INTO contact_identities (tenant_id, contact_id, kind, value) VALUES ($1, $2, 'pn', '351910000000'), ($1, $2, 'lid', '12345')`,
      [t, ids.contactId],
    ],
    [
      `INSERT INTO conversations (id, tenant_id, session_id, contact_id, assignee_id, unread_count) VALUES ($1, $2, $3, $4, $5, 1)`,
      [ids.conversationId, t, ids.sessionId, ids.contactId, ids.userId],
    ],
    [
      `INSERT INTO messages (id, tenant_id, session_id, conversation_id, direction, provider_message_id, status, type, body)
       VALUES ($1, $2, $3, $4, 'inbound', 'WAMID-1', 'delivered', 'text', 'hello')`,
      [ids.messageId, t, ids.sessionId, ids.conversationId],
    ],
    [
      `INSERT INTO messages (id, tenant_id, session_id, conversation_id, direction, status, type, body, reply_to_message_id, idempotency_key, sent_by_id, epoch)
       VALUES ($1, $2, $3, $4, 'outbound', 'queued', 'text', 'hi!', $5, 'idem-1', $6, 1)`,
      [replyId, t, ids.sessionId, ids.conversationId, ids.messageId, ids.userId],
    ],
    [
      `INSERT INTO message_status_events (tenant_id, message_id, status, occurred_at) VALUES ($1, $2, 'delivered', now())`,
      [t, ids.messageId],
    ],
    [
      `INSERT INTO message_templates (tenant_id, name, language, body) VALUES ($1, 'welcome', 'en_US', 'Hello {{1}}')`,
      [t],
    ],
    [
      `INSERT INTO quick_replies (tenant_id, shortcut, title, body, created_by_id) VALUES ($1, '/hi', 'Hi', 'Hi there', $2)`,
      [t, ids.userId],
    ],
    [
      `INSERT INTO scheduled_messages (tenant_id, session_id, conversation_id, content, send_at, status, message_id)
       VALUES ($1, $2, $3, '{"type":"text","body":"hi!"}', now(), 'sent', $4)`,
      [t, ids.sessionId, ids.conversationId, replyId],
    ],
    [
      `INSERT INTO webhook_subscriptions (id, tenant_id, url, events, secret_ref) VALUES ($1, $2, 'https://example.com/hook', '{message.received}', 'webhook-secret')`,
      [subscriptionId, t],
    ],
    [
      `INSERT INTO webhook_deliveries (tenant_id, subscription_id, event_id, event_type, payload) VALUES ($1, $2, $3, 'message.received', '{}')`,
      [t, subscriptionId, randomUUID()],
    ],
    [
      `INSERT INTO idempotency_keys (tenant_id, key, request_hash, expires_at) VALUES ($1, 'idem-1', 'sha', now() + interval '1 day')`,
      [t],
    ],
    [`INSERT INTO outbox (tenant_id, kind, payload) VALUES ($1, 'realtime', '{}')`, [t]],
    [`INSERT INTO business_hours (tenant_id) VALUES ($1)`, [t]],
    [`INSERT INTO read_receipt_settings (tenant_id) VALUES ($1)`, [t]],
    [
      `INSERT INTO assistant_tenant_settings (tenant_id, base_url, model, blocked_topic_reply, handoff_message) VALUES ($1, 'http://127.0.0.1:1/v1', 'gpt-4o-mini', 'No.', 'A person will answer.')`,
      [t],
    ],
    [`INSERT INTO session_assistant_settings (tenant_id, session_id) VALUES ($1, $2)`, [t, ids.sessionId]],
    [
      `INSERT INTO assistant_usage (tenant_id, session_id, conversation_id, inbound_message_id, outcome, model) VALUES ($1, $2, $3, $4, 'refused', 'gpt-4o-mini')`,
      [t, ids.sessionId, ids.conversationId, randomUUID()],
    ],
    [`INSERT INTO session_call_settings (tenant_id, session_id) VALUES ($1, $2)`, [t, ids.sessionId]],
    [
      `INSERT INTO whatsapp_groups (tenant_id, jid, contact_id) VALUES ($1, '120363000000000001@g.us', $2)`,
      [t, ids.contactId],
    ],
    [
      `INSERT INTO session_bot_settings (tenant_id, session_id, url, secret_ref) VALUES ($1, $2, 'https://example.com/bot', 'secret://bot')`,
      [t, ids.sessionId],
    ],
    [
      `INSERT INTO bot_deliveries (tenant_id, session_id, conversation_id, message_id) VALUES ($1, $2, $3, $4)`,
      [t, ids.sessionId, ids.conversationId, ids.messageId],
    ],
    [
      `INSERT INTO away_replies (tenant_id, conversation_id, sent_at, message_id) VALUES ($1, $2, now(), $3)`,
      [t, ids.conversationId, randomUUID()],
    ],
    [
      `INSERT INTO two_factor_credentials (tenant_id, user_id, secret_ciphertext) VALUES ($1, $2, '\\x00')`,
      [t, ids.userId],
    ],
    [`INSERT INTO tenant_security_policies (tenant_id) VALUES ($1)`, [t]],
    [
      `INSERT INTO auth_sessions (id, tenant_id, user_id, browser, os, ip) VALUES (gen_random_uuid(), $1, $2, 'Chrome', 'Linux', '127.0.0.1')`,
      [t, ids.userId],
    ],
    [
      `INSERT INTO sso_identities (tenant_id, user_id, issuer, subject, email) VALUES ($1, $2, 'https://idp.example.com', 'agent-1', 'agent@example.com')`,
      [t, ids.userId],
    ],
    // Labels (migration 0018) and campaigns (migration 0019).
    [`INSERT INTO labels (id, tenant_id, name, color) VALUES ($1, $2, 'vip', '#d97706')`, [labelId, t]],
    [
      `INSERT INTO conversation_labels (tenant_id, conversation_id, label_id) VALUES ($1, $2, $3)`,
      [t, ids.conversationId, labelId],
    ],
    [
      `INSERT INTO contact_labels (tenant_id, contact_id, label_id) VALUES ($1, $2, $3)`,
      [t, ids.contactId, labelId],
    ],
    [
      `INSERT INTO contact_opt_outs (tenant_id, contact_id, keyword) VALUES ($1, $2, 'STOP')`,
      [t, ids.contactId],
    ],
    [`INSERT INTO campaign_settings (tenant_id) VALUES ($1)`, [t]],
    [
      `INSERT INTO contact_imports (tenant_id, file_name, contact_ids, total_rows) VALUES ($1, 'contacts.csv', ARRAY[$2::uuid], 1)`,
      [t, ids.contactId],
    ],
    [
      `INSERT INTO campaigns (id, tenant_id, name, session_id, template, segment) VALUES ($1, $2, 'launch', $3, '{"name":"welcome","language":"en_US"}', '{"type":"recent","days":30}')`,
      [campaignId, t, ids.sessionId],
    ],
    [
      `INSERT INTO campaign_recipients (tenant_id, campaign_id, contact_id, phone_number, state, message_id) VALUES ($1, $2, $3, '351910000000', 'queued', $4)`,
      [t, campaignId, ids.contactId, replyId],
    ],
    [
      `INSERT INTO audit_log (tenant_id, actor_type, actor_id, action, target_type, target_id) VALUES ($1, 'user', $2::uuid, 'member.invited', 'user', $2::text)`,
      [t, ids.userId],
    ],
  ];

  await owner.query('BEGIN');
  try {
    await owner.query(`SELECT set_config('switchboard.tenant_id', $1, true)`, [t]);
    for (const [sql, params] of statements) await owner.query(sql, params);
    await owner.query('COMMIT');
  } catch (error) {
    await owner.query('ROLLBACK');
    throw error;
  }
  return ids;
}
