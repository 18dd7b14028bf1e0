package client

import (
	"context"
	"slices"
	"sort"

	"github.com/shopchat/chat/protocol"
)

// convState is what the Conn holds of one conversation.
type convState struct {
	conv    protocol.Conversation // latest state
	hasConv bool
	// epoch is the epoch of the messages held (which may lag conv.Epoch
	// until the next resume reconciles them); epochKnown is false until a
	// welcome, state or history frame told it.
	epoch      int64
	epochKnown bool
	seen       map[int64]struct{}
	msgs       []protocol.Message // ascending by seq
}

func (cs *convState) highest() int64 {
	if len(cs.msgs) == 0 {
		return 0
	}
	return cs.msgs[len(cs.msgs)-1].Seq
}

// add inserts m unless a message with its seq is held already.
func (cs *convState) add(m protocol.Message) {
	if _, ok := cs.seen[m.Seq]; ok {
		return
	}
	cs.seen[m.Seq] = struct{}{}
	if n := len(cs.msgs); n == 0 || cs.msgs[n-1].Seq < m.Seq {
		cs.msgs = append(cs.msgs, m)
	} else {
		i := sort.Search(n, func(i int) bool { return cs.msgs[i].Seq > m.Seq })
		cs.msgs = slices.Insert(cs.msgs, i, m)
	}
	if cs.hasConv && m.Seq > cs.conv.LastSeq {
		cs.conv.LastSeq = m.Seq
	}
}

func (cs *convState) drop() {
	cs.msgs = nil
	cs.seen = make(map[int64]struct{})
}

// setState records a conversation state from the server. An unknown epoch
// is adopted; a changed one is left for the next resume to reconcile,
// except where the caller (welcome) reconciles it at once.
func (cs *convState) setState(pc protocol.Conversation) {
	cs.conv, cs.hasConv = pc, true
	if !cs.epochKnown {
		cs.epoch, cs.epochKnown = pc.Epoch, true
	}
	if h := cs.highest(); h > cs.conv.LastSeq {
		cs.conv.LastSeq = h
	}
}

// conv returns the state of conversation id, creating it. Callers hold mu.
func (c *Conn) conv(id string) *convState {
	cs := c.convs[id]
	if cs == nil {
		cs = &convState{seen: make(map[int64]struct{})}
		c.convs[id] = cs
	}
	return cs
}

// broadcast wakes every Wait. Callers hold mu.
func (c *Conn) broadcast() {
	close(c.changed)
	c.changed = make(chan struct{})
}

// apply updates the state with frame f of connection h.
func (c *Conn) apply(h *handshake, f *protocol.ServerFrame) {
	c.mu.Lock()
	defer c.mu.Unlock()
	defer c.broadcast()
	switch f.Type {
	case protocol.TypeWelcome:
		h.welcomed = true
		if f.Me != nil {
			c.me = *f.Me
		}
		c.recovered = f.Recovered
		for _, pc := range f.Conversations {
			h.listed[pc.ID] = true
			cs := c.conv(pc.ID)
			if len(cs.msgs) > 0 && (!cs.epochKnown || cs.epoch != pc.Epoch) {
				cs.drop() // the replay starts over from seq 1
			}
			cs.epoch, cs.epochKnown = pc.Epoch, true
			cs.setState(pc)
		}
		if c.role == protocol.RoleOperator {
			c.operators = slices.Clone(f.Operators)
			c.canned = slices.Clone(f.Canned)
		} else {
			c.available = f.Available
		}
	case protocol.TypeSynced:
		h.synced = true // flush sets c.synced once the resends are on their way
		if c.everSynced {
			c.reconnects++
		}
		c.everSynced = true
		c.recovered = f.Recovered
	case protocol.TypeMessage:
		if f.Message != nil {
			c.addMessage(h, *f.Message)
		}
	case protocol.TypeAck:
		if f.Message != nil {
			c.addMessage(h, *f.Message)
		}
		if r := c.pending[f.ID]; f.ID != "" && r != nil {
			c.finish(r, *f, nil)
		}
	case protocol.TypeError:
		e := &Error{Code: f.Code, Message: f.Error}
		if !h.welcomed {
			h.err = e // hello failed; the server closes the connection
			return
		}
		if r := c.pending[f.ID]; f.ID != "" && r != nil {
			c.finish(r, *f, e)
		}
	case protocol.TypeHistory:
		if f.Conversation != nil {
			cs := c.conv(f.Conversation.ID)
			cs.setState(*f.Conversation)
			if cs.epoch == f.Conversation.Epoch {
				for _, m := range f.Messages {
					cs.add(m)
				}
			}
		}
		if r := c.pending[f.ID]; f.ID != "" && r != nil {
			c.finish(r, *f, nil)
		}
	case protocol.TypeAvailable:
		c.available = f.Available
	case protocol.TypeSearch, protocol.TypeVisitor, protocol.TypeVisitors, protocol.TypeCanned, protocol.TypeTriggers:
		// Replies to requests; canned, triggers and visitors frames without
		// an id are pushed updates, left to Options.OnFrame.
		if r := c.pending[f.ID]; f.ID != "" && r != nil {
			c.finish(r, *f, nil)
		}
	case protocol.TypeState:
		if f.Conversation != nil {
			c.conv(f.Conversation.ID).setState(*f.Conversation)
		}
	case protocol.TypeRead:
		if cs := c.convs[f.Conv]; cs != nil && cs.hasConv {
			switch f.From {
			case protocol.RoleVisitor:
				cs.conv.VisitorRead = max(cs.conv.VisitorRead, f.Seq)
			case protocol.RoleOperator:
				cs.conv.OperatorRead = max(cs.conv.OperatorRead, f.Seq)
			}
		}
	case protocol.TypeQueue:
		c.queue = slices.Clone(f.Conversations)
	case protocol.TypeOperators:
		c.operators = slices.Clone(f.Operators)
	}
}

// addMessage stores a message received on connection h. Callers hold mu.
func (c *Conn) addMessage(h *handshake, m protocol.Message) {
	if m.Conv == "" {
		return
	}
	cs := c.conv(m.Conv)
	// A resumed conversation missing from welcome tells its epoch only by
	// its replay: one starting at or below the resume point means the epoch
	// changed and the server replays from seq 1.
	if !h.synced && !h.listed[m.Conv] && h.resume[m.Conv] > 0 && !h.checked[m.Conv] {
		h.checked[m.Conv] = true
		if m.Seq <= h.resume[m.Conv] {
			cs.drop()
			cs.epochKnown = false
		}
	}
	cs.add(m)
}

// Me returns who the server says the Conn's user is.
func (c *Conn) Me() protocol.Person {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.me
}

// Messages returns every message of conversation conv received so far
// (message frames, replays, acks of our own messages and history pages),
// one per seq, ascending. The slice is a copy; the messages' Author
// pointers are shared and must not be modified.
func (c *Conn) Messages(conv string) []protocol.Message {
	c.mu.Lock()
	defer c.mu.Unlock()
	if cs := c.convs[conv]; cs != nil {
		return slices.Clone(cs.msgs)
	}
	return nil
}

// Conversation returns the latest state the server sent for conv (from
// welcome, state and history frames; LastSeq and the read marks are
// advanced by later message and read frames), and whether there is one.
func (c *Conn) Conversation(conv string) (protocol.Conversation, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if cs := c.convs[conv]; cs != nil && cs.hasConv {
		return cloneConv(cs.conv), true
	}
	return protocol.Conversation{}, false
}

// Conversations returns the latest state of every conversation the Conn
// has heard of, oldest first. For an operator this includes conversations
// that have since been transferred away or closed: check Status and
// Operator.
func (c *Conn) Conversations() []protocol.Conversation {
	c.mu.Lock()
	var list []protocol.Conversation
	for _, cs := range c.convs {
		if cs.hasConv {
			list = append(list, cloneConv(cs.conv))
		}
	}
	c.mu.Unlock()
	sort.Slice(list, func(i, j int) bool {
		if !list[i].Created.Equal(list[j].Created) {
			return list[i].Created.Before(list[j].Created)
		}
		return list[i].ID < list[j].ID
	})
	return list
}

// Queue returns, for operators, the waiting queue of the latest queue frame,
// in FIFO order.
func (c *Conn) Queue() []protocol.Conversation {
	c.mu.Lock()
	defer c.mu.Unlock()
	list := make([]protocol.Conversation, len(c.queue))
	for i, q := range c.queue {
		list[i] = cloneConv(q)
	}
	return list
}

// Operators returns, for operators, the team of the latest welcome or
// operators frame.
func (c *Conn) Operators() []protocol.Operator {
	c.mu.Lock()
	defer c.mu.Unlock()
	list := make([]protocol.Operator, len(c.operators))
	for i, o := range c.operators {
		o.Departments = slices.Clone(o.Departments)
		list[i] = o
	}
	return list
}

// Reconnects returns how many times the Conn has reconnected and resumed
// (got to synced again) since Dial.
func (c *Conn) Reconnects() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.reconnects
}

// Recovered reports whether the last resume continued every conversation
// where the Conn left off (see protocol: recovered). It is false when a
// conversation was gone or its epoch changed and its messages were
// reloaded.
func (c *Conn) Recovered() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.recovered
}

// Wait returns nil once cond(c) holds. cond is evaluated now and again
// after every frame the Conn applies and every change of connection; it
// must not block and may call the Conn's state methods (Messages,
// Conversation, ...). Wait returns ctx's error when ctx ends first, and the
// Conn's error (ErrClosed after Close) when the Conn stops first.
func (c *Conn) Wait(ctx context.Context, cond func(c *Conn) bool) error {
	for {
		c.mu.Lock()
		changed, closed, err := c.changed, c.closed, c.err
		c.mu.Unlock()
		if cond(c) {
			return nil
		}
		if closed {
			return err
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func cloneConv(c protocol.Conversation) protocol.Conversation {
	if c.Operator != nil {
		p := *c.Operator
		c.Operator = &p
	}
	if c.Visitor != nil {
		p := *c.Visitor
		c.Visitor = &p
	}
	if c.Queue != nil {
		q := *c.Queue
		c.Queue = &q
	}
	return c
}

// Available reports whether an operator is online to answer (visitors), as
// the server last said.
func (c *Conn) Available() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.available
}

// Canned returns the team's canned responses (operators).
func (c *Conn) Canned() []protocol.Canned {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.canned)
}
