-- 001: the initial shopchat schema.
--
-- Every table is prefixed chat_ so the store can share a schema (even
-- public) with the shop's own tables. Identifiers use COLLATE "C": they are
-- compared and ordered byte by byte, as the Go code (and every other store)
-- orders them, whatever the database's locale.
--
-- Timestamps that order rows (created_at, queued_at) are NOT NULL and store
-- Go's zero time as 0001-01-01 UTC; optional ones are NULL when unset.

-- One row: the store's epoch (chat.Conversation.Epoch), a random non-zero
-- int64 written once, by Open, right after the first migration.
CREATE TABLE chat_meta (
    singleton  boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    epoch      bigint NOT NULL CHECK (epoch <> 0),
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE chat_visitors (
    id           text COLLATE "C" PRIMARY KEY,
    customer_id  text COLLATE "C" NOT NULL DEFAULT '',
    name         text NOT NULL DEFAULT '',
    email        text NOT NULL DEFAULT '',
    created_at   timestamptz NOT NULL,
    last_seen_at timestamptz
);
-- VisitorByCustomer; one visitor per customer id (anonymous ones have '').
CREATE UNIQUE INDEX chat_visitors_customer ON chat_visitors (customer_id) WHERE customer_id <> '';

CREATE TABLE chat_operators (
    id               text COLLATE "C" PRIMARY KEY,
    name             text NOT NULL DEFAULT '',
    email            text NOT NULL DEFAULT '',
    avatar_url       text NOT NULL DEFAULT '',
    departments      text[] NOT NULL DEFAULT '{}',
    capacity         bigint NOT NULL DEFAULT 0,
    presence         text NOT NULL DEFAULT 'offline' CHECK (presence IN ('online', 'away', 'offline')),
    presence_expires timestamptz, -- NULL: never expires
    last_assigned_at timestamptz
);

CREATE TABLE chat_conversations (
    id                text COLLATE "C" PRIMARY KEY,
    visitor_id        text COLLATE "C" NOT NULL REFERENCES chat_visitors (id) ON DELETE CASCADE,
    status            text NOT NULL CHECK (status IN ('queued', 'assigned', 'closed')),
    -- The assignee while assigned; the last one once closed; NULL while queued.
    operator_id       text COLLATE "C" REFERENCES chat_operators (id),
    department        text NOT NULL DEFAULT '',
    last_seq          bigint NOT NULL DEFAULT 0,
    visitor_read_seq  bigint NOT NULL DEFAULT 0,
    operator_read_seq bigint NOT NULL DEFAULT 0,
    created_at        timestamptz NOT NULL,
    queued_at         timestamptz NOT NULL,
    assigned_at       timestamptz,
    closed_at         timestamptz,
    CONSTRAINT chat_conversations_assignee CHECK (status = 'closed' OR (status = 'assigned') = (operator_id IS NOT NULL))
);
-- OpenConversation, and at most one conversation per visitor that is not
-- closed: a second one is a unique violation (ErrConflict).
CREATE UNIQUE INDEX chat_conversations_open_visitor ON chat_conversations (visitor_id) WHERE status <> 'closed';
-- Conversations filtered by visitor; DeleteVisitor's cascade.
CREATE INDEX chat_conversations_visitor ON chat_conversations (visitor_id, created_at, id);
-- Conversations filtered by operator.
CREATE INDEX chat_conversations_operator ON chat_conversations (operator_id, created_at, id) WHERE operator_id IS NOT NULL;
-- Assign's capacity count and OperatorLoads' Active.
CREATE INDEX chat_conversations_assigned ON chat_conversations (operator_id) WHERE status = 'assigned';
-- Queue: FIFO by queued_at, then id.
CREATE INDEX chat_conversations_queue ON chat_conversations (queued_at, id) WHERE status = 'queued';
-- Conversations: newest first, paged by created_at.
CREATE INDEX chat_conversations_created ON chat_conversations (created_at, id);
-- PurgeClosed.
CREATE INDEX chat_conversations_closed ON chat_conversations (closed_at) WHERE status = 'closed';

CREATE TABLE chat_messages (
    conversation_id text COLLATE "C" NOT NULL REFERENCES chat_conversations (id) ON DELETE CASCADE,
    seq             bigint NOT NULL CHECK (seq > 0),
    id              text COLLATE "C" NOT NULL,
    client_id       text COLLATE "C" NOT NULL DEFAULT '',
    kind            text NOT NULL CHECK (kind IN ('visitor', 'operator', 'note', 'system')),
    author_id       text NOT NULL DEFAULT '',
    author_name     text NOT NULL DEFAULT '',
    body            text NOT NULL DEFAULT '',
    created_at      timestamptz NOT NULL,
    -- Full-text search: to_tsvector('simple', <the body's words>), where the
    -- words are split and lower-cased by the Go code (see search.go), the
    -- same way as the words of a query.
    search          tsvector NOT NULL,
    PRIMARY KEY (conversation_id, seq)
);
CREATE UNIQUE INDEX chat_messages_id ON chat_messages (id);
-- AppendMessage's idempotency: a client id is used once per conversation.
CREATE UNIQUE INDEX chat_messages_client_id ON chat_messages (conversation_id, client_id) WHERE client_id <> '';
CREATE INDEX chat_messages_search ON chat_messages USING gin (search);
