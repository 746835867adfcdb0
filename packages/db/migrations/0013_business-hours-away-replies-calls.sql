-- Business hours per tenant, and the away reply sent outside them once per conversation per
-- window (services/worker away-replies.ts); per-session call handling and the `call` message
-- type of missed and rejected calls (services/worker calls.ts). No foreign keys: tenants are never deleted
-- (RESTRICT everywhere), and a row of away_replies whose conversation is gone is never read
-- again; the tables stay out of the Tenant model's relations.

-- Up Migration

CREATE TABLE business_hours (
  tenant_id uuid PRIMARY KEY,
  -- Off: no away replies, whatever the schedule.
  enabled boolean NOT NULL DEFAULT false,
  -- An IANA zone name, checked by the API (Intl) before it is stored.
  time_zone text NOT NULL DEFAULT 'UTC' CHECK (char_length(time_zone) BETWEEN 1 AND 64),
  -- [{"day": "mon".."sun", "open": "HH:MM", "close": "HH:MM" or "24:00"}], open < close.
  schedule jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(schedule) = 'array'),
  away_message text CHECK (char_length(away_message) BETWEEN 1 AND 4096),
  -- At most one away reply per conversation within this many minutes (default 12 h, up to 7 days).
  away_window_minutes integer NOT NULL DEFAULT 720 CHECK (away_window_minutes BETWEEN 1 AND 10080),
  updated_at timestamptz NOT NULL DEFAULT now()
);
SELECT switchboard.protect_tenant_table('business_hours');

-- The last away reply of each conversation: the row that makes it once per window across
-- worker replicas (INSERT ... ON CONFLICT DO UPDATE ... WHERE the window has passed).
CREATE TABLE away_replies (
  tenant_id uuid NOT NULL,
  conversation_id uuid NOT NULL,
  sent_at timestamptz NOT NULL,
  -- The outbound message it queued.
  message_id uuid NOT NULL,
  PRIMARY KEY (tenant_id, conversation_id)
);
SELECT switchboard.protect_tenant_table('away_replies');

-- Per session: decline incoming WhatsApp calls, and what to answer the caller in the chat.
CREATE TABLE session_call_settings (
  tenant_id uuid NOT NULL,
  session_id uuid NOT NULL,
  reject_calls boolean NOT NULL DEFAULT false,
  reply_text text CHECK (char_length(reply_text) BETWEEN 1 AND 4096),
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, session_id)
);
SELECT switchboard.protect_tenant_table('session_call_settings');

-- A missed or rejected call, shown in the thread as a system line (body: what happened).
ALTER TYPE message_type ADD VALUE IF NOT EXISTS 'call';

-- Down Migration

-- Postgres cannot drop one value of an enum: 'call' stays in message_type (unused), and the
-- call lines go.
DELETE FROM messages WHERE type::text = 'call';
DROP TABLE session_call_settings;
DROP TABLE away_replies;
DROP TABLE business_hours;
