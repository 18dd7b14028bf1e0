-- 006: the widget's language when the conversation opened, for its mail.
ALTER TABLE chat_conversations ADD COLUMN language text NOT NULL DEFAULT '';
