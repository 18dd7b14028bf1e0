-- 009: attachments. chat_attachments holds their metadata: an unsent upload
-- has no conversation_id; once sent it names its message by conversation
-- and seq, and goes with the conversation (ON DELETE CASCADE), so erasure
-- and retention remove it; the Server then deletes the blob no metadata
-- names. chat_blobs holds the bytes for shops that keep attachments in
-- PostgreSQL (Store.Blobs); other blob stores leave it empty.
CREATE TABLE IF NOT EXISTS chat_attachments (
    id              text COLLATE "C" PRIMARY KEY,
    owner_id        text COLLATE "C" NOT NULL,
    conversation_id text COLLATE "C" REFERENCES chat_conversations (id) ON DELETE CASCADE,
    seq             bigint NOT NULL DEFAULT 0,
    pos             integer NOT NULL DEFAULT 0, -- order within the message
    name            text NOT NULL DEFAULT '',
    type            text NOT NULL DEFAULT '',
    size            bigint NOT NULL DEFAULT 0,
    sha256          text NOT NULL DEFAULT '',
    width           integer NOT NULL DEFAULT 0,
    height          integer NOT NULL DEFAULT 0,
    created_at      timestamptz NOT NULL
);
-- A message's attachments (MessageAttachments).
CREATE INDEX IF NOT EXISTS chat_attachments_message ON chat_attachments (conversation_id, seq, pos) WHERE conversation_id IS NOT NULL;
-- The per-day cap (UploadedBytes) and an owner's unsent uploads.
CREATE INDEX IF NOT EXISTS chat_attachments_owner ON chat_attachments (owner_id, created_at);
-- The sweep of uploads never sent.
CREATE INDEX IF NOT EXISTS chat_attachments_unsent ON chat_attachments (created_at, id) WHERE conversation_id IS NULL;

CREATE TABLE IF NOT EXISTS chat_blobs (
    key        text COLLATE "C" PRIMARY KEY,
    data       bytea NOT NULL,
    written_at timestamptz NOT NULL DEFAULT now()
);
