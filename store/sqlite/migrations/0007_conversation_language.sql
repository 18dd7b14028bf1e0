-- 0007: the widget's language when the conversation opened, for its mail.
ALTER TABLE conversations ADD COLUMN language TEXT NOT NULL DEFAULT '';
