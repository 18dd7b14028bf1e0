package chat

import (
	"context"

	"github.com/shopchat/chat/protocol"
)

const maxRatingComment = 1000

// onRate records a visitor's rating of one of their conversations (1-5,
// with an optional comment in Text). Rating again stores a new rating;
// reports use the latest per conversation.
func (ss *session) onRate(ctx context.Context, f protocol.ClientFrame) error {
	s := ss.s
	if f.Rating < 1 || f.Rating > 5 {
		return userErr(ErrInvalid, "rating must be 1 to 5")
	}
	if len(f.Text) > maxRatingComment || !validText(f.Text) {
		return userErr(ErrInvalid, "comment is longer than %d bytes or not text", maxRatingComment)
	}
	c, err := ss.conversationFor(ctx, f.Conv)
	if err != nil {
		return err
	}
	if c.OperatorID == "" && c.AssignedAt.IsZero() {
		return userErr(ErrConflict, "no operator has answered this conversation yet")
	}
	a := Activity{Kind: Rated, VisitorID: c.VisitorID, ConversationID: c.ID, OperatorID: c.OperatorID, Value: int64(f.Rating), Text: f.Text, At: s.now()}
	if err := s.store.AddActivities(ctx, []Activity{a}); err != nil {
		return err
	}
	s.emit(Event{Kind: EventRated, ConversationID: c.ID, VisitorID: c.VisitorID, OperatorID: c.OperatorID, Rating: f.Rating, Comment: f.Text, Time: a.At})
	return ss.ackIfAsked(f)
}
