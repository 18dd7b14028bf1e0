-- 0011: the event log (chat.EventLog), visitor labels, and the bot message
-- kind.
--
-- pos is the log's global position: rowid order, assigned under SQLite's
-- single writer, so positions commit in order. data is the event as JSON.
CREATE TABLE events (
	pos  INTEGER PRIMARY KEY AUTOINCREMENT, -- never reused, even after a delete
	id   TEXT NOT NULL UNIQUE,
	kind TEXT NOT NULL,
	at   INTEGER NOT NULL,
	data TEXT NOT NULL
);

-- Labels are a JSON array of strings, sorted and without duplicates.
ALTER TABLE visitors ADD COLUMN labels TEXT NOT NULL DEFAULT '[]';

-- Messages from bots (kind 'bot'): SQLite cannot change a CHECK
-- constraint, so the table is rebuilt with the same rows, rowids (the
-- full-text index's keys), indexes and triggers.
CREATE TABLE messages_new (
	rid             INTEGER PRIMARY KEY, -- rowid, the full-text index's key
	id              TEXT NOT NULL UNIQUE,
	conversation_id TEXT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
	seq             INTEGER NOT NULL,
	client_id       TEXT,                -- NULL for server-written messages
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
