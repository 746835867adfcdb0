-- Where a trace goes on after a hand-over through the database: the W3C traceparent
-- (`00-<trace id>-<span id>-<flags>`, 55 characters) of the span that wrote the row.
-- messages.send_traceparent is the send of an outbound message (the worker's job), so a status
-- Meta reports later, which arrives in a new trace of its own, is processed in the send's trace.
-- outbox.traceparent is the commit that wrote the effect, so a relay that performs it after a
-- crash (another process, minutes later) continues that trace instead of starting one.

-- Up Migration

ALTER TABLE messages ADD COLUMN send_traceparent text
  CHECK (send_traceparent ~ '^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$');
ALTER TABLE outbox ADD COLUMN traceparent text
  CHECK (traceparent ~ '^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$');

-- Down Migration

ALTER TABLE outbox DROP COLUMN traceparent;
ALTER TABLE messages DROP COLUMN send_traceparent;
