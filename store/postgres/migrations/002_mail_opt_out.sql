-- 002: a conversation's visitor may opt out of missed-reply mail.
ALTER TABLE chat_conversations ADD COLUMN mail_opt_out boolean NOT NULL DEFAULT false;
