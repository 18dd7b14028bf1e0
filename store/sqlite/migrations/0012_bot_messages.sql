-- 0012: messages written by a bot (kind 'bot', chat.BotText). SQLite cannot
-- change a CHECK constraint in place: the table is rebuilt with the same
-- columns and row ids (the full-text index's keys), its index and the
-- full-text triggers recreated. The triggers go first, so that dropping
-- the old table leaves the index alone.
DROP TRIGGER messages_fts_delete;
DROP TRIGGER messages_fts_update;

CREATE TABLE messages_new (
	rid             INTEGER PRIMARY KEY,
	id              TEXT NOT NULL UNIQUE,
	conversation_id TEXT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
	seq             INTEGER NOT NULL,
	client_id       TEXT,
	kind            TEXT NOT NULL CHECK (kind IN ('visitor', 'operator', 'note', 'system', 'bot')),
	author_id       TEXT NOT NULL DEFAULT '',
	author_name     TEXT NOT NULL DEFAULT '',
	text            TEXT NOT NULL DEFAULT '',
	created_at      INTEGER NOT NULL,
	UNIQUE (conversation_id, seq)
);
INSERT INTO messages_new (rid, id, conversation_id, seq, client_id, kind, author_id, author_name, text, created_at)
	SELECT rid, id, conversation_id, seq, client_id, kind, author_id, author_name, text, created_at FROM messages;
DROP TABLE messages;
ALTER TABLE messages_new RENAME TO messages;
CREATE UNIQUE INDEX messages_client ON messages (conversation_id, client_id) WHERE client_id IS NOT NULL;

CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages BEGIN
	INSERT INTO messages_fts (messages_fts, rowid, text) VALUES ('delete', old.rid, old.text);
END;

CREATE TRIGGER messages_fts_update AFTER UPDATE OF text ON messages BEGIN
	INSERT INTO messages_fts (messages_fts, rowid, text) VALUES ('delete', old.rid, old.text);
	INSERT INTO messages_fts (rowid, text) VALUES (new.rid, new.text);
END;
