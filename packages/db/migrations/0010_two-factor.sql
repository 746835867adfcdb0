-- Two-factor sign-in (TOTP, RFC 6238): each member's authenticator secret, sealed with the
-- API's SEALING_KEYS, its recovery codes (hashes only) and the last time step a code was used
-- at (a code is never accepted twice); and the tenant's policy that admins and owners must
-- have it.

-- Up Migration

CREATE TABLE two_factor_credentials (
  tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE RESTRICT,
  user_id uuid NOT NULL,
  -- The base32 secret sealed by the SEALING_KEYS keyring (purpose "two-factor-secret").
  secret_ciphertext bytea NOT NULL,
  -- Null while enrolling: the secret is shown but not yet proven by a code.
  confirmed_at timestamptz,
  -- The TOTP time step (unix seconds / 30) of the last accepted code.
  last_used_step bigint,
  -- SHA-256 of each unused recovery code; a used one is removed.
  recovery_code_hashes text[] NOT NULL DEFAULT '{}',
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, user_id),
  FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
);
SELECT switchboard.protect_tenant_table('two_factor_credentials');

CREATE TABLE tenant_security_policies (
  tenant_id uuid PRIMARY KEY REFERENCES tenants (id) ON DELETE RESTRICT,
  -- Admins and owners must sign in with a second factor (and enrol before anything else).
  require_two_factor_for_admins boolean NOT NULL DEFAULT false,
  updated_at timestamptz NOT NULL DEFAULT now()
);
SELECT switchboard.protect_tenant_table('tenant_security_policies');

-- Down Migration

DROP TABLE tenant_security_policies;
DROP TABLE two_factor_credentials;
