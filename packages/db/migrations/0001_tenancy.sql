-- Tenancy and identity: the helpers every migration uses to protect a table, then
-- tenants, users, memberships, API keys, refresh tokens and password reset tokens.
--
-- Run by the database owner (see README.md). The application role's name arrives as
-- the session setting switchboard.app_role on the migration connection; it gets DML
-- on the tables and nothing else. No cluster-wide role is created or granted here.

-- Up Migration

-- The helpers live in schema switchboard, which migrate() has already created to hold
-- node-pg-migrate's table (so the down migration leaves the schema in place). The
-- application role has no privilege on it.
CREATE SCHEMA IF NOT EXISTS switchboard;

-- The application role named for this migration run, or NULL when none was given.
-- Refuses a role that could get around row-level security.
CREATE FUNCTION switchboard.app_role() RETURNS name
LANGUAGE plpgsql STABLE AS $$
DECLARE
  role_name name := NULLIF(current_setting('switchboard.app_role', true), '');
  db_owner name := (SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = current_database());
  r record;
BEGIN
  IF role_name IS NULL THEN
    RETURN NULL;
  END IF;
  SELECT rolsuper, rolbypassrls INTO r FROM pg_roles WHERE rolname = role_name;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'application role "%" does not exist', role_name;
  END IF;
  IF r.rolsuper OR r.rolbypassrls THEN
    RAISE EXCEPTION 'application role "%" must be NOSUPERUSER NOBYPASSRLS: row-level security would not apply to it', role_name;
  END IF;
  IF pg_has_role(role_name, current_user, 'USAGE') OR pg_has_role(role_name, db_owner, 'USAGE') THEN
    RAISE EXCEPTION 'application role "%" must not be, or inherit, the owner of the tables or of the database', role_name;
  END IF;
  RETURN role_name;
END;
$$;

-- GRANT privileges ON object TO the application role, when one was given.
CREATE FUNCTION switchboard.grant_app(privileges text, object text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
  app name := switchboard.app_role();
BEGIN
  IF app IS NOT NULL THEN
    EXECUTE format('GRANT %s ON %s TO %I', privileges, object, app);
  END IF;
END;
$$;

-- REVOKE privileges ON object FROM the application role (down migrations).
CREATE FUNCTION switchboard.revoke_app(privileges text, object text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
  app name := switchboard.app_role();
BEGIN
  IF app IS NOT NULL THEN
    EXECUTE format('REVOKE %s ON %s FROM %I', privileges, object, app);
  END IF;
END;
$$;

-- Forces row-level security on a tenant-owned table: rows are visible and writable
-- only while switchboard.tenant_id (set per transaction by withTenant) equals their
-- tenant_id. Unset or empty, the setting matches nothing (NULLIF avoids casting '').
-- FORCE makes the policy apply to the table owner too.
CREATE FUNCTION switchboard.protect_tenant_table(
  tbl regclass,
  app_privileges text DEFAULT 'SELECT, INSERT, UPDATE, DELETE'
) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY', tbl);
  EXECUTE format(
    $policy$CREATE POLICY tenant_isolation ON %s
      USING (tenant_id = NULLIF(current_setting('switchboard.tenant_id', true), '')::uuid)
      WITH CHECK (tenant_id = NULLIF(current_setting('switchboard.tenant_id', true), '')::uuid)$policy$,
    tbl);
  PERFORM switchboard.grant_app(app_privileges, 'TABLE ' || tbl::text);
END;
$$;

SELECT switchboard.grant_app('USAGE', 'SCHEMA public');

CREATE TYPE membership_role AS ENUM ('owner', 'admin', 'agent', 'viewer');
SELECT switchboard.grant_app('USAGE', 'TYPE membership_role');

CREATE TABLE tenants (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  slug text NOT NULL,
  display_name text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT tenants_slug_key UNIQUE (slug)
);

-- The tenants table is keyed by id, not tenant_id: the application sees, creates and
-- updates only its own row, and cannot delete it.
ALTER TABLE tenants ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON tenants
  USING (id = NULLIF(current_setting('switchboard.tenant_id', true), '')::uuid)
  WITH CHECK (id = NULLIF(current_setting('switchboard.tenant_id', true), '')::uuid);
SELECT switchboard.grant_app('SELECT, INSERT, UPDATE', 'TABLE tenants');

CREATE TABLE users (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE RESTRICT,
  email text NOT NULL CHECK (email = lower(email)),
  display_name text NOT NULL,
  password_hash text,
  disabled_at timestamptz,
  last_login_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT users_tenant_id_id_key UNIQUE (tenant_id, id),
  CONSTRAINT users_tenant_id_email_key UNIQUE (tenant_id, email)
);
SELECT switchboard.protect_tenant_table('users');

CREATE TABLE memberships (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE RESTRICT,
  user_id uuid NOT NULL,
  role membership_role NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT memberships_tenant_id_user_id_key UNIQUE (tenant_id, user_id),
  FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
);
SELECT switchboard.protect_tenant_table('memberships');

CREATE TABLE api_keys (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE RESTRICT,
  name text NOT NULL,
  prefix text NOT NULL,
  key_hash text NOT NULL,
  scopes text[] NOT NULL DEFAULT '{}',
  created_by_id uuid,
  last_used_at timestamptz,
  expires_at timestamptz,
  revoked_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT api_keys_prefix_key UNIQUE (prefix),
  FOREIGN KEY (tenant_id, created_by_id) REFERENCES users (tenant_id, id) ON DELETE RESTRICT
);
SELECT switchboard.protect_tenant_table('api_keys');

CREATE TABLE refresh_tokens (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE RESTRICT,
  user_id uuid NOT NULL,
  family_id uuid NOT NULL,
  token_hash text NOT NULL,
  expires_at timestamptz NOT NULL,
  rotated_at timestamptz,
  revoked_at timestamptz,
  revoked_reason text,
  created_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT refresh_tokens_token_hash_key UNIQUE (token_hash),
  FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX refresh_tokens_tenant_id_family_id_idx ON refresh_tokens (tenant_id, family_id);
CREATE INDEX refresh_tokens_tenant_id_user_id_idx ON refresh_tokens (tenant_id, user_id);
SELECT switchboard.protect_tenant_table('refresh_tokens');

CREATE TABLE password_reset_tokens (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE RESTRICT,
  user_id uuid NOT NULL,
  token_hash text NOT NULL,
  expires_at timestamptz NOT NULL,
  used_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT password_reset_tokens_token_hash_key UNIQUE (token_hash),
  FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX password_reset_tokens_tenant_id_user_id_idx ON password_reset_tokens (tenant_id, user_id);
SELECT switchboard.protect_tenant_table('password_reset_tokens');

-- Down Migration

DROP TABLE password_reset_tokens;
DROP TABLE refresh_tokens;
DROP TABLE api_keys;
DROP TABLE memberships;
DROP TABLE users;
DROP TABLE tenants;
DROP TYPE membership_role;
SELECT switchboard.revoke_app('USAGE', 'SCHEMA public');
DROP FUNCTION switchboard.protect_tenant_table(regclass, text);
DROP FUNCTION switchboard.revoke_app(text, text);
DROP FUNCTION switchboard.grant_app(text, text);
DROP FUNCTION switchboard.app_role();
