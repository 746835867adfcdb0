-- The bot hand-off for external flows (packages/messaging/src/bot, services/worker bot.ts): a
-- per-session flow-engine webhook, the log of its deliveries, the conversation's automation
-- hand-off state and the `automated_by` mark of replies ('bot') come from 0014. No foreign keys, like 0013: tenants are never
-- deleted and a delivery whose message is gone is never read again.

-- Up Migration

-- Per session: the flow engine customers' messages are delivered to while no agent has the
-- conversation. The signing secret is a provider reference or sealed with SEALING_KEYS (purpose
-- "bot-secret"), like webhook subscriptions'.
CREATE TABLE session_bot_settings (
  tenant_id uuid NOT NULL,
  session_id uuid NOT NULL,
  enabled boolean NOT NULL DEFAULT false,
  url text NOT NULL CHECK (char_length(url) BETWEEN 1 AND 2048),
  secret_ref text CHECK (char_length(secret_ref) BETWEEN 1 AND 512),
  secret_ciphertext bytea,
  -- Compared case-insensitively with the whole (trimmed) text of a customer's message.
  handoff_keyword text CHECK (char_length(handoff_keyword) BETWEEN 1 AND 64),
  restart_keyword text CHECK (char_length(restart_keyword) BETWEEN 1 AND 64),
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, session_id),
  CHECK (secret_ref IS NOT NULL OR secret_ciphertext IS NOT NULL)
);
SELECT switchboard.protect_tenant_table('session_bot_settings');

-- One delivery per customer message (the unique key makes replicas' dispatch of the same
-- message one row), with its attempts like webhook_deliveries.
CREATE TABLE bot_deliveries (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id uuid NOT NULL,
  session_id uuid NOT NULL,
  conversation_id uuid NOT NULL,
  message_id uuid NOT NULL,
  status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'succeeded', 'failed', 'skipped')),
  attempts integer NOT NULL DEFAULT 0,
  response_code integer,
  latency_ms integer,
  last_error text,
  -- How many replies the engine's answer carried.
  replies integer NOT NULL DEFAULT 0,
  created_at timestamptz NOT NULL DEFAULT now(),
  delivered_at timestamptz,
  next_attempt_at timestamptz,
  CONSTRAINT bot_deliveries_tenant_id_message_id_key UNIQUE (tenant_id, message_id)
);
-- The start-up sweep of pending deliveries (a crash between a dispatch's commit and its job).
CREATE INDEX bot_deliveries_tenant_id_status_created_at_idx ON bot_deliveries (tenant_id, status, created_at);
SELECT switchboard.protect_tenant_table('bot_deliveries');

-- Down Migration

DROP TABLE bot_deliveries;
DROP TABLE session_bot_settings;
