-- 0001: visitors, operators, conversations, messages and the database's epoch.
--
-- Times are INTEGER Unix microseconds (UTC). Go's zero time.Time (no time)
-- is stored as its own value, -62135596800000000 (0001-01-01), so it sorts
-- before every real time.

CREATE TABLE meta (
	key   TEXT PRIMARY KEY,
	value NOT NULL -- no type: stored as given
) WITHOUT ROWID;

-- The epoch identifies this database's copy of the history: a random
-- non-zero int64 chosen once, when the database is created.
INSERT INTO meta (key, value)
SELECT 'epoch', CASE r WHEN 0 THEN 1 ELSE r END FROM (SELECT random() AS r);

CREATE TABLE visitors (
	id           TEXT PRIMARY KEY,
	customer_id  TEXT,             -- NULL for anonymous visitors
	name         TEXT NOT NULL DEFAULT '',
	email        TEXT NOT NULL DEFAULT '',
	created_at   INTEGER NOT NULL,
	last_seen_at INTEGER NOT NULL
);
-- One visitor per shop customer id (VisitorByCustomer, ErrConflict).
CREATE UNIQUE INDEX visitors_customer ON visitors (customer_id) WHERE customer_id IS NOT NULL;

CREATE TABLE operators (
	id               TEXT PRIMARY KEY,
	name             TEXT NOT NULL DEFAULT '',
	email            TEXT NOT NULL DEFAULT '',
	avatar_url       TEXT NOT NULL DEFAULT '',
	departments      TEXT NOT NULL DEFAULT '[]', -- JSON array of strings
	capacity         INTEGER NOT NULL DEFAULT 0,
	presence         TEXT NOT NULL DEFAULT 'offline' CHECK (presence IN ('online', 'away', 'offline')),
	presence_expires INTEGER NOT NULL DEFAULT -62135596800000000, -- zero time: never expires
	last_assigned_at INTEGER NOT NULL DEFAULT -62135596800000000  -- zero time: never assigned
);

CREATE TABLE conversations (
	id                TEXT PRIMARY KEY,
	visitor_id        TEXT NOT NULL REFERENCES visitors (id) ON DELETE CASCADE,
	status            TEXT NOT NULL CHECK (status IN ('queued', 'assigned', 'closed')),
	-- The current operator while assigned, the last one once closed, '' for
	-- none. Not a foreign key: history outlives operator profiles.
	operator_id       TEXT NOT NULL DEFAULT '',
	department        TEXT NOT NULL DEFAULT '',
	last_seq          INTEGER NOT NULL DEFAULT 0,
	visitor_read_seq  INTEGER NOT NULL DEFAULT 0,
	operator_read_seq INTEGER NOT NULL DEFAULT 0,
	created_at        INTEGER NOT NULL,
	queued_at         INTEGER NOT NULL,
	assigned_at       INTEGER NOT NULL,
	closed_at         INTEGER NOT NULL
);
-- At most one open conversation per visitor (OpenConversation, ErrConflict).
CREATE UNIQUE INDEX conversations_open ON conversations (visitor_id) WHERE status != 'closed';
-- A visitor's history, newest first (Conversations with VisitorID, DeleteVisitor).
CREATE INDEX conversations_visitor ON conversations (visitor_id, created_at, id);
-- An operator's load (Assign's capacity check, OperatorLoads) and history.
CREATE INDEX conversations_operator ON conversations (operator_id, status, created_at, id);
-- The FIFO queue (Queue) and status filters.
CREATE INDEX conversations_queue ON conversations (status, queued_at, id);
-- The unfiltered listing, newest first, and paging with Before.
CREATE INDEX conversations_created ON conversations (created_at, id);
-- Retention (PurgeClosed).
CREATE INDEX conversations_closed ON conversations (closed_at) WHERE status = 'closed';

CREATE TABLE messages (
	rid             INTEGER PRIMARY KEY, -- rowid, the full-text index's key
	id              TEXT NOT NULL UNIQUE,
	conversation_id TEXT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
	seq             INTEGER NOT NULL,
	client_id       TEXT,                -- NULL for server-written messages
	kind            TEXT NOT NULL CHECK (kind IN ('visitor', 'operator', 'note', 'system')),
	author_id       TEXT NOT NULL DEFAULT '',
	author_name     TEXT NOT NULL DEFAULT '',
	text            TEXT NOT NULL DEFAULT '',
	created_at      INTEGER NOT NULL,
	UNIQUE (conversation_id, seq)
);
-- Idempotent appends: a client id is used once per conversation.
CREATE UNIQUE INDEX messages_client ON messages (conversation_id, client_id) WHERE client_id IS NOT NULL;
