-- The transactional outbox for what must follow a commit (realtime events, webhook
-- enqueues, media downloads), and the template of outbound template messages.

-- Up Migration

-- Written in the same transaction as the rows it announces; a relay in the worker reads
-- it after commit (and on start, for what a crash left behind), performs the effect and
-- deletes the row. Effects are idempotent at their destination (job ids, event ids), so
-- a relay that dies after the effect and before the delete repeats nothing visible.
CREATE TABLE outbox (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE RESTRICT,
  kind text NOT NULL CHECK (kind ~ '^[a-z][a-z0-9.-]*$'),
  payload jsonb NOT NULL,
  attempts integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
  last_error text,
  created_at timestamptz NOT NULL DEFAULT clock_timestamp()
);
-- The relay's scan: oldest first, per tenant (clock_timestamp: in write order even within
-- one transaction).
CREATE INDEX outbox_tenant_id_created_at_id_idx ON outbox (tenant_id, created_at, id);
SELECT switchboard.protect_tenant_table('outbox');

-- For type = 'template': {"name", "language", "components"} as Meta's Graph API takes them.
ALTER TABLE messages ADD COLUMN template jsonb;

-- Down Migration

ALTER TABLE messages DROP COLUMN template;
DROP TABLE outbox;
