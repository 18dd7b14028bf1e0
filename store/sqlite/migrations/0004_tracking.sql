-- 0004: tracking: page views, activities (what reports count), orders with
-- their chat attribution, canned responses and proactive triggers.
--
-- Times are INTEGER Unix microseconds (UTC), as in 0001; the zero time is
-- -62135596800000000. Identifiers of other records are '' when unset and
-- are not foreign keys unless noted: reports outlive conversations and
-- operator profiles.

CREATE TABLE page_views (
	rid          INTEGER PRIMARY KEY, -- insertion order, the tie-break after at
	-- Erasing a visitor erases their page views.
	visitor_id   TEXT NOT NULL REFERENCES visitors (id) ON DELETE CASCADE,
	url          TEXT NOT NULL,
	title        TEXT NOT NULL DEFAULT '',
	referrer     TEXT NOT NULL DEFAULT '',
	utm_source   TEXT NOT NULL DEFAULT '',
	utm_medium   TEXT NOT NULL DEFAULT '',
	utm_campaign TEXT NOT NULL DEFAULT '',
	utm_term     TEXT NOT NULL DEFAULT '',
	utm_content  TEXT NOT NULL DEFAULT '',
	at           INTEGER NOT NULL
);
-- A visitor's views, newest first (the index ends with the rowid), and the
-- cascade of DeleteVisitor.
CREATE INDEX page_views_visitor ON page_views (visitor_id, at);

CREATE TABLE activities (
	rid             INTEGER PRIMARY KEY, -- insertion order, the tie-break after at
	kind            TEXT NOT NULL CHECK (kind != ''),
	visitor_id      TEXT NOT NULL DEFAULT '',
	conversation_id TEXT NOT NULL DEFAULT '',
	operator_id     TEXT NOT NULL DEFAULT '',
	trigger_id      TEXT NOT NULL DEFAULT '',
	value           INTEGER NOT NULL DEFAULT 0,
	text            TEXT NOT NULL DEFAULT '',
	at              INTEGER NOT NULL
);
-- Reports over a period.
CREATE INDEX activities_at ON activities (at);
-- A visitor's activities by kind (a trigger shown once per visitor) and
-- DeleteVisitor. Partial: anonymous page views and presence changes, the
-- bulk, have no visitor; queries repeat "visitor_id != ''" to use it.
CREATE INDEX activities_visitor ON activities (visitor_id, kind, at) WHERE visitor_id != '';
-- A conversation's activities (its rating).
CREATE INDEX activities_conversation ON activities (conversation_id) WHERE conversation_id != '';

CREATE TABLE orders (
	id              TEXT PRIMARY KEY,
	visitor_id      TEXT NOT NULL DEFAULT '', -- '' once the visitor is erased
	total           INTEGER NOT NULL,
	currency        TEXT NOT NULL DEFAULT '',
	placed_at       INTEGER NOT NULL,
	channel         TEXT NOT NULL DEFAULT '', -- 'chat' or ''
	conversation_id TEXT NOT NULL DEFAULT '',
	operator_id     TEXT NOT NULL DEFAULT '',
	trigger_id      TEXT NOT NULL DEFAULT '',
	touched_at      INTEGER NOT NULL
);
-- Orders over a period (reports), in order.
CREATE INDEX orders_placed ON orders (placed_at, id);
-- A visitor's orders, and clearing them on erasure.
CREATE INDEX orders_visitor ON orders (visitor_id, placed_at, id) WHERE visitor_id != '';

CREATE TABLE canned (
	id          TEXT PRIMARY KEY,
	operator_id TEXT NOT NULL DEFAULT '', -- '' for the team's
	shortcut    TEXT NOT NULL,
	title       TEXT NOT NULL DEFAULT '',
	text        TEXT NOT NULL,
	updated_at  INTEGER NOT NULL,
	-- One response per shortcut for the team and per operator (ErrConflict).
	UNIQUE (operator_id, shortcut)
);

-- Proactive triggers: the rule is read and written whole, by the Server
-- only, so it is kept as the JSON of chat.Trigger.
CREATE TABLE triggers (
	id  TEXT PRIMARY KEY,
	doc TEXT NOT NULL
);
