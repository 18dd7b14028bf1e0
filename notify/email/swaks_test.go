package email

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestSwaksReply delivers a reply with swaks, a real SMTP client, to the
// Inbound's SMTP receiver. CI installs swaks (apt-get install swaks); a
// missing swaks fails there and skips elsewhere.
func TestSwaksReply(t *testing.T) {
	swaks, err := exec.LookPath("swaks")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("swaks is not installed; CI must install it (apt-get install -y swaks)")
		}
		t.Skip("swaks is not installed")
	}
	e := newInboundEnv(t, nil, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, swaks,
		"--server", e.smtp,
		"--to", e.rcpt(),
		"--from", testVisitor,
		"--header", "Subject: Re: Your conversation with Shop",
		"--body", "Sent with swaks: yes, please ship it.\n\nOn 3 Nov 2026, at 10:00, Shop <support@shop.test> wrote:\n> old\n",
		"--timeout", "20",
		"--silent", "1",
	)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("swaks: %v\n%s", err, out)
	}
	got := e.posted(t, 1)
	if got[0] != "Sent with swaks: yes, please ship it." {
		t.Errorf("posted %q", got[0])
	}

	// A recipient that is not a reply address is refused at RCPT.
	cmd = exec.CommandContext(ctx, swaks, "--server", e.smtp, "--to", "postmaster@"+testDomain,
		"--from", testVisitor, "--body", "hello", "--timeout", "20", "--silent", "1")
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "550") {
		t.Errorf("swaks to a non-reply address: %v\n%s", err, out)
	}
	e.posted(t, 1)
}
