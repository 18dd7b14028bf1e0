package chat

import "github.com/shopchat/chat/transport"

// Transport turns an HTTP request into a frame connection. The default is
// transport/websocket; transport/sse serves networks that break WebSocket.
type Transport = transport.Transport

// Conn is one client connection made by a Transport.
type Conn = transport.Conn
