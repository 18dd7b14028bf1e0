// Package client is a Go client of the shopchat wire protocol (package
// protocol) for visitors and operators, with reconnect and resume built in.
// Tests, benchmarks, load generators and bots use it.
//
// DialVisitor and DialOperator connect, say hello and return once the
// server has replayed what the user should hold (synced). From then on a
// single reader goroutine per Conn applies every frame to the Conn's state,
// which Messages, Conversation, Conversations, Queue and Operators return
// copies of, and which Wait watches:
//
//	c, err := client.DialVisitor(ctx, "https://shop.example.com", client.Options{})
//	if err != nil {
//		return err
//	}
//	defer c.Close()
//	m, err := c.Send(ctx, "", "Do you ship to Norway?") // "": the visitor's open conversation
//	if err != nil {
//		return err
//	}
//	// Wait for the operator's answer.
//	err = c.Wait(ctx, func(c *client.Conn) bool {
//		for _, r := range c.Messages(m.Conv) {
//			if r.Kind == protocol.KindOperator {
//				return true
//			}
//		}
//		return false
//	})
//
// # Delivery
//
// When the connection drops (a network failure, or the server closing it
// with 1013 or 1001), the Conn reconnects with jittered exponential backoff
// until Close, and resumes: its hello names, per conversation, the highest
// seq it holds and that seq's epoch, so the server replays exactly what is
// missing. A conversation whose epoch changed is dropped and reloaded.
// Messages are kept one per seq; gaps in seq are normal (visitors do not
// see internal notes) and never mean loss.
//
// Send and Note wait for the server's ack. A message not yet acked when the
// connection drops is resent, with the same client message id and in the
// original order, after every resume until acked; the server stores it at
// most once. MarkRead and History are resent the same way. Those requests
// are also sent again, with the same id and after a backoff, when the
// server answers protocol.CodeUnavailable (its store failed, e.g. during a
// database failover), until ctx ends. Accept, Transfer, CloseConversation,
// Reopen and SetPresence are not safe to repeat: they are written at most
// once and fail with ErrDisconnected if the connection drops before their
// answer. Other error frames are returned as *Error and never retried.
//
// Close stops everything; when it returns, all goroutines the Conn started
// have exited.
package client
