package chat

import (
	"encoding/json"
	"sync"

	"github.com/shopchat/chat/protocol"
	"github.com/shopchat/chat/transport"
)

// Topics sessions subscribe to.
func visitorTopic(id string) string  { return "v:" + id }
func operatorTopic(id string) string { return "o:" + id }

const teamTopic = "ops" // every operator session: queue, presence

// event is one item in a session's outgoing queue. The session's writer
// turns it into frames for its role (see session.process).
type event struct {
	kind   eventKind
	frame  *protocol.ServerFrame // evFrame; evAck's frame (an ack)
	data   []byte                // evFrame: frame, encoded once by push or publish
	msg    *Message              // evMessage, evAck
	conv   *Conversation         // evState
	after  int64                 // evReplay: deliver messages after this seq
	convID string                // evReplay
	code   transport.StatusCode  // evClose
	reason string                // evClose
}

type eventKind uint8

const (
	evFrame   eventKind = iota // write frame as it is
	evMessage                  // a stored message: deliver once, in order
	evAck                      // the ack of this session's message: catch up first
	evState                    // a conversation changed: send state, catch up if now ours
	evReplay                   // deliver a conversation's messages after a seq
	evClose                    // close the connection after what was queued before
	evHeal                     // broker events were lost: catch up from the store
)

// encode fills an evFrame's data, so that the queue holds (and counts) the
// bytes that will be written, once for every session it goes to.
func (ev *event) encode() error {
	if ev.kind != evFrame || ev.data != nil || ev.frame == nil {
		return nil
	}
	data, err := json.Marshal(ev.frame)
	if err != nil {
		return err
	}
	ev.data, ev.frame = data, nil
	return nil
}

// size is what ev holds while queued, in bytes, for the queue's bounds.
// Events other than frames are counted by what they will write or read.
func (ev *event) size() int {
	const overhead = 128
	switch ev.kind {
	case evFrame:
		return overhead + len(ev.data)
	case evMessage, evAck:
		if ev.msg != nil {
			return 2*overhead + len(ev.msg.Text)
		}
	case evState:
		return 4 * overhead
	}
	return overhead
}

// hub fans events out to the sessions of this process.
type hub struct {
	mu     sync.RWMutex
	topics map[string]map[*session]struct{}
}

func newHub() *hub { return &hub{topics: make(map[string]map[*session]struct{})} }

func (h *hub) subscribe(s *session, topics ...string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, t := range topics {
		set := h.topics[t]
		if set == nil {
			set = make(map[*session]struct{})
			h.topics[t] = set
		}
		set[s] = struct{}{}
	}
}

func (h *hub) unsubscribe(s *session, topics ...string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, t := range topics {
		if set := h.topics[t]; set != nil {
			delete(set, s)
			if len(set) == 0 {
				delete(h.topics, t)
			}
		}
	}
}

// publish queues ev on every session subscribed to topic. It never blocks:
// a session whose queue is full is disconnected and will resume.
func (h *hub) publish(topic string, ev event) {
	if err := ev.encode(); err != nil {
		return
	}
	h.mu.RLock()
	defer h.mu.RUnlock()
	for s := range h.topics[topic] {
		s.push(ev)
	}
}

// has reports whether any session here subscribes to topic.
func (h *hub) has(topic string) bool {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return len(h.topics[topic]) > 0
}

// sessions returns every subscribed session once.
func (h *hub) sessions() []*session {
	h.mu.RLock()
	defer h.mu.RUnlock()
	seen := make(map[*session]bool)
	var all []*session
	for _, set := range h.topics {
		for s := range set {
			if !seen[s] {
				seen[s] = true
				all = append(all, s)
			}
		}
	}
	return all
}
