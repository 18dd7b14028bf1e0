-- 007: mail to the visitor: the widget's language when the conversation
-- opened, and the visitor's address that bounced for good.
ALTER TABLE chat_conversations ADD COLUMN IF NOT EXISTS language text NOT NULL DEFAULT '';
ALTER TABLE chat_visitors ADD COLUMN IF NOT EXISTS bounced_email text NOT NULL DEFAULT '';
