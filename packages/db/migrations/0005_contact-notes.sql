-- Notes the team keeps about a contact (shown in the inbox's contact panel).

-- Up Migration

ALTER TABLE contacts ADD COLUMN notes text CHECK (char_length(notes) <= 10000);

-- Down Migration

ALTER TABLE contacts DROP COLUMN notes;
