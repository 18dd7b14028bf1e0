package chat

import "github.com/shopchat/chat/transport"

// Transport turns an HTTP request into a frame connection. The default, and
// today the only one, is transport/websocket; a Server-Sent Events
// transport for networks that break WebSocket is planned.
type Transport = transport.Transport

// Conn is one client connection made by a Transport.
type Conn = transport.Conn
