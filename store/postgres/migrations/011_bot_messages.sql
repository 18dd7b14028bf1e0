-- 011: messages written by a bot (kind 'bot', chat.BotText).
ALTER TABLE chat_messages DROP CONSTRAINT IF EXISTS chat_messages_kind_check;
ALTER TABLE chat_messages ADD CONSTRAINT chat_messages_kind_check CHECK (kind IN ('visitor', 'operator', 'note', 'system', 'bot'));
