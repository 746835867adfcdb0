-- The AI assistant (packages/assistant, services/worker assistant-replies.ts): a tenant's
-- provider, kill switch, limits and guardrails; each session's assistant settings; the usage log
-- of every decision and call; the marker of automated replies on messages; and the conversation's
-- automation hand-off state (read and set by the bot hand-off too, 0015).

-- Up Migration

ALTER TABLE conversations ADD COLUMN IF NOT EXISTS automation_stopped_at timestamptz NULL;
ALTER TABLE conversations ADD COLUMN IF NOT EXISTS automation_stopped_reason text NULL;

-- Who sent an outbound message automatically ('assistant'); null: a person or the API.
ALTER TABLE messages ADD COLUMN automated_by text NULL CHECK (char_length(automated_by) BETWEEN 1 AND 32);

CREATE TABLE assistant_tenant_settings (
  tenant_id uuid PRIMARY KEY,
  base_url text NOT NULL CHECK (char_length(base_url) BETWEEN 1 AND 2000),
  model text NOT NULL CHECK (char_length(model) BETWEEN 1 AND 200),
  -- A secret:// reference, never the key.
  api_key_ref text CHECK (api_key_ref LIKE 'secret://%'),
  -- The tenant kill switch (mirrored in Redis, where governance reads it).
  paused boolean NOT NULL DEFAULT false,
  daily_message_limit integer CHECK (daily_message_limit > 0),
  daily_token_limit integer CHECK (daily_token_limit > 0),
  monthly_message_limit integer CHECK (monthly_message_limit > 0),
  monthly_token_limit integer CHECK (monthly_token_limit > 0),
  max_reply_tokens integer NOT NULL DEFAULT 500 CHECK (max_reply_tokens BETWEEN 16 AND 16000),
  burst_max_replies integer NOT NULL DEFAULT 5 CHECK (burst_max_replies BETWEEN 1 AND 1000),
  burst_window_seconds integer NOT NULL DEFAULT 600 CHECK (burst_window_seconds BETWEEN 10 AND 86400),
  timeout_seconds integer NOT NULL DEFAULT 30 CHECK (timeout_seconds BETWEEN 1 AND 300),
  blocked_topics text[] NOT NULL DEFAULT '{}',
  blocked_topic_reply text NOT NULL CHECK (char_length(blocked_topic_reply) BETWEEN 1 AND 4096),
  handoff_keywords text[] NOT NULL DEFAULT '{}',
  handoff_message text NOT NULL CHECK (char_length(handoff_message) BETWEEN 1 AND 4096),
  allow_contact_details boolean NOT NULL DEFAULT false,
  updated_at timestamptz NOT NULL DEFAULT now()
);
SELECT switchboard.protect_tenant_table('assistant_tenant_settings');

CREATE TABLE session_assistant_settings (
  tenant_id uuid NOT NULL,
  session_id uuid NOT NULL,
  enabled boolean NOT NULL DEFAULT false,
  system_prompt text CHECK (char_length(system_prompt) BETWEEN 1 AND 8000),
  knowledge text CHECK (char_length(knowledge) BETWEEN 1 AND 50000),
  history_max_messages integer NOT NULL DEFAULT 20 CHECK (history_max_messages BETWEEN 1 AND 100),
  history_max_tokens integer NOT NULL DEFAULT 4000 CHECK (history_max_tokens BETWEEN 100 AND 100000),
  -- always | outside_business_hours | until_agent
  answer_mode text NOT NULL DEFAULT 'always'
    CHECK (answer_mode IN ('always', 'outside_business_hours', 'until_agent')),
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, session_id)
);
SELECT switchboard.protect_tenant_table('session_assistant_settings');

-- One row per customer message the assistant decided on: what it did (replied, handed_off,
-- blocked_topic, refused with the governance reason, failed with the provider's error code),
-- the tokens the provider counted, the latency and the cost estimate (millionths of a US dollar).
CREATE TABLE assistant_usage (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id uuid NOT NULL,
  session_id uuid NOT NULL,
  conversation_id uuid NOT NULL,
  inbound_message_id uuid NOT NULL,
  reply_message_id uuid,
  outcome text NOT NULL CHECK (outcome IN ('replied', 'handed_off', 'blocked_topic', 'refused', 'failed')),
  reason text CHECK (char_length(reason) BETWEEN 1 AND 64),
  model text NOT NULL CHECK (char_length(model) BETWEEN 1 AND 200),
  tokens_in integer NOT NULL DEFAULT 0 CHECK (tokens_in >= 0),
  tokens_out integer NOT NULL DEFAULT 0 CHECK (tokens_out >= 0),
  latency_ms integer NOT NULL DEFAULT 0 CHECK (latency_ms >= 0),
  cost_micros bigint CHECK (cost_micros >= 0),
  created_at timestamptz NOT NULL DEFAULT now(),
  -- A customer message is decided on once.
  CONSTRAINT assistant_usage_tenant_id_inbound_message_id_key UNIQUE (tenant_id, inbound_message_id)
);
CREATE INDEX assistant_usage_tenant_id_created_at_id_idx ON assistant_usage (tenant_id, created_at DESC, id DESC);
SELECT switchboard.protect_tenant_table('assistant_usage');

-- Down Migration

DROP TABLE assistant_usage;
DROP TABLE session_assistant_settings;
DROP TABLE assistant_tenant_settings;
ALTER TABLE messages DROP COLUMN automated_by;
ALTER TABLE conversations DROP COLUMN IF EXISTS automation_stopped_reason;
ALTER TABLE conversations DROP COLUMN IF EXISTS automation_stopped_at;
