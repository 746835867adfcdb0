-- Signed-in sessions: one row per sign-in, whose id is the family id of the sign-in's rotating
-- refresh tokens (refresh_tokens.family_id) and the `sid` claim of every access token issued in
-- it. A member lists theirs (device, IP, created, last seen) and ends any of them; an admin ends
-- all of a member's. Ending one sets ended_at: its refresh tokens are revoked in the same
-- transaction, and the API refuses its access tokens from then on.
-- A refresh-token family older than this table gets its row on its next refresh (the API adopts
-- it), so no backfill is needed here.

-- Up Migration

CREATE TABLE auth_sessions (
  id uuid PRIMARY KEY,
  tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE RESTRICT,
  user_id uuid NOT NULL,
  -- The sign-in's User-Agent header (at most 512 characters) and what the API parsed from it.
  user_agent text NOT NULL DEFAULT '',
  browser text NOT NULL,
  os text NOT NULL,
  -- The client IP of the sign-in, then of the last request that moved last_seen_at.
  ip text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  last_seen_at timestamptz NOT NULL DEFAULT now(),
  ended_at timestamptz,
  -- 'ended_by_user', 'ended_by_admin', 'logout', 'password_reset', 'refresh_token_reused'.
  ended_reason text,
  FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX auth_sessions_tenant_id_user_id_idx ON auth_sessions (tenant_id, user_id);
SELECT switchboard.protect_tenant_table('auth_sessions');

-- Down Migration

DROP TABLE auth_sessions;
