-- Meta's messaging limit of a Cloud API number (issue #20.3): how many unique customers it may
-- start conversations with (templates) in a rolling 24 hours (its tier: 250, 1K, 10K, 100K). The
-- campaign runner queues no more campaign messages than the number has left; NULL: not enforced
-- (an unlimited tier, or not set).

-- Up Migration

ALTER TABLE sessions ADD COLUMN messaging_limit integer
  CHECK (messaging_limit IS NULL OR messaging_limit > 0);
ALTER TABLE sessions ADD CONSTRAINT sessions_messaging_limit_cloud_api
  CHECK (messaging_limit IS NULL OR channel = 'cloud-api');

-- Down Migration

ALTER TABLE sessions DROP CONSTRAINT sessions_messaging_limit_cloud_api;
ALTER TABLE sessions DROP COLUMN messaging_limit;
