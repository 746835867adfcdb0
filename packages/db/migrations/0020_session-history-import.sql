-- History on pairing (packages/channels baileys/history.ts, messaging inbound/history.ts): per
-- session, how many days of the chats WhatsApp sends a newly linked device are stored. NULL: none
-- (the default). Baileys sessions only: the Cloud API sends no history.

-- Up Migration

ALTER TABLE sessions
  ADD COLUMN history_import_days integer
    CHECK (history_import_days BETWEEN 1 AND 90),
  ADD CONSTRAINT sessions_history_import_baileys_only
    CHECK (history_import_days IS NULL OR channel = 'baileys');

-- Down Migration

ALTER TABLE sessions DROP CONSTRAINT sessions_history_import_baileys_only;
ALTER TABLE sessions DROP COLUMN history_import_days;
