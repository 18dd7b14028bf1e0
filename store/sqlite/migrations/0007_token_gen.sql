-- 0007: visitors' token generation (chat.Visitor.TokenGen): Identify and
-- Forget raise it, so tokens issued before a login or a logout are refused.
ALTER TABLE visitors ADD COLUMN token_gen INTEGER NOT NULL DEFAULT 0;
