-- WhatsApp: sessions, contacts and their identities, conversations, messages and
-- their status history, templates, quick replies and scheduled messages.

-- Up Migration

CREATE TYPE session_channel AS ENUM ('baileys', 'cloud-api');
CREATE TYPE session_state AS ENUM ('unpaired', 'pairing', 'connecting', 'connected', 'disconnected', 'logged_out');
CREATE TYPE contact_identity_kind AS ENUM ('pn', 'lid');
CREATE TYPE conversation_status AS ENUM ('open', 'resolved');
CREATE TYPE message_direction AS ENUM ('inbound', 'outbound');
CREATE TYPE message_status AS ENUM ('queued', 'sent', 'delivered', 'read', 'failed');
CREATE TYPE message_type AS ENUM (
  'text', 'image', 'video', 'audio', 'document', 'sticker', 'location', 'contact', 'reaction', 'template',
  'unsupported'
);
CREATE TYPE scheduled_message_status AS ENUM ('scheduled', 'sent', 'cancelled', 'failed');
SELECT switchboard.grant_app('USAGE', 'TYPE ' || t)
FROM unnest(ARRAY[
  'session_channel', 'session_state', 'contact_identity_kind', 'conversation_status', 'message_direction',
  'message_status', 'message_type', 'scheduled_message_status'
]) AS t;

-- One WhatsApp number. epoch is the fencing token: each lease claim increments it and
-- every write on the session's behalf carries it.
CREATE TABLE sessions (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE RESTRICT,
  name text NOT NULL,
  channel session_channel NOT NULL,
  state session_state NOT NULL DEFAULT 'unpaired',
  state_reason text,
  epoch bigint NOT NULL DEFAULT 0 CHECK (epoch >= 0),
  owner text,
  declared boolean NOT NULL DEFAULT false,
  phone_number text,
  state_changed_at timestamptz NOT NULL DEFAULT now(),
  last_connected_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT sessions_tenant_id_id_key UNIQUE (tenant_id, id),
  CONSTRAINT sessions_tenant_id_name_key UNIQUE (tenant_id, name)
);
SELECT switchboard.protect_tenant_table('sessions');

CREATE TABLE contacts (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE RESTRICT,
  display_name text,
  push_name text,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT contacts_tenant_id_id_key UNIQUE (tenant_id, id)
);
SELECT switchboard.protect_tenant_table('contacts');

-- A phone number (pn) or LID that identifies a contact; one contact per identity.
CREATE TABLE contact_identities (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE RESTRICT,
  contact_id uuid NOT NULL,
  kind contact_identity_kind NOT NULL,
  value text NOT NULL CHECK (value <> ''),
  created_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT contact_identities_tenant_id_kind_value_key UNIQUE (tenant_id, kind, value),
  FOREIGN KEY (tenant_id, contact_id) REFERENCES contacts (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX contact_identities_tenant_id_contact_id_idx ON contact_identities (tenant_id, contact_id);
SELECT switchboard.protect_tenant_table('contact_identities');

CREATE TABLE conversations (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE RESTRICT,
  session_id uuid NOT NULL,
  contact_id uuid NOT NULL,
  status conversation_status NOT NULL DEFAULT 'open',
  assignee_id uuid,
  last_message_at timestamptz NOT NULL DEFAULT now(),
  unread_count integer NOT NULL DEFAULT 0 CHECK (unread_count >= 0),
  resolved_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT conversations_tenant_id_id_key UNIQUE (tenant_id, id),
  -- Inbound messages upsert their conversation on this key.
  CONSTRAINT conversations_tenant_id_session_id_contact_id_key UNIQUE (tenant_id, session_id, contact_id),
  FOREIGN KEY (tenant_id, session_id) REFERENCES sessions (tenant_id, id) ON DELETE RESTRICT,
  FOREIGN KEY (tenant_id, contact_id) REFERENCES contacts (tenant_id, id) ON DELETE RESTRICT,
  FOREIGN KEY (tenant_id, assignee_id) REFERENCES users (tenant_id, id) ON DELETE RESTRICT
);
-- The inbox list, newest first, keyset-paginated on (last_message_at, id).
CREATE INDEX conversations_tenant_id_status_last_message_at_id_idx
  ON conversations (tenant_id, status, last_message_at DESC, id DESC);
-- "Assigned to me" and per-agent views.
CREATE INDEX conversations_tenant_id_assignee_id_status_last_message_at_id_idx
  ON conversations (tenant_id, assignee_id, status, last_message_at DESC, id DESC);
CREATE INDEX conversations_tenant_id_contact_id_idx ON conversations (tenant_id, contact_id);
SELECT switchboard.protect_tenant_table('conversations');

CREATE TABLE messages (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE RESTRICT,
  session_id uuid NOT NULL,
  conversation_id uuid NOT NULL,
  direction message_direction NOT NULL,
  provider_message_id text,
  status message_status NOT NULL,
  failure_reason text,
  type message_type NOT NULL,
  body text,
  media_storage_key text,
  media_mime_type text,
  media_size_bytes bigint CHECK (media_size_bytes >= 0),
  media_sha256 text,
  media_file_name text,
  media_provider_ref jsonb,
  reply_to_message_id uuid,
  reply_to_provider_message_id text,
  reaction text,
  edited_at timestamptz,
  deleted_at timestamptz,
  idempotency_key text,
  epoch bigint CHECK (epoch >= 0),
  sent_by_id uuid,
  provider_timestamp timestamptz,
  sent_at timestamptz,
  delivered_at timestamptz,
  read_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT messages_tenant_id_id_key UNIQUE (tenant_id, id),
  -- De-duplication of inbound (and echoed outbound) messages.
  CONSTRAINT messages_session_id_provider_message_id_key UNIQUE (session_id, provider_message_id),
  CONSTRAINT messages_tenant_id_idempotency_key_key UNIQUE (tenant_id, idempotency_key),
  FOREIGN KEY (tenant_id, session_id) REFERENCES sessions (tenant_id, id) ON DELETE RESTRICT,
  FOREIGN KEY (tenant_id, conversation_id) REFERENCES conversations (tenant_id, id) ON DELETE RESTRICT,
  FOREIGN KEY (tenant_id, reply_to_message_id) REFERENCES messages (tenant_id, id) ON DELETE RESTRICT,
  FOREIGN KEY (tenant_id, sent_by_id) REFERENCES users (tenant_id, id) ON DELETE RESTRICT
);
-- Conversation history, newest first, keyset-paginated on (created_at, id).
CREATE INDEX messages_conversation_id_created_at_id_idx ON messages (conversation_id, created_at DESC, id DESC);
SELECT switchboard.protect_tenant_table('messages');

CREATE TABLE message_status_events (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE RESTRICT,
  message_id uuid NOT NULL,
  status message_status NOT NULL,
  reason text,
  occurred_at timestamptz NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  FOREIGN KEY (tenant_id, message_id) REFERENCES messages (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX message_status_events_tenant_id_message_id_occurred_at_idx
  ON message_status_events (tenant_id, message_id, occurred_at);
SELECT switchboard.protect_tenant_table('message_status_events');

CREATE TABLE message_templates (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE RESTRICT,
  name text NOT NULL,
  language text NOT NULL,
  category text,
  body text NOT NULL,
  components jsonb,
  provider_status text,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT message_templates_tenant_id_name_language_key UNIQUE (tenant_id, name, language)
);
SELECT switchboard.protect_tenant_table('message_templates');

CREATE TABLE quick_replies (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE RESTRICT,
  shortcut text NOT NULL,
  title text NOT NULL,
  body text NOT NULL,
  created_by_id uuid,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT quick_replies_tenant_id_shortcut_key UNIQUE (tenant_id, shortcut),
  FOREIGN KEY (tenant_id, created_by_id) REFERENCES users (tenant_id, id) ON DELETE RESTRICT
);
SELECT switchboard.protect_tenant_table('quick_replies');

CREATE TABLE scheduled_messages (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE RESTRICT,
  session_id uuid NOT NULL,
  conversation_id uuid NOT NULL,
  content jsonb NOT NULL,
  send_at timestamptz NOT NULL,
  status scheduled_message_status NOT NULL DEFAULT 'scheduled',
  message_id uuid,
  failure_reason text,
  created_by_id uuid,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT scheduled_messages_tenant_id_message_id_key UNIQUE (tenant_id, message_id),
  FOREIGN KEY (tenant_id, session_id) REFERENCES sessions (tenant_id, id) ON DELETE RESTRICT,
  FOREIGN KEY (tenant_id, conversation_id) REFERENCES conversations (tenant_id, id) ON DELETE RESTRICT,
  FOREIGN KEY (tenant_id, message_id) REFERENCES messages (tenant_id, id) ON DELETE RESTRICT,
  FOREIGN KEY (tenant_id, created_by_id) REFERENCES users (tenant_id, id) ON DELETE RESTRICT
);
-- The scheduler's scan for what is due.
CREATE INDEX scheduled_messages_tenant_id_status_send_at_idx ON scheduled_messages (tenant_id, status, send_at);
SELECT switchboard.protect_tenant_table('scheduled_messages');

-- Down Migration

DROP TABLE scheduled_messages;
DROP TABLE quick_replies;
DROP TABLE message_templates;
DROP TABLE message_status_events;
DROP TABLE messages;
DROP TABLE conversations;
DROP TABLE contact_identities;
DROP TABLE contacts;
DROP TABLE sessions;
DROP TYPE scheduled_message_status;
DROP TYPE message_type;
DROP TYPE message_status;
DROP TYPE message_direction;
DROP TYPE conversation_status;
DROP TYPE contact_identity_kind;
DROP TYPE session_state;
DROP TYPE session_channel;
