-- 0003: a conversation's visitor may opt out of missed-reply mail.
ALTER TABLE conversations ADD COLUMN mail_opt_out INTEGER NOT NULL DEFAULT 0;
