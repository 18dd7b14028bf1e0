package brokertest

import (
	"fmt"
	"strings"
	"testing"

	"github.com/shopchat/chat"
)

// deliverySameNode: a node's own publish reaches its own subscriber, once,
// right after Subscribe returned.
func deliverySameNode(t testing.TB, open opener) {
	tp := topics()
	b := open(t)
	s := newSink("subscriber")
	subscribe(t, b, tp("t"), s.deliver)
	publishString(t, b, tp("t"), "hello")
	s.expectString(t, "hello")
	publishString(t, b, tp("t"), "barrier") // no duplicate of hello before it
	s.expectString(t, "barrier")
}

// deliveryOtherNode: publishes reach subscribers on the other node and on
// the publishing node.
func deliveryOtherNode(t testing.TB, open opener) {
	tp := topics()
	a, b := open(t), open(t)
	sa, sb := newSink("subscriber on node A"), newSink("subscriber on node B")
	subscribe(t, b, tp("t"), sb.deliver)
	publishString(t, a, tp("t"), "from A, before A subscribed")
	sb.expectString(t, "from A, before A subscribed")

	subscribe(t, a, tp("t"), sa.deliver)
	publishString(t, a, tp("t"), "from A")
	sa.expectString(t, "from A")
	sb.expectString(t, "from A")
	publishString(t, b, tp("t"), "from B")
	sa.expectString(t, "from B")
	sb.expectString(t, "from B")
}

// deliveryEverySubscriber: each subscription of a topic, two on one node
// and one on another, gets a payload exactly once; subscriptions of
// another topic get nothing.
func deliveryEverySubscriber(t testing.TB, open opener) {
	tp := topics()
	a, b := open(t), open(t)
	a1, a2, b1 := newSink("first subscriber on A"), newSink("second subscriber on A"), newSink("subscriber on B")
	ua, ub := newSink("other topic's subscriber on A"), newSink("other topic's subscriber on B")
	subscribe(t, a, tp("t"), a1.deliver)
	subscribe(t, a, tp("t"), a2.deliver)
	subscribe(t, b, tp("t"), b1.deliver)
	subscribe(t, a, tp("u"), ua.deliver)
	subscribe(t, b, tp("u"), ub.deliver)

	for _, pub := range []struct {
		name string
		node chat.Broker
	}{{"A", a}, {"B", b}} {
		node := pub.node
		m := "to t from " + pub.name
		publishString(t, node, tp("t"), m)
		for _, s := range []*sink{a1, a2, b1} {
			s.expectString(t, m)
		}
		// The other topic's subscribers must see the barrier first; the
		// first topic's, a second barrier, not a duplicate.
		bar := "barrier to u from " + pub.name
		publishString(t, node, tp("u"), bar)
		ua.expectString(t, bar)
		ub.expectString(t, bar)
		bar = "barrier to t from " + pub.name
		publishString(t, node, tp("t"), bar)
		for _, s := range []*sink{a1, a2, b1} {
			s.expectString(t, bar)
		}
	}
}

// deliveryTopicNames: topics that differ only in case, in characters some
// backends treat specially, or beyond a backend's name length limit are
// different topics.
func deliveryTopicNames(t testing.TB, open opener) {
	tp := topics()
	a, b := open(t), open(t)
	long := strings.Repeat("x", 1000)
	names := []string{
		"plain",
		"UPPER", "upper",
		"with space", "with\ttab", "with\nnewline",
		"dots.in.name", "dots", "dots.",
		"wild.*", "wild.>", "wild.x", "wild.x.y", "*", ">",
		"pattern?", "pattern[ab]", "patterna",
		`quote' double" back\slash %_`,
		"unicode-ção-日本-🙂",
		"nul\x00byte", "nul",
		"colon:name", "slash/name",
		long, long + "y", long + "z",
		strings.Repeat("é", 300),
	}
	sinks := make([]*sink, len(names))
	for i, n := range names {
		sinks[i] = newSink(fmt.Sprintf("subscriber of topic #%d %s", i, show([]byte(n))))
		subscribe(t, b, tp(n), sinks[i].deliver)
	}
	for i, n := range names {
		publishString(t, a, tp(n), fmt.Sprintf("payload #%d", i))
	}
	for i, n := range names {
		publishString(t, a, tp(n), fmt.Sprintf("barrier #%d", i))
	}
	for i, s := range sinks {
		s.expectString(t, fmt.Sprintf("payload #%d", i))
		s.expectString(t, fmt.Sprintf("barrier #%d", i))
	}
}
