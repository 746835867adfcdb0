-- Single sign-on with OpenID Connect: which account at which identity provider is which member.
-- A row is keyed by the provider's issuer and its subject (`sub`, stable for the account), so a
-- member whose email changes at the provider still signs in as the same member.

-- Up Migration

CREATE TABLE sso_identities (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE RESTRICT,
  user_id uuid NOT NULL,
  issuer text NOT NULL CHECK (char_length(issuer) <= 2048),
  subject text NOT NULL CHECK (char_length(subject) <= 255),
  -- The verified address the provider gave at the last sign-in (for the audit and the admins).
  email text NOT NULL CHECK (char_length(email) <= 320),
  created_at timestamptz NOT NULL DEFAULT now(),
  last_sign_in_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT sso_identities_tenant_id_issuer_subject_key UNIQUE (tenant_id, issuer, subject),
  -- One account per provider per member: a second subject with the same address (a mailbox the
  -- provider gave to someone new) is refused rather than linked.
  CONSTRAINT sso_identities_tenant_id_user_id_issuer_key UNIQUE (tenant_id, user_id, issuer),
  FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
);
SELECT switchboard.protect_tenant_table('sso_identities');

-- Down Migration

DROP TABLE sso_identities;
