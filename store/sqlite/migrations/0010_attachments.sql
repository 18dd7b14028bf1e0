-- 0010: attachments' metadata. An unsent upload has a NULL conversation_id;
-- once sent it names its message by conversation and seq and goes with the
-- conversation (ON DELETE CASCADE), so erasure and retention remove it, and
-- the Server then deletes the blob no metadata names. The bytes live in a
-- chat.BlobStore (by default blob/file, a directory next to this file).
CREATE TABLE attachments (
	id              TEXT PRIMARY KEY,
	owner_id        TEXT NOT NULL,
	conversation_id TEXT REFERENCES conversations (id) ON DELETE CASCADE,
	seq             INTEGER NOT NULL DEFAULT 0,
	pos             INTEGER NOT NULL DEFAULT 0, -- order within the message
	name            TEXT NOT NULL DEFAULT '',
	type            TEXT NOT NULL DEFAULT '',
	size            INTEGER NOT NULL DEFAULT 0,
	sha256          TEXT NOT NULL DEFAULT '',
	width           INTEGER NOT NULL DEFAULT 0,
	height          INTEGER NOT NULL DEFAULT 0,
	created_at      INTEGER NOT NULL
) WITHOUT ROWID;
-- A message's attachments (MessageAttachments); also the cascade's lookup.
CREATE INDEX attachments_message ON attachments (conversation_id, seq, pos);
-- The per-day cap (UploadedBytes) and an owner's unsent uploads.
CREATE INDEX attachments_owner ON attachments (owner_id, created_at);
-- The sweep of uploads never sent.
CREATE INDEX attachments_unsent ON attachments (created_at, id) WHERE conversation_id IS NULL;
