-- 010: the event log (chat.EventLog), visitor labels, and the bot message
-- kind.
--
-- pos is the log's global position. A sequence alone hands out numbers in
-- the order transactions start, not commit, so a reader could pass a
-- position whose event commits later; appends therefore take a
-- transaction-scoped advisory lock first, making positions commit in order.
CREATE TABLE IF NOT EXISTS chat_events (
    pos  bigserial PRIMARY KEY,
    id   text COLLATE "C" NOT NULL UNIQUE,
    kind text COLLATE "C" NOT NULL,
    at   timestamptz NOT NULL,
    data jsonb NOT NULL
);

ALTER TABLE chat_visitors ADD COLUMN IF NOT EXISTS labels text[] NOT NULL DEFAULT '{}';

ALTER TABLE chat_messages DROP CONSTRAINT IF EXISTS chat_messages_kind_check;
ALTER TABLE chat_messages ADD CONSTRAINT chat_messages_kind_check CHECK (kind IN ('visitor', 'operator', 'note', 'system', 'bot'));
