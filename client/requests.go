package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/shopchat/chat/protocol"
)

// request is a client frame with an id waiting for its answer.
type request struct {
	id      string
	frame   []byte
	resend  bool   // safe to repeat: written again on every new connection until answered
	order   uint64 // when it was made; resends keep this order
	sentGen uint64 // the connection it was last written to; 0 if none
	waiters int    // callers waiting; when all gave up it is forgotten
	done    chan struct{}
	reply   protocol.ServerFrame
	err     error
}

// finish completes r with reply or err. Callers hold mu.
func (c *Conn) finish(r *request, reply protocol.ServerFrame, err error) {
	if c.pending[r.id] == r {
		delete(c.pending, r.id)
	}
	select {
	case <-r.done:
		return
	default:
	}
	r.reply, r.err = reply, err
	close(r.done)
}

// do sends f and waits for its answer. A request with resend set is written
// again after every resume until answered or ctx ends; one without is
// written at most once and fails with ErrDisconnected if its connection
// drops first. Requests made while no connection is up are written once
// the next one has synced.
//
// A request safe to repeat (resend) that the server answers with
// protocol.CodeUnavailable (its store failed, e.g. during a database
// failover) is sent again, with the same id, after the reconnect backoff
// (MinBackoff doubling up to MaxBackoff), until another answer, ctx ends
// or Close.
func (c *Conn) do(ctx context.Context, f protocol.ClientFrame, resend bool) (protocol.ServerFrame, error) {
	if f.ID == "" {
		f.ID = uuid.NewString()
	}
	for attempt := 0; ; attempt++ {
		reply, err := c.doOnce(ctx, f, resend)
		var e *Error
		if !resend || !errors.As(err, &e) || e.Code != protocol.CodeUnavailable {
			return reply, err
		}
		t := time.NewTimer(c.backoff(attempt))
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return reply, err
		case <-c.ctx.Done():
			t.Stop()
			return reply, err
		}
	}
}

func (c *Conn) doOnce(ctx context.Context, f protocol.ClientFrame, resend bool) (protocol.ServerFrame, error) {
	if err := ctx.Err(); err != nil {
		return protocol.ServerFrame{}, err
	}
	if f.ID == "" {
		f.ID = uuid.NewString()
	}
	data, err := json.Marshal(f)
	if err != nil {
		return protocol.ServerFrame{}, fmt.Errorf("client: %w", err)
	}
	c.wmu.Lock()
	c.mu.Lock()
	if c.closed {
		err := c.err
		c.mu.Unlock()
		c.wmu.Unlock()
		return protocol.ServerFrame{}, err
	}
	r := c.pending[f.ID]
	if r != nil { // the same client message id is already on its way: share its answer
		r.waiters++
		c.mu.Unlock()
		c.wmu.Unlock()
		return c.wait(ctx, r)
	}
	c.nextOrder++
	r = &request{id: f.ID, frame: data, resend: resend, order: c.nextOrder, waiters: 1, done: make(chan struct{})}
	c.pending[f.ID] = r
	var ws link
	if c.synced && c.ws != nil {
		ws, r.sentGen = c.ws, c.gen
	}
	c.mu.Unlock()
	if ws != nil {
		if err := c.write(ws, data); err != nil {
			ws.closeNow() // the reader notices, and resends or fails r
		}
	}
	c.wmu.Unlock()
	return c.wait(ctx, r)
}

func (c *Conn) wait(ctx context.Context, r *request) (protocol.ServerFrame, error) {
	select {
	case <-r.done:
		return r.reply, r.err
	case <-ctx.Done():
	}
	c.mu.Lock()
	r.waiters--
	if r.waiters == 0 && c.pending[r.id] == r {
		delete(c.pending, r.id) // nobody waits: do not resend it
	}
	c.mu.Unlock()
	select {
	case <-r.done: // answered meanwhile
		return r.reply, r.err
	default:
		return protocol.ServerFrame{}, ctx.Err()
	}
}

// post writes a frame nobody waits an answer for.
func (c *Conn) post(ctx context.Context, f protocol.ClientFrame) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	data, err := json.Marshal(f)
	if err != nil {
		return fmt.Errorf("client: %w", err)
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.mu.Lock()
	ws, closed, cerr := c.ws, c.closed, c.err
	if !c.synced {
		ws = nil
	}
	c.mu.Unlock()
	switch {
	case closed:
		return cerr
	case ws == nil:
		return fmt.Errorf("%w: not connected", ErrDisconnected)
	}
	if err := c.write(ws, data); err != nil {
		ws.closeNow()
		return fmt.Errorf("%w: %v", ErrDisconnected, err)
	}
	return nil
}

// Send sends a chat message with a new client message id (a UUID) and
// returns the stored message once the server acks it. If the connection
// drops first, the message is resent with the same id after every resume
// until it is acked, the server answers with an error frame (*Error), or
// ctx ends; the server stores it at most once. Visitors may leave conv
// empty: the server uses their open conversation, starting one if needed
// (the returned message's Conv names it).
//
// A protocol.CodeUnavailable answer (the server's store failed) is retried
// with the same id after a backoff, until ctx ends; other error frames are
// returned as *Error without retrying, including protocol.CodeRateLimited.
// To retry those, use SendID with one id for all attempts: the server
// stores it at most once.
func (c *Conn) Send(ctx context.Context, conv, text string) (protocol.Message, error) {
	return c.SendID(ctx, conv, uuid.NewString(), text)
}

// SendID is Send with a client message id chosen by the caller (up to 64
// bytes, unique per conversation). Sending an id the server already stored
// returns the original message. Concurrent calls with the same id share
// one request.
func (c *Conn) SendID(ctx context.Context, conv, cid, text string) (protocol.Message, error) {
	if cid == "" {
		return protocol.Message{}, errors.New("client: empty client message id")
	}
	return c.message(ctx, protocol.ClientFrame{Type: protocol.TypeMessage, ID: cid, Conv: conv, Text: text})
}

// Outgoing is a message with every option SendWith accepts.
type Outgoing struct {
	Conv string // visitors may leave it empty: their open conversation
	ID   string // the client message id; empty: a new UUID
	Text string
	// Department routes the conversation this message opens (visitors; the
	// pre-chat form's choice).
	Department string
	// Silent keeps an operator's message out of missed-reply mail.
	Silent bool
	// Attachments are ids from Upload to send with the message; Text may
	// then be empty.
	Attachments []string
}

// SendWith is Send with every option.
func (c *Conn) SendWith(ctx context.Context, m Outgoing) (protocol.Message, error) {
	if m.ID == "" {
		m.ID = uuid.NewString()
	}
	return c.message(ctx, protocol.ClientFrame{Type: protocol.TypeMessage, ID: m.ID, Conv: m.Conv, Text: m.Text, Department: m.Department, Silent: m.Silent, Attachments: m.Attachments})
}

// Note adds an internal note (operators only; visitors never see it) to
// conv, with Send's delivery guarantees.
func (c *Conn) Note(ctx context.Context, conv, text string) (protocol.Message, error) {
	return c.message(ctx, protocol.ClientFrame{Type: protocol.TypeNote, ID: uuid.NewString(), Conv: conv, Text: text})
}

func (c *Conn) message(ctx context.Context, f protocol.ClientFrame) (protocol.Message, error) {
	reply, err := c.do(ctx, f, true)
	if err != nil {
		return protocol.Message{}, err
	}
	if reply.Message == nil {
		return protocol.Message{}, fmt.Errorf("client: the server acked %s %s without the message", f.Type, f.ID)
	}
	return *reply.Message, nil
}

// Typing tells the other side whether the user is typing. Visitors may
// leave conv empty and may pass their draft (which the server forwards to
// the operator only if configured to); operators' drafts are never
// forwarded. It is fire and forget: it returns once written, or an error
// wrapping ErrDisconnected while no connection is up.
func (c *Conn) Typing(ctx context.Context, conv string, typing bool, draft string) error {
	return c.post(ctx, protocol.ClientFrame{Type: protocol.TypeTyping, Conv: conv, Typing: typing, Draft: draft})
}

// MarkRead records that the user has read conv up to seq and waits for the
// ack. It is safe to repeat, so it is resent after a reconnect like Send.
func (c *Conn) MarkRead(ctx context.Context, conv string, seq int64) error {
	_, err := c.do(ctx, protocol.ClientFrame{Type: protocol.TypeRead, Conv: conv, Seq: seq}, true)
	return err
}

// History returns a page of conv's messages before seq before (0: the
// newest), at most limit of them (0: the server's default, 50; at most
// 200), ascending, and whether older ones exist. It is resent after a
// reconnect like Send. The messages are also added to Messages(conv).
func (c *Conn) History(ctx context.Context, conv string, before int64, limit int) ([]protocol.Message, bool, error) {
	reply, err := c.do(ctx, protocol.ClientFrame{Type: protocol.TypeHistory, Conv: conv, Before: before, Limit: limit}, true)
	if err != nil {
		return nil, false, err
	}
	return reply.Messages, reply.More, nil
}

// Search runs a full-text search over past messages: visitors search their
// own conversations (never notes), operators everything. At most limit hits
// (0: 20), best first. It is resent after a reconnect like Send.
func (c *Conn) Search(ctx context.Context, text string, limit int) ([]protocol.SearchHit, error) {
	reply, err := c.do(ctx, protocol.ClientFrame{Type: protocol.TypeSearch, Text: text, Limit: limit}, true)
	if err != nil {
		return nil, err
	}
	return reply.Hits, nil
}

// Profile is what a visitor tells about themselves: all optional.
type Profile struct {
	Name, Email string
	Fields      map[string]string // pre-chat form answers
}

// SetProfile sets the visitor's name and email and sends pre-chat answers
// (visitors). It is safe to repeat, so it is resent after a reconnect.
func (c *Conn) SetProfile(ctx context.Context, p Profile) error {
	_, err := c.do(ctx, protocol.ClientFrame{Type: protocol.TypeProfile, Name: p.Name, Email: p.Email, Fields: p.Fields}, true)
	return err
}

// SetMail opts conversation conv back into (on) or out of missed-reply
// mail. It is safe to repeat, so it is resent after a reconnect.
func (c *Conn) SetMail(ctx context.Context, conv string, on bool) error {
	status := "off"
	if on {
		status = "on"
	}
	_, err := c.do(ctx, protocol.ClientFrame{Type: protocol.TypeMail, Conv: conv, Status: status}, true)
	return err
}

// VisitorDetails returns what operators see about the visitor of
// conversation conv: profile, pages and the shop's data (operators).
func (c *Conn) VisitorDetails(ctx context.Context, conv string) (protocol.VisitorDetails, error) {
	reply, err := c.do(ctx, protocol.ClientFrame{Type: protocol.TypeVisitor, Conv: conv}, true)
	if err != nil || reply.Details == nil {
		return protocol.VisitorDetails{}, err
	}
	return *reply.Details, nil
}

// The following requests change state on the server and are not safe to
// repeat: each is written at most once, and if its connection drops before
// the answer it fails with an error wrapping ErrDisconnected (it may or may
// not have taken effect; the Conn's state after the resume tells). Error
// frames are returned as *Error.

// Accept takes conversation conv from the queue (operators).
func (c *Conn) Accept(ctx context.Context, conv string) error {
	return c.action(ctx, protocol.ClientFrame{Type: protocol.TypeAccept, Conv: conv})
}

// AcceptOver takes conversation conv from the queue even beyond the
// operator's capacity: their explicit choice, which Accept refuses with code
// "capacity" (operators).
func (c *Conn) AcceptOver(ctx context.Context, conv string) error {
	return c.action(ctx, protocol.ClientFrame{Type: protocol.TypeAccept, Conv: conv, Force: true})
}

// TransferTo names where Transfer hands a conversation: an operator (by
// id) or a department's queue, with an optional internal comment.
type TransferTo struct {
	Operator   string
	Department string
	Comment    string
}

// Transfer hands conversation conv, which must be assigned to the caller,
// to another operator or back to a department's queue (operators).
func (c *Conn) Transfer(ctx context.Context, conv string, to TransferTo) error {
	return c.action(ctx, protocol.ClientFrame{Type: protocol.TypeTransfer, Conv: conv, Operator: to.Operator, Department: to.Department, Comment: to.Comment})
}

// CloseConversation closes conversation conv (visitors: their own;
// operators: one assigned to them).
func (c *Conn) CloseConversation(ctx context.Context, conv string) error {
	return c.action(ctx, protocol.ClientFrame{Type: protocol.TypeClose, Conv: conv})
}

// Reopen reopens closed conversation conv (operators).
func (c *Conn) Reopen(ctx context.Context, conv string) error {
	return c.action(ctx, protocol.ClientFrame{Type: protocol.TypeReopen, Conv: conv})
}

// SetPresence sets the operator's presence, protocol.PresenceOnline or
// protocol.PresenceAway; later reconnects say hello with it.
func (c *Conn) SetPresence(ctx context.Context, status string) error {
	if err := c.action(ctx, protocol.ClientFrame{Type: protocol.TypePresence, Status: status}); err != nil {
		return err
	}
	c.mu.Lock()
	c.status = status
	c.mu.Unlock()
	return nil
}

func (c *Conn) action(ctx context.Context, f protocol.ClientFrame) error {
	_, err := c.do(ctx, f, false)
	return err
}

// Page tells the server which page the visitor is on (visitors): url is
// the page's path and query, as the widget reports it. It feeds the live
// list operators see and proactive triggers. Safe to repeat.
func (c *Conn) Page(ctx context.Context, url, title, referrer string) error {
	_, err := c.do(ctx, protocol.ClientFrame{Type: protocol.TypePage, URL: url, Title: title, Referrer: referrer}, true)
	return err
}

// Rate rates conversation conv from 1 (bad) to 5 (good) with an optional
// comment (visitors). Rating again replaces the rating.
func (c *Conn) Rate(ctx context.Context, conv string, rating int, comment string) error {
	_, err := c.do(ctx, protocol.ClientFrame{Type: protocol.TypeRate, Conv: conv, Rating: rating, Text: comment}, true)
	return err
}

// LiveVisitors returns the visitors on the site now (operators): the 500
// most relevant, in the order the server ranks them. After the first call
// the server also pushes "visitors" frames when the list changes, deltas
// to apply to this answer (protocol.ServerFrame.LiveDelta, LiveGone,
// LiveCounts); Options.OnFrame sees them.
func (c *Conn) LiveVisitors(ctx context.Context) ([]protocol.LiveVisitor, error) {
	reply, err := c.do(ctx, protocol.ClientFrame{Type: protocol.TypeVisitors}, true)
	if err != nil {
		return nil, err
	}
	return reply.Live, nil
}

// Invite sends a personal invitation to chat to a visitor on the site
// (operators); the visitor's widget opens with text from the caller.
func (c *Conn) Invite(ctx context.Context, visitor, text string) error {
	return c.action(ctx, protocol.ClientFrame{Type: protocol.TypeInvite, Visitor: visitor, Text: text})
}
