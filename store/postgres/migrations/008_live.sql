-- 008: live conversations. live_until is when the visitor stops counting as
-- on the site (NULL: never live). The Server renews it while the visitor's
-- widget is connected; only live conversations take an operator's capacity
-- and are routed.
ALTER TABLE chat_conversations ADD COLUMN IF NOT EXISTS live_until timestamptz;
