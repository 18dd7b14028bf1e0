// Command slowreaders is the hostile visitor of docs/security.md, for
// measuring what one visitor can make a running shop hold: it fills a
// conversation, opens -sockets sockets with the visitor's token, asks each
// for -asks of the largest history pages, never reads, and holds them for
// -hold. Measure the shop's RSS meanwhile, e.g.
//
//	go build -o /tmp/shop ./examples/shop && /tmp/shop -db /tmp/d.db &
//	go run ./bench/cmd/slowreaders -url http://127.0.0.1:8080 &
//	grep VmRSS /proc/$(pgrep -f /tmp/shop)/status
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"

	ws "github.com/coder/websocket"

	"github.com/shopchat/chat/protocol"
)

func main() {
	base := flag.String("url", "http://127.0.0.1:8080", "the shop")
	path := flag.String("path", "/chat/", "the chat's mount path")
	sockets := flag.Int("sockets", 16, "sockets of the one visitor")
	asks := flag.Int("asks", 30, "history pages each socket asks for")
	fill := flag.Int("fill", 200, "messages to store first")
	size := flag.Int("size", 3900, "bytes per message")
	hold := flag.Duration("hold", 15*time.Second, "how long to hold the unread sockets")
	flag.Parse()
	if err := run(*base, *path, *sockets, *asks, *fill, *size, *hold); err != nil {
		fmt.Fprintln(os.Stderr, "slowreaders:", err)
		os.Exit(1)
	}
}

func run(base, path string, sockets, asks, fill, size int, hold time.Duration) error {
	ctx := context.Background()
	resp, err := http.Post(base+path+"session", "application/json", nil)
	if err != nil {
		return err
	}
	resp.Body.Close()
	var cookie string
	for _, c := range resp.Cookies() {
		if c.Name == "shopchat_visitor" {
			cookie = c.Name + "=" + c.Value
		}
	}
	if cookie == "" {
		return fmt.Errorf("session: %s, no visitor cookie", resp.Status)
	}
	wsURL := "ws" + strings.TrimPrefix(base, "http") + path + "ws"
	dial := func() (*ws.Conn, error) {
		c, _, err := ws.Dial(ctx, wsURL, &ws.DialOptions{HTTPHeader: http.Header{"Cookie": {cookie}}})
		if err != nil {
			return nil, err
		}
		c.SetReadLimit(8 << 20)
		return c, send(ctx, c, protocol.ClientFrame{V: protocol.Version, Type: protocol.TypeHello})
	}
	first, err := dial()
	if err != nil {
		return err
	}
	text := strings.Repeat("x", size)
	conv := ""
	for i := 0; i < fill; i++ {
		if err := send(ctx, first, protocol.ClientFrame{Type: protocol.TypeMessage, ID: fmt.Sprintf("fill-%d", i), Text: text}); err != nil {
			return err
		}
	read:
		for {
			_, data, err := first.Read(ctx)
			if err != nil {
				return err
			}
			f, _ := protocol.DecodeServer(data)
			if f.Type == protocol.TypeAck {
				conv = f.Conv
				break
			}
			if f.Type == protocol.TypeError && f.Code == protocol.CodeRateLimited {
				time.Sleep(time.Second) // within the frame limit: the same id again
				i--
				break read
			}
			if f.Type == protocol.TypeError {
				return fmt.Errorf("message %d: %s %s", i, f.Code, f.Error)
			}
		}
	}
	conns := []*ws.Conn{first}
	for len(conns) < sockets {
		c, err := dial()
		if err != nil {
			return err
		}
		conns = append(conns, c)
	}
	// Within the default frame limit (50/s per visitor), so every ask is
	// served: what bounds memory here is the queue, not the rate.
	pace := time.NewTicker(time.Second / 40)
	defer pace.Stop()
	for j := 0; j < asks; j++ {
		for i, c := range conns {
			<-pace.C
			send(ctx, c, protocol.ClientFrame{Type: protocol.TypeHistory, ID: fmt.Sprintf("h%d-%d", i, j), Conv: conv, Limit: 200})
		}
	}
	fmt.Printf("%d sockets asked for %d history pages each of a %d-message conversation and read nothing; holding %s\n", sockets, asks, fill, hold)
	time.Sleep(hold)
	return nil
}

func send(ctx context.Context, c *ws.Conn, f protocol.ClientFrame) error {
	data, _ := json.Marshal(f)
	return c.Write(ctx, ws.MessageText, data)
}
