-- The conversation list's search through a trigram index that works under row-level security.
--
-- The search matches message text and contact names (ILIKE) and identities (LIKE) as substrings.
-- A pg_trgm index on messages.body cannot serve it for the application role: the tenant policy is
-- a security-barrier qual, and Postgres uses a later qual as an index condition only when its
-- operator is leakproof, which ILIKE, LIKE and every trigram operator are not (only a superuser
-- can mark a function leakproof). The search was one pass over every message: 0.4 to 0.9 s at 1M
-- messages, and 10 of them at once outlived the API's transaction timeout (bench/README.md).
--
-- So the searchable text is kept in switchboard.search_entries, maintained by triggers on the
-- three tables and indexed by (tenant_id, text) with btree_gin + pg_trgm. The application role
-- has no privilege on schema switchboard: it reaches the entries only through
-- search_conversation_ids(), a SECURITY DEFINER function that filters tenant_id by the tenant
-- bound to the transaction (switchboard.tenant_id, as the policies read it) and returns nothing
-- when none is bound. It returns conversation ids only, and the API joins them to conversations
-- under row-level security, so another tenant's rows could not show even through a wrong id.
-- The table has no row-level security (its owner, who alone reads it, would be subject to a
-- forced policy and could not use the index either); isolation is the explicit filter above.
--
-- Cost: one entry per message with text (its body again) and two or three per contact, the
-- GIN index's upkeep on insert, and one statement-level trigger per INSERT statement, so a
-- batched insert writes its entries in one statement too.

-- Up Migration

-- Both are trusted extensions: the database owner may create them. In schema switchboard, so
-- nothing is added to public.
CREATE EXTENSION IF NOT EXISTS pg_trgm WITH SCHEMA switchboard;
CREATE EXTENSION IF NOT EXISTS btree_gin WITH SCHEMA switchboard;

CREATE TABLE switchboard.search_entries (
  tenant_id uuid NOT NULL,
  -- 'message' (a message's body), 'display_name', 'push_name' (a contact's), 'identity' (a
  -- contact identity's value).
  kind text NOT NULL CHECK (kind IN ('message', 'display_name', 'push_name', 'identity')),
  -- The message's, contact's or identity's id.
  source_id uuid NOT NULL,
  -- Set for messages.
  conversation_id uuid,
  -- Set for names and identities.
  contact_id uuid,
  text text NOT NULL,
  PRIMARY KEY (source_id, kind)
);

-- New entries wait in the index's pending list (fastupdate) until VACUUM or the list is full, and
-- every search reads the whole list: 256 kB (not the default 4 MB) keeps that read short.
CREATE INDEX search_entries_tenant_id_text_idx
  ON switchboard.search_entries USING gin (tenant_id, text switchboard.gin_trgm_ops)
  WITH (gin_pending_list_limit = 256);

-- Messages: inserts by statement (the inbound pipeline writes batches), body changes and
-- deletes by row.
CREATE FUNCTION switchboard.search_messages_inserted() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  INSERT INTO switchboard.search_entries (tenant_id, kind, source_id, conversation_id, text)
  SELECT n.tenant_id, 'message', n.id, n.conversation_id, n.body
    FROM inserted_messages n WHERE n.body IS NOT NULL AND n.body <> '';
  RETURN NULL;
END;
$$;

CREATE FUNCTION switchboard.search_message_changed() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  DELETE FROM switchboard.search_entries WHERE source_id = OLD.id AND kind = 'message';
  IF TG_OP = 'UPDATE' AND NEW.body IS NOT NULL AND NEW.body <> '' THEN
    INSERT INTO switchboard.search_entries (tenant_id, kind, source_id, conversation_id, text)
    VALUES (NEW.tenant_id, 'message', NEW.id, NEW.conversation_id, NEW.body);
  END IF;
  RETURN NULL;
END;
$$;

CREATE TRIGGER messages_search_insert AFTER INSERT ON messages
  REFERENCING NEW TABLE AS inserted_messages
  FOR EACH STATEMENT EXECUTE FUNCTION switchboard.search_messages_inserted();
CREATE TRIGGER messages_search_update AFTER UPDATE OF body, conversation_id ON messages
  FOR EACH ROW WHEN (OLD.body IS DISTINCT FROM NEW.body OR OLD.conversation_id IS DISTINCT FROM NEW.conversation_id)
  EXECUTE FUNCTION switchboard.search_message_changed();
CREATE TRIGGER messages_search_delete AFTER DELETE ON messages
  FOR EACH ROW EXECUTE FUNCTION switchboard.search_message_changed();

-- Contacts: their two names.
CREATE FUNCTION switchboard.search_contact_changed() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  IF TG_OP <> 'INSERT' THEN
    DELETE FROM switchboard.search_entries
     WHERE source_id = OLD.id AND kind IN ('display_name', 'push_name');
  END IF;
  IF TG_OP <> 'DELETE' THEN
    INSERT INTO switchboard.search_entries (tenant_id, kind, source_id, contact_id, text)
    SELECT NEW.tenant_id, name.kind, NEW.id, NEW.id, name.text
      FROM (VALUES ('display_name', NEW.display_name), ('push_name', NEW.push_name)) AS name (kind, text)
     WHERE name.text IS NOT NULL AND name.text <> '';
  END IF;
  RETURN NULL;
END;
$$;

CREATE TRIGGER contacts_search_insert_delete AFTER INSERT OR DELETE ON contacts
  FOR EACH ROW EXECUTE FUNCTION switchboard.search_contact_changed();
CREATE TRIGGER contacts_search_update AFTER UPDATE OF display_name, push_name ON contacts
  FOR EACH ROW WHEN (OLD.display_name IS DISTINCT FROM NEW.display_name OR OLD.push_name IS DISTINCT FROM NEW.push_name)
  EXECUTE FUNCTION switchboard.search_contact_changed();

-- Contact identities: their value.
CREATE FUNCTION switchboard.search_identity_changed() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  IF TG_OP <> 'INSERT' THEN
    DELETE FROM switchboard.search_entries WHERE source_id = OLD.id AND kind = 'identity';
  END IF;
  IF TG_OP <> 'DELETE' THEN
    INSERT INTO switchboard.search_entries (tenant_id, kind, source_id, contact_id, text)
    VALUES (NEW.tenant_id, 'identity', NEW.id, NEW.contact_id, NEW.value);
  END IF;
  RETURN NULL;
END;
$$;

CREATE TRIGGER contact_identities_search_insert_delete AFTER INSERT OR DELETE ON contact_identities
  FOR EACH ROW EXECUTE FUNCTION switchboard.search_identity_changed();
CREATE TRIGGER contact_identities_search_update AFTER UPDATE OF value, contact_id ON contact_identities
  FOR EACH ROW EXECUTE FUNCTION switchboard.search_identity_changed();

-- The ids of the bound tenant's conversations whose messages' text or contact's names contain
-- `text_pattern` (ILIKE) or whose contact's identities contain `identity_pattern` (LIKE); both are
-- LIKE patterns with backslash escapes. Nothing when no tenant is bound. Dynamic SQL, so every
-- call is planned with its patterns (a pattern under 3 characters has no trigram to look up).
CREATE FUNCTION search_conversation_ids(text_pattern text, identity_pattern text) RETURNS SETOF uuid
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp ROWS 50 AS $$
DECLARE
  tenant uuid := NULLIF(current_setting('switchboard.tenant_id', true), '')::uuid;
BEGIN
  IF tenant IS NULL THEN
    RETURN;
  END IF;
  RETURN QUERY EXECUTE $query$
    SELECT e.conversation_id FROM switchboard.search_entries e
     WHERE e.tenant_id = $1 AND e.text ILIKE $2 AND e.kind = 'message'
    UNION
    SELECT c.id FROM public.conversations c
     WHERE c.tenant_id = $1 AND c.contact_id IN (
       SELECT e.contact_id FROM switchboard.search_entries e
        WHERE e.tenant_id = $1 AND e.text ILIKE $2 AND e.kind IN ('display_name', 'push_name')
       UNION ALL
       SELECT e.contact_id FROM switchboard.search_entries e
        WHERE e.tenant_id = $1 AND e.text LIKE $3 AND e.kind = 'identity')
  $query$ USING tenant, text_pattern, identity_pattern;
END;
$$;

REVOKE ALL ON FUNCTION search_conversation_ids(text, text) FROM PUBLIC;
SELECT switchboard.grant_app('EXECUTE', 'FUNCTION search_conversation_ids(text, text)');

-- The entries of the rows already stored. The owner, too, sees only the bound tenant's rows
-- (forced row-level security), and no tenant is bound here: the policies are lifted for this
-- transaction only (the ALTERs are transactional; the tables stay locked until it commits).
ALTER TABLE messages NO FORCE ROW LEVEL SECURITY;
ALTER TABLE contacts NO FORCE ROW LEVEL SECURITY;
ALTER TABLE contact_identities NO FORCE ROW LEVEL SECURITY;
INSERT INTO switchboard.search_entries (tenant_id, kind, source_id, conversation_id, text)
SELECT tenant_id, 'message', id, conversation_id, body FROM messages WHERE body IS NOT NULL AND body <> '';
INSERT INTO switchboard.search_entries (tenant_id, kind, source_id, contact_id, text)
SELECT c.tenant_id, name.kind, c.id, c.id, name.text
  FROM contacts c,
       LATERAL (VALUES ('display_name', c.display_name), ('push_name', c.push_name)) AS name (kind, text)
 WHERE name.text IS NOT NULL AND name.text <> '';
INSERT INTO switchboard.search_entries (tenant_id, kind, source_id, contact_id, text)
SELECT tenant_id, 'identity', id, contact_id, value FROM contact_identities;
ALTER TABLE messages FORCE ROW LEVEL SECURITY;
ALTER TABLE contacts FORCE ROW LEVEL SECURITY;
ALTER TABLE contact_identities FORCE ROW LEVEL SECURITY;

-- Down Migration

DROP FUNCTION search_conversation_ids(text, text);
DROP TRIGGER contact_identities_search_update ON contact_identities;
DROP TRIGGER contact_identities_search_insert_delete ON contact_identities;
DROP TRIGGER contacts_search_update ON contacts;
DROP TRIGGER contacts_search_insert_delete ON contacts;
DROP TRIGGER messages_search_delete ON messages;
DROP TRIGGER messages_search_update ON messages;
DROP TRIGGER messages_search_insert ON messages;
DROP FUNCTION switchboard.search_identity_changed();
DROP FUNCTION switchboard.search_contact_changed();
DROP FUNCTION switchboard.search_message_changed();
DROP FUNCTION switchboard.search_messages_inserted();
DROP TABLE switchboard.search_entries;
DROP EXTENSION btree_gin;
DROP EXTENSION pg_trgm;
