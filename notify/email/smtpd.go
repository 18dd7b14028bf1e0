package email

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/emersion/go-smtp"
)

// SMTPServer returns an SMTP server (not yet listening) that receives
// replies for Domain on addr: it accepts RCPT only for reply+<token>@Domain
// and the return path bounce+<token>@Domain (others get 550), mail up to
// MaxSize bytes, and needs no AUTH. It is
// meant to be the final hop behind the shop's MX (e.g. Postfix relaying
// the reply domain to 127.0.0.1:2525, or the MX record pointing at this
// host), not a submission server. Start it with ListenAndServe or Serve;
// stop it with Close or Shutdown. ListenAndServeSMTP does all of that.
func (in *Inbound) SMTPServer(addr string) *smtp.Server {
	return in.smtpServer(context.Background(), addr)
}

func (in *Inbound) smtpServer(ctx context.Context, addr string) *smtp.Server {
	s := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		return &session{in: in, ctx: ctx}, nil
	}))
	s.Addr = addr
	s.Domain = in.cfg.Domain
	s.MaxMessageBytes = in.cfg.MaxSize
	s.MaxRecipients = 20
	s.MaxLineLength = 10000
	s.ReadTimeout = 2 * time.Minute
	s.WriteTimeout = 2 * time.Minute
	s.ErrorLog = slogPrinter{in.log}
	return s
}

// ListenAndServeSMTP listens on addr (e.g. ":2525") and receives replies
// until ctx ends; see SMTPServer. It returns nil after ctx ends.
func (in *Inbound) ListenAndServeSMTP(ctx context.Context, addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("email: smtp: %w", err)
	}
	return in.ServeSMTP(ctx, ln)
}

// ServeSMTP is ListenAndServeSMTP on a listener the caller opened. It
// closes ln. When ctx ends it stops accepting, lets transactions in
// progress finish for up to 10 seconds, then closes what is left, and
// returns once every connection's goroutine is done.
func (in *Inbound) ServeSMTP(ctx context.Context, ln net.Listener) error {
	tl := &trackingListener{Listener: ln, conns: make(map[*trackedConn]struct{})}
	// Transactions in progress may finish after ctx ends.
	s := in.smtpServer(context.WithoutCancel(ctx), ln.Addr().String())
	stopped := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		select {
		case <-ctx.Done():
		case <-stopped:
		}
		grace, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		s.Shutdown(grace) // closes the listeners and waits for the connections
		tl.Close()        // in case Serve had not registered it yet
		tl.closeAll()
		tl.wg.Wait()
	}()
	err := s.Serve(tl)
	close(stopped)
	<-done
	if ctx.Err() != nil && (err == nil || errors.Is(err, smtp.ErrServerClosed) || errors.Is(err, net.ErrClosed)) {
		return nil
	}
	if err == nil {
		err = smtp.ErrServerClosed
	}
	return fmt.Errorf("email: smtp: %w", err)
}

// trackingListener remembers its connections, so that ServeSMTP can close
// those still open after the grace period and wait for them.
type trackingListener struct {
	net.Listener
	wg    sync.WaitGroup
	mu    sync.Mutex
	conns map[*trackedConn]struct{}
}

func (l *trackingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	tc := &trackedConn{Conn: c, l: l}
	l.mu.Lock()
	l.conns[tc] = struct{}{}
	l.wg.Add(1)
	l.mu.Unlock()
	return tc, nil
}

func (l *trackingListener) closeAll() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for c := range l.conns {
		c.Conn.Close() // the server's handler then closes the trackedConn
	}
}

type trackedConn struct {
	net.Conn
	l    *trackingListener
	once sync.Once
}

func (c *trackedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() {
		c.l.mu.Lock()
		delete(c.l.conns, c)
		c.l.mu.Unlock()
		c.l.wg.Done()
	})
	return err
}

// session is one SMTP transaction at a time on one connection.
type session struct {
	in         *Inbound
	ctx        context.Context
	rcpts      []string
	nullSender bool
}

var (
	errNoSuchUser = &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1},
		Message: "No such mailbox: this server only receives replies to our mail"}
	errTempFail = &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0},
		Message: "Temporary failure, please try again later"}
)

func (s *session) Mail(from string, opts *smtp.MailOptions) error {
	if opts != nil && opts.Size > s.in.cfg.MaxSize {
		return smtp.ErrDataTooLarge
	}
	s.nullSender = from == ""
	return nil
}

func (s *session) Rcpt(to string, opts *smtp.RcptOptions) error {
	if s.in.tokenOf(to, replyPrefix) == "" && s.in.tokenOf(to, bouncePrefix) == "" {
		return errNoSuchUser
	}
	s.rcpts = append(s.rcpts, to)
	return nil
}

func (s *session) Data(r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err // go-smtp answers ErrDataTooLarge and friends itself
	}
	ctx, cancel := context.WithTimeout(s.ctx, time.Minute)
	defer cancel()
	_, _, err = s.in.handle(ctx, bytes.NewReader(data), envelope{rcpts: s.rcpts, nullSender: s.nullSender})
	if err == nil {
		return nil
	}
	switch class(err) {
	case dropped:
		return nil // accepted and discarded: refusing would bounce back to a robot
	case tooLarge:
		return smtp.ErrDataTooLarge
	case refused:
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 7, 1},
			Message: "Reply not accepted (" + reason(err) + "); please write to us in the chat on our site"}
	}
	return errTempFail
}

func (s *session) Reset() {
	s.rcpts = nil
	s.nullSender = false
}

func (s *session) Logout() error { return nil }

// slogPrinter adapts slog to go-smtp's Logger.
type slogPrinter struct{ log *slog.Logger }

func (p slogPrinter) Printf(format string, v ...any) {
	p.log.Warn("email: smtp: " + fmt.Sprintf(format, v...))
}

func (p slogPrinter) Println(v ...any) { p.log.Warn("email: smtp: " + fmt.Sprint(v...)) }
