package chat

import (
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
