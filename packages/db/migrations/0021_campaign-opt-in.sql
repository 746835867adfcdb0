-- Opting back in to campaigns (issue #20.3): a contact who opted out (a STOP reply, the API) is
-- back in after an opt-in keyword (default START, UNSTOP) sent later, or through the API. The
-- contact's row keeps the latest change: opted out while `opted_in_at` is NULL; a keyword message
-- counts only when it is newer than the row's last change, so an old STOP does not undo a later
-- opt-in and an old START does not undo a later opt-out.

-- Up Migration

ALTER TABLE contact_opt_outs ADD COLUMN opted_in_at timestamptz;
ALTER TABLE contact_opt_outs ADD COLUMN opted_in_by text
  CHECK (opted_in_by IS NULL OR char_length(opted_in_by) BETWEEN 1 AND 64);
ALTER TABLE campaign_settings ADD COLUMN opt_in_keywords text[] NOT NULL DEFAULT '{START,UNSTOP}';

-- Down Migration

ALTER TABLE campaign_settings DROP COLUMN opt_in_keywords;
ALTER TABLE contact_opt_outs DROP COLUMN opted_in_by;
ALTER TABLE contact_opt_outs DROP COLUMN opted_in_at;
