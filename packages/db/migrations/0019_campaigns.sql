-- Campaigns (issue #20.3): an approved template sent to a segment of contacts through one Cloud
-- API session, once per contact (campaign_recipients' key), paced by the worker's campaign runner
-- (services/worker campaigns.ts); contacts imported from CSV; contacts who opted out (a STOP
-- reply or a configured keyword) are left out of later campaigns. No foreign keys to contacts or
-- messages: contact merges delete contacts (inbound merge.ts), and a campaign's results keep the
-- phone number it was sent to.

-- Up Migration

-- A contact who asked to get no more campaigns.
CREATE TABLE contact_opt_outs (
  tenant_id uuid NOT NULL,
  contact_id uuid NOT NULL,
  -- The keyword of the inbound message that opted out (or 'api' when set through the API).
  keyword text NOT NULL CHECK (char_length(keyword) BETWEEN 1 AND 64),
  message_id uuid,
  opted_out_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, contact_id)
);
SELECT switchboard.protect_tenant_table('contact_opt_outs');

-- The tenant's opt-out keywords (an inbound text equal to one of them, case-insensitive and
-- trimmed, opts the contact out). Without a row: STOP, UNSUBSCRIBE.
CREATE TABLE campaign_settings (
  tenant_id uuid PRIMARY KEY,
  opt_out_keywords text[] NOT NULL DEFAULT '{STOP,UNSUBSCRIBE}',
  updated_at timestamptz NOT NULL DEFAULT now()
);
SELECT switchboard.protect_tenant_table('campaign_settings');

-- One CSV import of contacts: the contacts it created or matched (a campaign segment) and the
-- rows it rejected ([{"line": n, "reason": "..."}]).
CREATE TABLE contact_imports (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id uuid NOT NULL,
  file_name text NOT NULL CHECK (char_length(file_name) BETWEEN 1 AND 255),
  contact_ids uuid[] NOT NULL DEFAULT '{}',
  rejected jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(rejected) = 'array'),
  total_rows integer NOT NULL,
  created_by_id uuid,
  created_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT contact_imports_tenant_id_id_key UNIQUE (tenant_id, id)
);
SELECT switchboard.protect_tenant_table('contact_imports');

CREATE TABLE campaigns (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id uuid NOT NULL,
  name text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 120),
  session_id uuid NOT NULL,
  -- {name, language, components} as a template send takes it.
  template jsonb NOT NULL,
  -- {"type": "label", "labelId"} | {"type": "import", "importId"} | {"type": "recent", "days"}.
  segment jsonb NOT NULL,
  -- running -> paused <-> running -> completed; running or paused -> cancelled.
  status text NOT NULL DEFAULT 'running' CHECK (status IN ('running', 'paused', 'cancelled', 'completed')),
  -- Sends queued per minute at most (also bounded by the session's outbound limit).
  per_minute integer NOT NULL DEFAULT 60 CHECK (per_minute BETWEEN 1 AND 6000),
  created_by_id uuid,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  completed_at timestamptz,
  CONSTRAINT campaigns_tenant_id_id_key UNIQUE (tenant_id, id)
);
CREATE INDEX campaigns_tenant_id_status_idx ON campaigns (tenant_id, status);
SELECT switchboard.protect_tenant_table('campaigns');

-- One per (campaign, contact): the unique key that makes a campaign send once per contact.
CREATE TABLE campaign_recipients (
  tenant_id uuid NOT NULL,
  campaign_id uuid NOT NULL,
  contact_id uuid NOT NULL,
  -- E.164 digits without '+'.
  phone_number text NOT NULL,
  -- pending: not queued yet; queued: its message exists (the message's status says the rest);
  -- skipped: never sent (reason: opted_out, no_phone_number, cancelled).
  state text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'queued', 'skipped')),
  reason text,
  message_id uuid,
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, campaign_id, contact_id),
  FOREIGN KEY (tenant_id, campaign_id) REFERENCES campaigns (tenant_id, id) ON DELETE CASCADE
);
-- The runner's next pending recipients of a campaign.
CREATE INDEX campaign_recipients_tenant_id_campaign_id_state_idx
  ON campaign_recipients (tenant_id, campaign_id, state);
SELECT switchboard.protect_tenant_table('campaign_recipients');

-- Down Migration

DROP TABLE campaign_recipients;
DROP TABLE campaigns;
DROP TABLE contact_imports;
DROP TABLE campaign_settings;
DROP TABLE contact_opt_outs;
