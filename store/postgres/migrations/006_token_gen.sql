-- 006: visitors' token generation (chat.Visitor.TokenGen): Identify and
-- Forget raise it, so tokens issued before a login or a logout are refused.
ALTER TABLE chat_visitors ADD COLUMN IF NOT EXISTS token_gen bigint NOT NULL DEFAULT 0;
