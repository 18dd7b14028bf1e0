package storetest

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shopchat/chat"
)

// attachmentCases check the chat.AttachmentStore role; they skip (by
// needs) on a store without it.
func attachmentCases() []def {
	var ds []def
	for _, c := range []struct {
		name string
		fn   func(testing.TB, store)
	}{
		{"Attachments/PutGet", attachPutGet},
		{"Attachments/Bind", attachBind},
		{"Attachments/BindAllOrNothing", attachBindAllOrNothing},
		{"Attachments/Unsent", attachUnsent},
		{"Attachments/DeleteAndBytes", attachDeleteAndBytes},
		{"Attachments/GoWithConversation", attachGoWithConversation},
	} {
		ds = append(ds, def{Name: c.name, Fn: c.fn})
	}
	return ds
}

func upload(id, owner string, size int64, when int) *chat.Attachment {
	return &chat.Attachment{ID: id, OwnerID: owner, Name: id + ".jpg", Type: "image/jpeg", Size: size,
		SHA256: "ab" + id, Width: 640, Height: 480, CreatedAt: at(when)}
}

func mustUpload(t testing.TB, as chat.AttachmentStore, a *chat.Attachment) {
	t.Helper()
	require.NoError(t, as.PutAttachment(ctx, a), "PutAttachment %q", a.ID)
}

func attachmentIDs(as []*chat.Attachment) []string {
	ids := make([]string, len(as))
	for i, a := range as {
		ids[i] = a.ID
	}
	return ids
}

func attachPutGet(t testing.TB, s store) {
	as := chat.AttachmentStore(s)
	a := upload("a1", "v1", 1234, 5)
	a.ConversationID, a.Seq = "ignored", 7
	mustUpload(t, as, a)
	got, err := as.Attachment(ctx, "a1")
	require.NoError(t, err)
	assert.Equal(t, "v1", got.OwnerID)
	assert.Equal(t, "a1.jpg", got.Name)
	assert.Equal(t, "image/jpeg", got.Type)
	assert.EqualValues(t, 1234, got.Size)
	assert.Equal(t, "aba1", got.SHA256)
	assert.Equal(t, [2]int{640, 480}, [2]int{got.Width, got.Height})
	sameTime(t, at(5), got.CreatedAt, "CreatedAt")
	assert.Empty(t, got.ConversationID, "an upload is stored unsent")
	assert.Zero(t, got.Seq)

	isErr(t, as.PutAttachment(ctx, upload("a1", "v2", 1, 6)), chat.ErrConflict, "PutAttachment of an existing id")
	isErr(t, as.PutAttachment(ctx, upload("", "v1", 1, 6)), chat.ErrInvalid, "PutAttachment without id")
	isErr(t, as.PutAttachment(ctx, upload("a2", "", 1, 6)), chat.ErrInvalid, "PutAttachment without owner")
	_, err = as.Attachment(ctx, "nope")
	isErr(t, err, chat.ErrNotFound, "Attachment of an unknown id")
}

func attachBind(t testing.TB, s store) {
	as := chat.AttachmentStore(s)
	mustConv(t, s, "c1", at(0))
	m1 := mustAppend(t, s, text("c1", "k1", "photo", at(1))).Message
	m2 := mustAppend(t, s, text("c1", "k2", "another", at(2))).Message
	for i, id := range []string{"x3", "x1", "x2", "x4"} {
		mustUpload(t, as, upload(id, "c1-v", 10, 3+i))
	}
	require.NoError(t, as.BindAttachments(ctx, "c1", m1.Seq, "c1-v", []string{"x3", "x1"}))
	require.NoError(t, as.BindAttachments(ctx, "c1", m2.Seq, "c1-v", []string{"x2"}))
	assert.NoError(t, as.BindAttachments(ctx, "c1", m1.Seq, "c1-v", []string{"x3", "x1"}), "a retried bind")

	got, err := as.MessageAttachments(ctx, "c1", 1, 2)
	require.NoError(t, err)
	assert.Equal(t, []string{"x3", "x1", "x2"}, attachmentIDs(got), "by seq, then the order given")
	if assert.Len(t, got, 3) {
		assert.Equal(t, "c1", got[0].ConversationID)
		assert.Equal(t, m1.Seq, got[0].Seq)
		assert.Equal(t, m2.Seq, got[2].Seq)
	}
	got, err = as.MessageAttachments(ctx, "c1", 2, 2)
	require.NoError(t, err)
	assert.Equal(t, []string{"x2"}, attachmentIDs(got), "a seq range")

	isErr(t, as.BindAttachments(ctx, "c1", m2.Seq, "c1-v", []string{"x1"}), chat.ErrConflict, "binding to a second message")
	isErr(t, as.BindAttachments(ctx, "c1", m2.Seq, "someone-else", []string{"x4"}), chat.ErrConflict, "binding another's upload")
	isErr(t, as.BindAttachments(ctx, "ghost", 1, "c1-v", []string{"x4"}), chat.ErrNotFound, "an unknown conversation")
	isErr(t, as.BindAttachments(ctx, "c1", 0, "c1-v", []string{"x4"}), chat.ErrInvalid, "seq 0")
	isErr(t, as.BindAttachments(ctx, "c1", m2.Seq, "c1-v", nil), chat.ErrInvalid, "no ids")
	isErr(t, as.BindAttachments(ctx, "c1", m2.Seq, "c1-v", []string{"x4", "x4"}), chat.ErrInvalid, "an id twice")
	a, err := as.Attachment(ctx, "x4")
	require.NoError(t, err)
	assert.Empty(t, a.ConversationID, "failed binds leave x4 unsent")
}

func attachBindAllOrNothing(t testing.TB, s store) {
	as := chat.AttachmentStore(s)
	mustConv(t, s, "c1", at(0))
	m := mustAppend(t, s, text("c1", "k1", "two files", at(1))).Message
	mustUpload(t, as, upload("ok", "c1-v", 10, 2))
	mustUpload(t, as, upload("theirs", "other", 10, 2))
	isErr(t, as.BindAttachments(ctx, "c1", m.Seq, "c1-v", []string{"ok", "missing"}), chat.ErrNotFound, "one unknown id")
	isErr(t, as.BindAttachments(ctx, "c1", m.Seq, "c1-v", []string{"ok", "theirs"}), chat.ErrConflict, "one not the owner's")
	a, err := as.Attachment(ctx, "ok")
	require.NoError(t, err)
	assert.Empty(t, a.ConversationID, "a failed bind binds none")
	got, err := as.MessageAttachments(ctx, "c1", 0, 100)
	require.NoError(t, err)
	assert.Empty(t, got)
}

func attachUnsent(t testing.TB, s store) {
	as := chat.AttachmentStore(s)
	mustConv(t, s, "c1", at(0))
	m := mustAppend(t, s, text("c1", "k1", "sent", at(1))).Message
	mustUpload(t, as, upload("u3", "c1-v", 1, 30))
	mustUpload(t, as, upload("u1", "c1-v", 1, 10))
	mustUpload(t, as, upload("u2", "op", 1, 20))
	mustUpload(t, as, upload("sent", "c1-v", 1, 5))
	require.NoError(t, as.BindAttachments(ctx, "c1", m.Seq, "c1-v", []string{"sent"}))

	got, err := as.UnsentAttachments(ctx, "", at(100), 0)
	require.NoError(t, err)
	assert.Equal(t, []string{"u1", "u2", "u3"}, attachmentIDs(got), "oldest first, sent ones left out")
	got, err = as.UnsentAttachments(ctx, "", at(30), 0)
	require.NoError(t, err)
	assert.Equal(t, []string{"u1", "u2"}, attachmentIDs(got), "created before")
	got, err = as.UnsentAttachments(ctx, "c1-v", at(100), 0)
	require.NoError(t, err)
	assert.Equal(t, []string{"u1", "u3"}, attachmentIDs(got), "one owner's")
	got, err = as.UnsentAttachments(ctx, "", at(100), 2)
	require.NoError(t, err)
	assert.Equal(t, []string{"u1", "u2"}, attachmentIDs(got), "limit")
}

func attachDeleteAndBytes(t testing.TB, s store) {
	as := chat.AttachmentStore(s)
	mustUpload(t, as, upload("d1", "v", 100, 10))
	mustUpload(t, as, upload("d2", "v", 20, 20))
	mustUpload(t, as, upload("d3", "w", 7, 20))
	n, err := as.UploadedBytes(ctx, "v", at(10))
	require.NoError(t, err)
	assert.EqualValues(t, 120, n, "since is inclusive")
	n, err = as.UploadedBytes(ctx, "v", at(11))
	require.NoError(t, err)
	assert.EqualValues(t, 20, n)

	require.NoError(t, as.DeleteAttachments(ctx, []string{"d1", "unknown"}))
	_, err = as.Attachment(ctx, "d1")
	isErr(t, err, chat.ErrNotFound, "after DeleteAttachments")
	_, err = as.Attachment(ctx, "d2")
	assert.NoError(t, err, "others stay")
	require.NoError(t, as.DeleteAttachments(ctx, nil))
}

// attachGoWithConversation: erasure and retention delete the metadata of
// sent attachments with their conversations; unsent uploads stay for the
// Server to remove.
func attachGoWithConversation(t testing.TB, s store) {
	as := chat.AttachmentStore(s)
	mustConv(t, s, "c1", at(0))
	mustConv(t, s, "c2", at(0))
	m1 := mustAppend(t, s, text("c1", "k1", "photo", at(1))).Message
	m2 := mustAppend(t, s, text("c2", "k1", "photo", at(1))).Message
	mustUpload(t, as, upload("in-c1", "c1-v", 10, 2))
	mustUpload(t, as, upload("in-c2", "c2-v", 10, 2))
	mustUpload(t, as, upload("unsent", "c1-v", 10, 2))
	require.NoError(t, as.BindAttachments(ctx, "c1", m1.Seq, "c1-v", []string{"in-c1"}))
	require.NoError(t, as.BindAttachments(ctx, "c2", m2.Seq, "c2-v", []string{"in-c2"}))

	require.NoError(t, s.DeleteVisitor(ctx, "c1-v"))
	_, err := as.Attachment(ctx, "in-c1")
	isErr(t, err, chat.ErrNotFound, "a sent attachment after DeleteVisitor")
	_, err = as.Attachment(ctx, "unsent")
	assert.NoError(t, err, "an unsent upload stays for the Server")

	mustClose(t, s, "c2", at(10))
	n, err := s.PurgeClosed(ctx, at(20))
	require.NoError(t, err)
	require.Equal(t, 1, n)
	_, err = as.Attachment(ctx, "in-c2")
	isErr(t, err, chat.ErrNotFound, "a sent attachment after PurgeClosed")
	got, err := as.MessageAttachments(ctx, "c2", 0, 100)
	require.NoError(t, err)
	assert.Empty(t, got)
}
