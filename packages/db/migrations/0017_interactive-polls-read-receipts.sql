-- Interactive messages (Cloud API reply buttons, lists, CTA URLs) and polls (Baileys), their
-- structured replies and votes; read receipts sent to the channel when an agent opens a
-- conversation, with a per-tenant switch.

-- Up Migration

-- interactive: an outbound button/list/CTA-URL message; interactive_reply: the customer's pick
-- (which button, which row); poll: a poll (sent or received); poll_vote: a vote on one.
ALTER TYPE message_type ADD VALUE IF NOT EXISTS 'interactive';
ALTER TYPE message_type ADD VALUE IF NOT EXISTS 'interactive_reply';
ALTER TYPE message_type ADD VALUE IF NOT EXISTS 'poll';
ALTER TYPE message_type ADD VALUE IF NOT EXISTS 'poll_vote';

-- The structured content of those types (packages/messaging/src/outbound/interactive.ts reads
-- and writes it): the message sent, the reply picked, the poll's options, the options voted.
ALTER TABLE messages ADD COLUMN interactive jsonb CHECK (interactive IS NULL OR jsonb_typeof(interactive) = 'object');
-- When the customer's (inbound) message was marked read on the channel; null until then, so
-- opening a conversation marks only what was not marked before (found through the
-- conversation's history index, newest first).
ALTER TABLE messages ADD COLUMN channel_read_at timestamptz;

-- Per tenant: whether opening a conversation marks the customer's messages read on WhatsApp
-- (blue ticks). No row means on.
CREATE TABLE read_receipt_settings (
  tenant_id uuid PRIMARY KEY,
  enabled boolean NOT NULL DEFAULT true,
  updated_at timestamptz NOT NULL DEFAULT now()
);
SELECT switchboard.protect_tenant_table('read_receipt_settings');

-- Down Migration

-- Postgres cannot drop one value of an enum: the four values stay in message_type (unused),
-- and the rows of those types go.
DELETE FROM messages WHERE type::text IN ('interactive', 'interactive_reply', 'poll', 'poll_vote');
DROP TABLE read_receipt_settings;
ALTER TABLE messages DROP COLUMN channel_read_at;
ALTER TABLE messages DROP COLUMN interactive;
