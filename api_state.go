package chat

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"strconv"
	"sync"
	"unicode/utf8"
)

// The conversation state changes below are shared by the console (one
// operator's frame) and the Server API (the shop's code): each is one piece
// of code that stores the change, writes its system line, publishes the
// new state on every node, notifies and emits the event.

// conversation loads conversation id, with a client-facing error for an
// empty or unknown id.
func (s *Server) conversation(ctx context.Context, id string) (*Conversation, error) {
	if id == "" {
		return nil, userErr(ErrInvalid, "conv is required")
	}
	c, err := s.store.Conversation(ctx, id)
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			return nil, userErr(ErrNotFound, "conversation not found")
		}
		return nil, err
	}
	return c, nil
}

// assignedTo loads conversation id, which must be assigned to operatorID.
func (s *Server) assignedTo(ctx context.Context, id, operatorID string) (*Conversation, error) {
	c, err := s.conversation(ctx, id)
	if err != nil {
		return nil, err
	}
	if c.Status != Assigned || c.OperatorID != operatorID {
		return nil, errNotAssigned
	}
	return c, nil
}

// closeConversation closes open conversation c on behalf of who (a name
// for the system line). visitorID is set when the visitor closes it: the
// transcript on close then respects their mail settings.
func (s *Server) closeConversation(ctx context.Context, c *Conversation, who, visitorID string) error {
	c, err := s.closeOnce(ctx, c.ID, who)
	if err != nil {
		return err
	}
	s.publishState(c)
	s.notifyAbout(ConversationClosed, c)
	s.emit(Event{Kind: EventClosed, ConversationID: c.ID, VisitorID: c.VisitorID, OperatorID: c.OperatorID})
	if s.cfg.TranscriptOnClose && (visitorID == "" || s.allowVisitorMail(ctx, visitorID) == nil) {
		if err := s.SendTranscript(ctx, c.ID); err != nil && !errors.Is(err, ErrInvalid) {
			s.logErr("transcript on close", err, "conversation", c.ID)
		}
	}
	s.dispatch(ctx) // capacity freed, or the queue shrank
	s.publishOperators(ctx)
	return nil
}

// closeOnce writes the close line and closes conversation id, once: two
// closes racing on this node (the visitor and the operator, say) would
// otherwise both see it open and both write the line and the events. On
// several nodes the store's CloseConversation lets one close win, and the
// line's client id, the same for every close of one open period (QueuedAt
// changes when it is reopened), lets the store keep one line.
func (s *Server) closeOnce(ctx context.Context, id, who string) (*Conversation, error) {
	unlock := s.closing.lock(id)
	defer unlock()
	c, err := s.conversation(ctx, id)
	if err != nil {
		return nil, err
	}
	if !c.Open() {
		return nil, userErr(ErrConflict, "conversation is already closed")
	}
	// The line goes in before the close: nothing is appended after it.
	line := &Message{ConversationID: c.ID, Kind: SystemEvent, Text: who + " closed the conversation",
		ClientID: "close:" + strconv.FormatInt(c.QueuedAt.UnixMicro(), 10)}
	if _, err := s.append(ctx, line); err != nil && !errors.Is(err, ErrConflict) {
		return nil, err
	}
	return s.store.CloseConversation(ctx, c.ID, s.now())
}

// stripedLocks serialises work per key with a fixed number of mutexes, so
// memory does not grow with the number of keys.
type stripedLocks [64]sync.Mutex

func (l *stripedLocks) lock(key string) (unlock func()) {
	h := fnv.New32a()
	h.Write([]byte(key))
	m := &l[h.Sum32()%uint32(len(l))]
	m.Lock()
	return m.Unlock
}

// accept gives queued conversation c to op. A conversation waiting for a
// reply takes no live slot, and an operator may choose to take a live one
// beyond capacity (force).
func (s *Server) accept(ctx context.Context, c *Conversation, op *Operator, force bool) error {
	if c.Status != Queued {
		return userErr(ErrConflict, "conversation is not waiting in the queue")
	}
	live := c.Live(s.now())
	capacity := s.capacity(op)
	if !live || force {
		capacity = 0
	}
	s.dispatchMu.Lock()
	c, err := s.store.Assign(ctx, c.ID, "", op.ID, capacity, s.now())
	if err == nil && live {
		s.noteDequeue()
	}
	s.dispatchMu.Unlock()
	if err != nil {
		if errors.Is(err, ErrCapacity) {
			return userErr(ErrCapacity, "%s is at capacity (%d live chats); accept again to take this one as well", op.Name, s.capacity(op))
		}
		if errors.Is(err, ErrConflict) {
			return userErr(ErrConflict, "another operator took it")
		}
		return err
	}
	if err := s.announceAssigned(ctx, c, ""); err != nil {
		return err
	}
	s.publishQueue(ctx)
	return nil
}

// transfer hands conversation c, assigned to from, to operator toID or to
// department's queue, with an optional note for the next operator.
func (s *Server) transfer(ctx context.Context, c *Conversation, from *Operator, toID, department, comment string) error {
	if len(comment) > s.cfg.MaxMessageLength || !utf8.ValidString(comment) {
		return userErr(ErrInvalid, "comment is too long or not UTF-8")
	}
	if toID == "" && department == "" {
		return userErr(ErrInvalid, "transfer needs operator or department")
	}
	var target *Operator
	if toID != "" {
		if toID == from.ID {
			return userErr(ErrInvalid, "conversation is already %s's", from.Name)
		}
		var err error
		if target, err = s.operator(ctx, toID); err != nil {
			return err
		}
		connected, err := s.operatorConnected(ctx, target.ID)
		if err != nil {
			return err
		}
		if !connected {
			return userErr(ErrConflict, "%s is offline", target.Name)
		}
	}
	if comment != "" {
		if _, err := s.append(ctx, &Message{ConversationID: c.ID, Kind: Note, AuthorID: from.ID, AuthorName: from.Name, Text: comment}); err != nil {
			return err
		}
	}
	if target != nil {
		c, err := s.store.Assign(ctx, c.ID, from.ID, target.ID, s.capacity(target), s.now())
		if err != nil {
			if errors.Is(err, ErrCapacity) {
				return userErr(ErrCapacity, "%s is at capacity", target.Name)
			}
			return err
		}
		if err := s.announceAssigned(ctx, c, from.ID); err != nil {
			return err
		}
	} else {
		c, err := s.store.Requeue(ctx, c.ID, from.ID, department, s.now())
		if err != nil {
			return err
		}
		if _, err := s.systemMessage(ctx, c.ID, fmt.Sprintf("%s transferred the conversation to %s", from.Name, department)); err != nil {
			return err
		}
		if c, err = s.store.Conversation(ctx, c.ID); err != nil {
			return err
		}
		s.publishState(c, from.ID)
		s.emit(Event{Kind: EventTransferred, ConversationID: c.ID, VisitorID: c.VisitorID, PreviousOperatorID: from.ID, Department: department})
	}
	s.dispatch(ctx) // from has a slot free, or the queue grew
	s.publishOperators(ctx)
	return nil
}

// reopen puts closed conversation c back: assigned to op when op is given
// and has room, otherwise into the queue.
func (s *Server) reopen(ctx context.Context, c *Conversation, op *Operator) error {
	c, err := s.store.ReopenConversation(ctx, c.ID, s.now())
	if err != nil {
		if errors.Is(err, ErrConflict) {
			return userErr(ErrConflict, "conversation is open, or its visitor has started another")
		}
		return err
	}
	s.emit(Event{Kind: EventReopened, ConversationID: c.ID, VisitorID: c.VisitorID})
	aerr := errors.New("no operator")
	if op != nil {
		capacity := s.capacity(op)
		if !c.Live(s.now()) {
			capacity = 0 // its visitor is away: no live slot taken
		}
		var assigned *Conversation
		s.dispatchMu.Lock()
		assigned, aerr = s.store.Assign(ctx, c.ID, "", op.ID, capacity, s.now())
		s.dispatchMu.Unlock()
		if aerr == nil {
			if err := s.announceAssigned(ctx, assigned, ""); err != nil {
				return err
			}
		}
	}
	if aerr != nil {
		s.publishState(c)
		s.dispatch(ctx)
	}
	s.publishQueue(ctx)
	return nil
}
