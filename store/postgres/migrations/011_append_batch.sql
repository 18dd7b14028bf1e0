-- Group commit of appends (issue 19): chat_append_batch stores a batch of
-- messages in one statement, so one round trip and one commit serve many
-- sessions' appends. The arrays hold one element per item, in the order the
-- items are applied; the caller sorts them by conversation (stably), so
-- that concurrent batches lock conversation rows in one order and cannot
-- deadlock each other.
--
-- It returns one row per item (i, its 1-based index) with a status code
-- instead of raising for the outcomes an item may expect, so that one item
-- never fails the others:
--   0 stored: the message row and the conversation after the append
--   1 duplicate client id: the original message and the conversation now
--   2 the conversation is closed, 3 not assigned to the item's operator,
--   4 no such conversation: the other columns carry nothing of use.
--
-- Per item: lock the conversation row (a batch locks each of its
-- conversations once), then look for the client id: in READ COMMITTED each
-- statement of a VOLATILE function takes a new snapshot, so an append of
-- the same client id that committed while we waited for the lock is seen.
-- A retry is recognised even after the conversation closed. Then one
-- statement bumps last_seq and inserts the message with it: appends to one
-- conversation are serialised by the row lock and their seqs gapless.
CREATE OR REPLACE FUNCTION chat_append_batch(
    p_conversation_id text[], p_operator_id text[], p_id text[], p_client_id text[], p_kind text[],
    p_author_id text[], p_author_name text[], p_body text[], p_created_at timestamptz[], p_search text[])
RETURNS TABLE (
    i integer, code integer,
    m_id text, m_conversation_id text, m_seq bigint, m_client_id text, m_kind text,
    m_author_id text, m_author_name text, m_body text, m_created_at timestamptz,
    c_id text, c_visitor_id text, c_status text, c_operator_id text, c_department text, c_last_seq bigint,
    c_visitor_read_seq bigint, c_operator_read_seq bigint, c_created_at timestamptz, c_queued_at timestamptz,
    c_assigned_at timestamptz, c_closed_at timestamptz, c_mail_opt_out boolean, c_language text,
    c_live_until timestamptz)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    locked text; -- the conversation whose row this batch locked last
BEGIN
    FOR n IN 1 .. coalesce(array_length(p_conversation_id, 1), 0) LOOP
        i := n;
        m_id := NULL; m_conversation_id := NULL; m_seq := NULL; m_client_id := NULL; m_kind := NULL;
        m_author_id := NULL; m_author_name := NULL; m_body := NULL; m_created_at := NULL;
        IF locked IS DISTINCT FROM p_conversation_id[n] THEN
            -- Once locked, the row changes only by our own appends, which
            -- keep c_last_seq current.
            SELECT id, visitor_id, status, coalesce(operator_id, ''), department, last_seq,
                   visitor_read_seq, operator_read_seq, created_at, queued_at, assigned_at, closed_at,
                   mail_opt_out, language, live_until
            INTO c_id, c_visitor_id, c_status, c_operator_id, c_department, c_last_seq,
                 c_visitor_read_seq, c_operator_read_seq, c_created_at, c_queued_at, c_assigned_at, c_closed_at,
                 c_mail_opt_out, c_language, c_live_until
            FROM chat_conversations WHERE id = p_conversation_id[n] FOR UPDATE;
            IF NOT FOUND THEN
                locked := NULL;
                code := 4;
                RETURN NEXT;
                CONTINUE;
            END IF;
            locked := p_conversation_id[n];
        END IF;
        IF p_client_id[n] <> '' THEN
            SELECT id, conversation_id, seq, client_id, kind, author_id, author_name, body, created_at
            INTO m_id, m_conversation_id, m_seq, m_client_id, m_kind, m_author_id, m_author_name, m_body, m_created_at
            FROM chat_messages
            WHERE conversation_id = p_conversation_id[n] AND client_id = p_client_id[n] AND client_id <> '';
            IF FOUND THEN
                code := 1;
                RETURN NEXT;
                CONTINUE;
            END IF;
        END IF;
        IF c_status = 'closed' THEN
            code := 2;
        ELSIF p_operator_id[n] <> '' AND (c_status <> 'assigned' OR c_operator_id <> p_operator_id[n]) THEN
            code := 3;
        ELSE
            code := 0;
            WITH c AS (
                UPDATE chat_conversations SET last_seq = last_seq + 1 WHERE id = p_conversation_id[n]
                RETURNING id, last_seq
            )
            INSERT INTO chat_messages (id, conversation_id, seq, client_id, kind, author_id, author_name, body, created_at, search)
            SELECT p_id[n], c.id, c.last_seq, p_client_id[n], p_kind[n], p_author_id[n], p_author_name[n], p_body[n],
                   p_created_at[n], to_tsvector('simple', p_search[n])
            FROM c
            RETURNING id, conversation_id, seq, client_id, kind, author_id, author_name, body, created_at
            INTO m_id, m_conversation_id, m_seq, m_client_id, m_kind, m_author_id, m_author_name, m_body, m_created_at;
            c_last_seq := m_seq;
        END IF;
        RETURN NEXT;
    END LOOP;
END
$$;
