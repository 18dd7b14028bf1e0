-- 012: chat_append_events appends a batch of events in one statement: one
-- round trip and one commit, so the lock every node's appends share is
-- held for the statement and its commit, not across the client's round
-- trips of an explicit transaction (BEGIN, lock, INSERT, COMMIT).
--
-- The lock is transaction-scoped and advisory, key 8316019240468903027
-- ("shopevts" as a big-endian int64): appends run one at a time, so
-- bigserial positions commit in increasing order and a reader that has
-- passed a position never finds a new event below it (see 010).
--
-- It returns the events it inserted with their positions, in the arrays'
-- order; an event whose id is stored already is skipped (a retry).
CREATE OR REPLACE FUNCTION chat_append_events(p_id text[], p_kind text[], p_at timestamptz[], p_data text[])
RETURNS TABLE (r_id text, r_pos bigint)
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(8316019240468903027);
    RETURN QUERY
    INSERT INTO chat_events (id, kind, at, data)
    SELECT u.id, u.kind, u.at, u.data::jsonb
    FROM unnest(p_id, p_kind, p_at, p_data) WITH ORDINALITY AS u(id, kind, at, data, n)
    ORDER BY u.n
    ON CONFLICT (id) DO NOTHING
    RETURNING chat_events.id, chat_events.pos;
END
$$;
