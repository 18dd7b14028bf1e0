-- 003: tracking: page views, activities (what reports count), orders with
-- their chat attribution, canned responses and proactive triggers.
--
-- As in 001: identifiers are COLLATE "C"; times that order rows are NOT
-- NULL (Go's zero time as 0001-01-01 UTC), optional ones NULL when unset.
-- Identifiers of other records are '' when unset and are not foreign keys
-- unless noted: reports outlive conversations and operator profiles.

CREATE TABLE chat_page_views (
    seq          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, -- insertion order, the tie-break after at
    -- Erasing a visitor erases their page views.
    visitor_id   text COLLATE "C" NOT NULL REFERENCES chat_visitors (id) ON DELETE CASCADE,
    url          text NOT NULL,
    title        text NOT NULL DEFAULT '',
    referrer     text NOT NULL DEFAULT '',
    utm_source   text NOT NULL DEFAULT '',
    utm_medium   text NOT NULL DEFAULT '',
    utm_campaign text NOT NULL DEFAULT '',
    utm_term     text NOT NULL DEFAULT '',
    utm_content  text NOT NULL DEFAULT '',
    at           timestamptz NOT NULL
);
-- A visitor's views, newest first, and DeleteVisitor's cascade.
CREATE INDEX chat_page_views_visitor ON chat_page_views (visitor_id, at, seq);

CREATE TABLE chat_activities (
    seq             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, -- insertion order, the tie-break after at
    kind            text COLLATE "C" NOT NULL CHECK (kind <> ''),
    visitor_id      text COLLATE "C" NOT NULL DEFAULT '',
    conversation_id text COLLATE "C" NOT NULL DEFAULT '',
    operator_id     text COLLATE "C" NOT NULL DEFAULT '',
    trigger_id      text COLLATE "C" NOT NULL DEFAULT '',
    value           bigint NOT NULL DEFAULT 0,
    text            text NOT NULL DEFAULT '',
    at              timestamptz NOT NULL
);
-- Reports over a period.
CREATE INDEX chat_activities_at ON chat_activities (at, seq);
-- A visitor's activities by kind (a trigger shown once per visitor) and
-- DeleteVisitor. Partial: anonymous page views and presence changes, the
-- bulk, have no visitor.
CREATE INDEX chat_activities_visitor ON chat_activities (visitor_id, kind, at) WHERE visitor_id <> '';
-- A conversation's activities (its rating).
CREATE INDEX chat_activities_conversation ON chat_activities (conversation_id) WHERE conversation_id <> '';

CREATE TABLE chat_orders (
    id              text COLLATE "C" PRIMARY KEY,
    visitor_id      text COLLATE "C" NOT NULL DEFAULT '', -- '' once the visitor is erased
    total           bigint NOT NULL,
    currency        text NOT NULL DEFAULT '',
    placed_at       timestamptz NOT NULL,
    channel         text NOT NULL DEFAULT '', -- 'chat' or ''
    conversation_id text COLLATE "C" NOT NULL DEFAULT '',
    operator_id     text COLLATE "C" NOT NULL DEFAULT '',
    trigger_id      text COLLATE "C" NOT NULL DEFAULT '',
    touched_at      timestamptz -- NULL: no chat touched the order
);
-- Orders over a period (reports), in order.
CREATE INDEX chat_orders_placed ON chat_orders (placed_at, id);
-- A visitor's orders, and clearing them on erasure.
CREATE INDEX chat_orders_visitor ON chat_orders (visitor_id, placed_at, id) WHERE visitor_id <> '';

CREATE TABLE chat_canned (
    id          text COLLATE "C" PRIMARY KEY,
    operator_id text COLLATE "C" NOT NULL DEFAULT '', -- '' for the team's
    shortcut    text COLLATE "C" NOT NULL,
    title       text NOT NULL DEFAULT '',
    body        text NOT NULL,
    updated_at  timestamptz NOT NULL,
    -- One response per shortcut for the team and per operator (ErrConflict).
    CONSTRAINT chat_canned_shortcut UNIQUE (operator_id, shortcut)
);

-- Proactive triggers: the rule is read and written whole, by the Server
-- only, so it is kept as the JSON of chat.Trigger.
CREATE TABLE chat_triggers (
    id  text COLLATE "C" PRIMARY KEY,
    doc jsonb NOT NULL
);
