-- 0002: full-text search over message text (chat.Searcher) with FTS5.
--
-- An external-content index: the text lives once, in messages. New
-- messages are indexed by the Store's writer, once per committed batch, in
-- the same transaction (one INSERT ... SELECT over the batch's rowids): an
-- insert trigger would make FTS5 flush a segment per message. Triggers
-- keep deletes (cascaded from conversations and visitors) and updates in
-- step. unicode61 folds case and removes diacritics. After writing
-- messages with another tool, rebuild the index with
--   INSERT INTO messages_fts (messages_fts) VALUES ('rebuild');

CREATE VIRTUAL TABLE messages_fts USING fts5 (
	text,
	content = 'messages',
	content_rowid = 'rid',
	tokenize = 'unicode61 remove_diacritics 2'
);

INSERT INTO messages_fts (rowid, text) SELECT rid, text FROM messages;

CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages BEGIN
	INSERT INTO messages_fts (messages_fts, rowid, text) VALUES ('delete', old.rid, old.text);
END;

CREATE TRIGGER messages_fts_update AFTER UPDATE OF text ON messages BEGIN
	INSERT INTO messages_fts (messages_fts, rowid, text) VALUES ('delete', old.rid, old.text);
	INSERT INTO messages_fts (rowid, text) VALUES (new.rid, new.text);
END;
