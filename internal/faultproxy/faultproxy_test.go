package faultproxy

import (
	"bufio"
	"io"
	"net"
	"testing"
	"time"
)

// echo serves lines back on loopback.
func echo(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { defer c.Close(); io.Copy(c, c) }()
		}
	}()
	return ln.Addr().String()
}

func roundTrip(t *testing.T, c net.Conn, r *bufio.Reader, line string) (string, error) {
	t.Helper()
	if _, err := c.Write([]byte(line + "\n")); err != nil {
		return "", err
	}
	return r.ReadString('\n')
}

func TestForwardBlackholeRestoreDown(t *testing.T) {
	p, err := New(echo(t))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	c, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r := bufio.NewReader(c)
	if got, err := roundTrip(t, c, r, "one"); err != nil || got != "one\n" {
		t.Fatalf("forwarding: %q, %v", got, err)
	}

	// Black-holed: the bytes wait, the connection stays open.
	p.Blackhole()
	if _, err := c.Write([]byte("two\n")); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	if got, err := r.ReadString('\n'); err == nil {
		t.Fatalf("a black-holed proxy forwarded %q", got)
	} else if ne, ok := err.(net.Error); !ok || !ne.Timeout() {
		t.Fatalf("a black-holed proxy closed the connection: %v", err)
	}
	c.SetReadDeadline(time.Time{})
	r = bufio.NewReader(c)
	p.Restore()
	if got, err := r.ReadString('\n'); err != nil || got != "two\n" {
		t.Fatalf("after Restore: %q, %v", got, err)
	}

	// Down: the connection is closed and new ones are refused.
	p.Down()
	if _, err := r.ReadString('\n'); err == nil {
		t.Fatal("Down left the connection open")
	}
	c2, err := net.Dial("tcp", p.Addr())
	if err == nil {
		c2.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := c2.Read(make([]byte, 1)); err == nil {
			t.Fatal("Down accepted a new connection")
		}
		c2.Close()
	}
	p.Restore()
	c3, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c3.Close()
	if got, err := roundTrip(t, c3, bufio.NewReader(c3), "three"); err != nil || got != "three\n" {
		t.Fatalf("after Down and Restore: %q, %v", got, err)
	}
}
