package chat

import (
	"context"

	"github.com/shopchat/chat/protocol"
)

const maxClientID = 64

// hello answers a client's hello: welcome, replay, synced. It queues the
// replay before subscribing and holds the writer until subscribed, so no
// live event is missed and none overtakes the replay (the writer drops what
// it already delivered).
func (ss *session) hello(ctx context.Context, f protocol.ClientFrame) error {
	s := ss.s
	welcome := &protocol.ServerFrame{V: protocol.Version, Type: protocol.TypeWelcome, Role: ss.role}
	resume := make(map[string]protocol.ResumePoint, len(f.Resume))
	for _, p := range f.Resume {
		resume[p.Conv] = p
	}
	recovered := true
	var queueFrame *protocol.ServerFrame // operators: the queue, right after welcome
	var convs []*Conversation            // conversations to replay
	if ss.visitor != nil {
		v := ss.visitor
		ss.lang = language(f.Lang)
		welcome.Me = &protocol.Person{ID: v.ID, Name: v.Name}
		list, err := s.store.Conversations(ctx, ConversationFilter{VisitorID: v.ID, Limit: 20})
		if err != nil {
			return err
		}
		for _, c := range list {
			if c.Open() {
				s.visitorBack(ctx, c) // before its state goes out: routed, maybe assigned
				if fresh, err := s.store.Conversation(ctx, c.ID); err == nil {
					c = fresh
				}
			}
			welcome.Conversations = append(welcome.Conversations, *s.conversationFrame(c, ss.role))
			if _, ok := resume[c.ID]; ok || c.Open() {
				convs = append(convs, c)
			}
		}
		ss.topics = []string{visitorTopic(v.ID), allVisitorsTopic}
		if welcome.Available, err = s.available(ctx); err != nil {
			return err
		}
	} else {
		op := ss.op
		welcome.Me = &protocol.Person{ID: op.ID, Name: op.Name, Avatar: op.AvatarURL}
		welcome.Brand = s.cfg.Widget.BrandColor
		list, err := s.store.Conversations(ctx, ConversationFilter{OperatorID: op.ID, Status: []Status{Assigned}, Limit: 500})
		if err != nil {
			return err
		}
		for _, c := range list {
			welcome.Conversations = append(welcome.Conversations, *s.conversationFrame(c, ss.role))
			convs = append(convs, c)
		}
		queue, err := s.queueFrames(ctx)
		if err != nil {
			return err
		}
		welcome.Operators, err = s.operatorFrames(ctx)
		if err != nil {
			return err
		}
		queueFrame = &protocol.ServerFrame{Type: protocol.TypeQueue, Conversations: queue}
		ss.topics = []string{operatorTopic(op.ID), teamTopic}
		if welcome.Canned, err = s.cannedFrames(ctx, op.ID); err != nil {
			return err
		}
	}
	// Which resume points can continue where they left off?
	replayFrom := make(map[string]int64, len(convs))
	for _, c := range convs {
		replayFrom[c.ID] = 0
	}
	listed := make(map[string]bool, len(welcome.Conversations))
	for _, c := range welcome.Conversations {
		listed[c.ID] = true
	}
	for id, p := range resume {
		c, err := s.store.Conversation(ctx, id)
		if err != nil || !ss.mayRead(c) {
			recovered = false // gone or never ours: nothing to resume
			continue
		}
		if !listed[id] { // the client needs its epoch and state too
			welcome.Conversations = append(welcome.Conversations, *s.conversationFrame(c, ss.role))
		}
		if c.Epoch != p.Epoch {
			recovered = false // history may differ: the client reloads it
			replayFrom[id] = 0
			continue
		}
		replayFrom[id] = p.Seq
	}
	welcome.Recovered = recovered

	evs := []event{{kind: evFrame, frame: welcome}}
	if queueFrame != nil {
		evs = append(evs, event{kind: evFrame, frame: queueFrame})
	}
	for id, after := range replayFrom {
		evs = append(evs, event{kind: evReplay, convID: id, after: after})
	}
	ss.mu.Lock()
	ss.held = true
	ss.mu.Unlock()
	ss.push(evs...)
	s.hub.subscribe(ss, ss.topics...)
	ss.unhold()
	if ss.op == nil {
		s.widgetOpened(ss.visitorID)
	}
	if ss.op != nil {
		// Presence is stored (and the queue dispatched) before synced, so a
		// synced operator is assignable.
		p := Online
		if f.Status == string(Away) {
			p = Away
		}
		if err := s.operatorJoined(ctx, ss.op, p); err != nil {
			return err
		}
	}
	ss.push(event{kind: evFrame, frame: &protocol.ServerFrame{Type: protocol.TypeSynced, Recovered: recovered}})
	return nil
}
