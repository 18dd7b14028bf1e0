-- 0008: mail to the visitor: the widget's language when the conversation
-- opened, and the visitor's address that bounced for good.
ALTER TABLE conversations ADD COLUMN language TEXT NOT NULL DEFAULT '';
ALTER TABLE visitors ADD COLUMN bounced_email TEXT NOT NULL DEFAULT '';
