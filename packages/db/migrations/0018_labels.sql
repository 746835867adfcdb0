-- Labels (issue #20.4): a tenant's named, coloured tags, applied to conversations and to
-- contacts. The join rows reference their label (deleting a label removes it everywhere); they
-- carry no foreign key to conversations or contacts, which contact merges delete (inbound
-- merge.ts): a join row whose conversation or contact is gone is never read again, since every
-- read joins it to its conversation or contact. Like 0013's tables, they stay out of the Tenant
-- model's relations (tenants are never deleted).

-- Up Migration

CREATE TABLE labels (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id uuid NOT NULL,
  -- Trimmed by the API; unique per tenant as written.
  name text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 50),
  -- '#rrggbb', lowercase.
  color text NOT NULL CHECK (color ~ '^#[0-9a-f]{6}$'),
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT labels_tenant_id_id_key UNIQUE (tenant_id, id),
  CONSTRAINT labels_tenant_id_name_key UNIQUE (tenant_id, name)
);
SELECT switchboard.protect_tenant_table('labels');

CREATE TABLE conversation_labels (
  tenant_id uuid NOT NULL,
  conversation_id uuid NOT NULL,
  label_id uuid NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  -- The labels of one conversation (the list's chips): a prefix of the key.
  PRIMARY KEY (tenant_id, conversation_id, label_id),
  FOREIGN KEY (tenant_id, label_id) REFERENCES labels (tenant_id, id) ON DELETE CASCADE
);
-- The list's `?label=` filter: the conversations of one label.
CREATE INDEX conversation_labels_tenant_id_label_id_conversation_id_idx
  ON conversation_labels (tenant_id, label_id, conversation_id);
SELECT switchboard.protect_tenant_table('conversation_labels');

CREATE TABLE contact_labels (
  tenant_id uuid NOT NULL,
  contact_id uuid NOT NULL,
  label_id uuid NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, contact_id, label_id),
  FOREIGN KEY (tenant_id, label_id) REFERENCES labels (tenant_id, id) ON DELETE CASCADE
);
-- A campaign's label segment: the contacts of one label.
CREATE INDEX contact_labels_tenant_id_label_id_contact_id_idx
  ON contact_labels (tenant_id, label_id, contact_id);
SELECT switchboard.protect_tenant_table('contact_labels');

-- Down Migration

DROP TABLE contact_labels;
DROP TABLE conversation_labels;
DROP TABLE labels;
