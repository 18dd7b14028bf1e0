package email

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	netmail "net/mail"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/shopchat/chat"
	"github.com/shopchat/chat/notify/notifytest"
)

// TestConformance runs notify/notifytest against a Notifier sending to a
// real SMTP server that records every DATA and answers 451 (a temporary
// failure) when told to refuse. The key is the Message-ID; the
// conversation is read back from the thread headers.
func TestConformance(t *testing.T) {
	notifytest.Run(t, func(t testing.TB) notifytest.Target {
		dest := &conformanceDest{deliveries: make(chan notifytest.Delivery, 1000)}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		srv := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return &conformanceSession{dest: dest, t: t}, nil }))
		srv.Domain = "conformance.test"
		srv.ErrorLog = slogPrinter{slog.New(slog.DiscardHandler)}
		served := make(chan struct{})
		go func() {
			defer close(served)
			srv.Serve(ln)
		}()
		t.Cleanup(func() {
			srv.Close()
			<-served
		})
		port := ln.Addr().(*net.TCPAddr).Port
		n, err := New(Config{
			Host: "127.0.0.1", Port: port, TLS: NoTLS,
			From:        netmail.Address{Name: "Shop", Address: "support@shop.test"},
			Operators:   []string{"team@shop.test"},
			ReplyDomain: testDomain,
			Logger:      slog.New(slog.DiscardHandler),
			MinBackoff:  time.Millisecond,
			MaxBackoff:  5 * time.Millisecond,
			MaxRetries:  1 << 20, // the suite's refusals are temporary
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			n.Close(ctx)
		})
		return notifytest.Target{
			Notifier:   n,
			Kinds:      []chat.NotificationKind{chat.OfflineMessage, chat.MissedReply, chat.Transcript, chat.NewConversation},
			Deliveries: dest.deliveries,
			Refuse:     dest.refuse,
		}
	})
}

type conformanceDest struct {
	mu         sync.Mutex
	refusals   int
	deliveries chan notifytest.Delivery
}

func (d *conformanceDest) refuse(n int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.refusals = n
}

type conformanceSession struct {
	dest *conformanceDest
	t    testing.TB
}

func (s *conformanceSession) Mail(string, *smtp.MailOptions) error { return nil }
func (s *conformanceSession) Rcpt(string, *smtp.RcptOptions) error { return nil }
func (s *conformanceSession) Reset()                               {}
func (s *conformanceSession) Logout() error                        { return nil }

func (s *conformanceSession) Data(r io.Reader) error {
	raw, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	msg, err := netmail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		s.t.Errorf("unparsable mail: %v", err)
		return err
	}
	// In-Reply-To is <conv-ID@domain>, the conversation's thread.
	conv := strings.TrimSuffix(strings.TrimPrefix(msg.Header.Get("In-Reply-To"), "<conv-"), "@"+testDomain+">")
	d := s.dest
	d.mu.Lock()
	refused := d.refusals > 0
	if refused {
		d.refusals--
	}
	d.mu.Unlock()
	d.deliveries <- notifytest.Delivery{Conversation: conv, Key: msg.Header.Get("Message-ID"), Refused: refused}
	if refused {
		return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try again later"}
	}
	return nil
}
