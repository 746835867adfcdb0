-- The inbox's "All" list and the API's unfiltered GET /v1/conversations: most recent first
-- across every status. The (tenant, status, ...) index cannot give that order without a status,
-- so Postgres sorted every conversation of the tenant per page (measured: 7 requests/s with
-- 100k conversations, the same on the first page and the 1000th).

-- Up Migration

CREATE INDEX conversations_tenant_id_last_message_at_id_idx
  ON conversations (tenant_id, last_message_at DESC, id DESC);

-- Down Migration

DROP INDEX conversations_tenant_id_last_message_at_id_idx;
