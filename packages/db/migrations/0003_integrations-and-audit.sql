-- Integrations and audit: webhook subscriptions and their delivery log, API
-- idempotency keys, and the append-only audit log.

-- Up Migration

CREATE TYPE webhook_delivery_status AS ENUM ('pending', 'succeeded', 'failed');
CREATE TYPE audit_actor_type AS ENUM ('user', 'api_key', 'system');
SELECT switchboard.grant_app('USAGE', 'TYPE ' || t)
FROM unnest(ARRAY['webhook_delivery_status', 'audit_actor_type']) AS t;

-- The signing secret is a reference into the tenant's secret provider or a ciphertext;
-- never clear text.
CREATE TABLE webhook_subscriptions (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE RESTRICT,
  url text NOT NULL CHECK (url ~ '^https?://'),
  description text,
  events text[] NOT NULL DEFAULT '{}',
  secret_ref text,
  secret_ciphertext bytea,
  active boolean NOT NULL DEFAULT true,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT webhook_subscriptions_tenant_id_id_key UNIQUE (tenant_id, id),
  CONSTRAINT webhook_subscriptions_secret_check CHECK (secret_ref IS NOT NULL OR secret_ciphertext IS NOT NULL)
);
SELECT switchboard.protect_tenant_table('webhook_subscriptions');

CREATE TABLE webhook_deliveries (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE RESTRICT,
  subscription_id uuid NOT NULL,
  event_id uuid NOT NULL,
  event_type text NOT NULL,
  payload jsonb NOT NULL,
  status webhook_delivery_status NOT NULL DEFAULT 'pending',
  attempts integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
  response_code integer,
  latency_ms integer CHECK (latency_ms >= 0),
  last_error text,
  next_attempt_at timestamptz,
  delivered_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT webhook_deliveries_subscription_id_event_id_key UNIQUE (subscription_id, event_id),
  FOREIGN KEY (tenant_id, subscription_id) REFERENCES webhook_subscriptions (tenant_id, id) ON DELETE CASCADE
);
-- The delivery log of one subscription, newest first.
CREATE INDEX webhook_deliveries_subscription_id_created_at_id_idx
  ON webhook_deliveries (subscription_id, created_at DESC, id DESC);
-- The retry sweep: pending deliveries whose next attempt is due.
CREATE INDEX webhook_deliveries_tenant_id_status_next_attempt_at_idx
  ON webhook_deliveries (tenant_id, status, next_attempt_at);
SELECT switchboard.protect_tenant_table('webhook_deliveries');

CREATE TABLE idempotency_keys (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE RESTRICT,
  key text NOT NULL CHECK (key <> ''),
  request_hash text NOT NULL,
  response_status integer,
  response_body jsonb,
  completed_at timestamptz,
  expires_at timestamptz NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT idempotency_keys_tenant_id_key_key UNIQUE (tenant_id, key)
);
-- The sweep that deletes expired keys.
CREATE INDEX idempotency_keys_expires_at_idx ON idempotency_keys (expires_at);
SELECT switchboard.protect_tenant_table('idempotency_keys');

CREATE TABLE audit_log (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE RESTRICT,
  actor_type audit_actor_type NOT NULL,
  actor_id uuid,
  action text NOT NULL,
  target_type text,
  target_id text,
  metadata jsonb NOT NULL DEFAULT '{}',
  at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX audit_log_tenant_id_at_id_idx ON audit_log (tenant_id, at DESC, id DESC);
-- Append-only: the application may read and insert, nothing more...
SELECT switchboard.protect_tenant_table('audit_log', 'SELECT, INSERT');

-- ...and the trigger refuses changes from anyone, the owner included, so a granted
-- privilege added by mistake later still cannot rewrite history.
CREATE FUNCTION switchboard.refuse_audit_log_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'audit_log is append-only: % is not allowed', TG_OP
    USING ERRCODE = 'insufficient_privilege';
END;
$$;
CREATE TRIGGER audit_log_append_only
  BEFORE UPDATE OR DELETE ON audit_log
  FOR EACH ROW EXECUTE FUNCTION switchboard.refuse_audit_log_change();
CREATE TRIGGER audit_log_no_truncate
  BEFORE TRUNCATE ON audit_log
  FOR EACH STATEMENT EXECUTE FUNCTION switchboard.refuse_audit_log_change();

-- Down Migration

DROP TABLE audit_log;
DROP FUNCTION switchboard.refuse_audit_log_change();
DROP TABLE idempotency_keys;
DROP TABLE webhook_deliveries;
DROP TABLE webhook_subscriptions;
DROP TYPE audit_actor_type;
DROP TYPE webhook_delivery_status;
