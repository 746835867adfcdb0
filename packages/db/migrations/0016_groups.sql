-- WhatsApp groups (Baileys sessions): a group is one conversation, filed under a contact that
-- stands for the group (no pn/lid identity; whatsapp_groups links it to the group's JID). Each
-- message of a group keeps who wrote it (sender_*), and the JIDs it mentions; group events
-- (joins, leaves, promotions, subject changes) are thread lines of type `group_event`.

-- Up Migration

CREATE TABLE whatsapp_groups (
  tenant_id uuid NOT NULL,
  -- The group's JID, `<id>@g.us`: the same group whichever session of the tenant sees it.
  jid text NOT NULL CHECK (jid ~ '^[0-9-]{1,64}@g\.us$'),
  -- The contact the group's conversations are filed under (one per session in the group).
  contact_id uuid NOT NULL,
  subject text,
  description text,
  -- Who created it: a JID (PN or LID).
  owner_jid text,
  -- [{"jid", "pn"?, "lid"?, "role": "member" | "admin" | "superadmin"}], as WhatsApp last said.
  participants jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(participants) = 'array'),
  -- When the group was created on WhatsApp.
  group_created_at timestamptz,
  -- When its metadata was last read from WhatsApp (groupMetadata), not from an event.
  refreshed_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, jid),
  UNIQUE (tenant_id, contact_id)
);
SELECT switchboard.protect_tenant_table('whatsapp_groups');

-- Who wrote a group message (inbound): the participant's JID as WhatsApp addressed it, their
-- phone number when known, and the name they set (push name) at the time.
ALTER TABLE messages ADD COLUMN sender_jid text;
ALTER TABLE messages ADD COLUMN sender_pn text;
ALTER TABLE messages ADD COLUMN sender_name text;
-- The people a message mentions: [{"jid", "pn"?, "name"?}] (inbound: contextInfo.mentionedJid;
-- outbound: the API's `mentions`).
ALTER TABLE messages ADD COLUMN mentions jsonb CHECK (mentions IS NULL OR jsonb_typeof(mentions) = 'array');

-- A group event shown in the thread as a system line (body: what happened).
ALTER TYPE message_type ADD VALUE IF NOT EXISTS 'group_event';

-- Down Migration

-- Postgres cannot drop one value of an enum: 'group_event' stays in message_type (unused).
DELETE FROM messages WHERE type::text = 'group_event';
ALTER TABLE messages DROP COLUMN mentions;
ALTER TABLE messages DROP COLUMN sender_name;
ALTER TABLE messages DROP COLUMN sender_pn;
ALTER TABLE messages DROP COLUMN sender_jid;
DROP TABLE whatsapp_groups;
