package email

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/emersion/go-message"

	"github.com/shopchat/chat"
)

// Mail to a visitor is sent from bounce+<token>@Domain (VERP), so what
// comes back there is about that conversation's visitor: a delivery
// status notification (RFC 3464) saying delivery failed for good makes
// (*chat.Server).PostBounce stop mail about the conversation. Anything else
// sent there (an out-of-office reply, which RFC 3834 sends to the return
// path; a delay notice) is dropped.

// maxReportBytes bounds the delivery-status part read; maxReportRecipients
// the recipients taken from it.
const (
	maxReportBytes      = 64 << 10
	maxReportRecipients = 50
)

// deliveryFailure is one recipient of a DSN whose delivery failed.
type deliveryFailure struct {
	recipient, status, diagnostic string
}

// handleBounce records the permanent failures a DSN to bounce+<token>
// reports.
func (in *Inbound) handleBounce(ctx context.Context, e *message.Entity, token, msgID string) error {
	failures, err := in.deliveryFailures(e)
	if err == nil && len(failures) == 0 {
		err = fmt.Errorf("%w: the report names no permanent failure (a delay or a success)", ErrBounce)
	}
	for _, f := range failures {
		if err = in.cfg.Server.PostBounce(ctx, chat.Bounce{Token: token, Recipient: f.recipient, Status: f.status,
			Diagnostic: f.diagnostic, MessageID: msgID}); err != nil {
			break
		}
		in.add("email_inbound_bounces_total")
		in.log.Info("email bounce recorded: no more mail about the conversation", "recipient", f.recipient,
			"status", f.status, "message_id", msgID)
	}
	if err != nil {
		in.refused(err, chat.InboundReply{MessageID: msgID})
	}
	return err
}

// deliveryFailures reads a delivery status notification: a
// multipart/report; report-type=delivery-status whose message/delivery-status
// part lists recipients; it returns those with Action failed and a 5.x.x
// Status. Mail that is no DSN is ErrAutoReply (an auto-reply to the return
// path).
func (in *Inbound) deliveryFailures(e *message.Entity) ([]deliveryFailure, error) {
	t, params, _ := e.Header.ContentType()
	if t != "multipart/report" || !strings.EqualFold(params["report-type"], "delivery-status") {
		return nil, fmt.Errorf("%w: mail to the return path that is no delivery status notification (%s)", ErrAutoReply, t)
	}
	mr := e.MultipartReader()
	if mr == nil {
		return nil, fmt.Errorf("%w: report without parts", ErrMalformed)
	}
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%w: report without a delivery-status part", ErrMalformed)
		}
		if err != nil && !message.IsUnknownCharset(err) && !message.IsUnknownEncoding(err) {
			return nil, fmt.Errorf("%w: report: %v", ErrMalformed, err)
		}
		if pt, _, _ := part.Header.ContentType(); pt == "message/delivery-status" || pt == "message/global-delivery-status" {
			return parseDeliveryStatus(io.LimitReader(part.Body, maxReportBytes)), nil
		}
	}
}

// parseDeliveryStatus parses the fields of a message/delivery-status body
// (RFC 3464 section 2.1): a block of per-message fields, then one block per
// recipient, blocks separated by blank lines, long fields folded.
func parseDeliveryStatus(r io.Reader) []deliveryFailure {
	var out []deliveryFailure
	block := map[string]string{}
	last := ""
	flush := func() {
		if block["action"] != "" && len(out) < maxReportRecipients {
			action := strings.ToLower(strings.TrimSpace(block["action"]))
			status := strings.TrimSpace(block["status"])
			if action == "failed" && strings.HasPrefix(status, "5.") {
				out = append(out, deliveryFailure{
					recipient:  typedValue(block["final-recipient"]),
					status:     status,
					diagnostic: typedValue(block["diagnostic-code"]),
				})
			}
		}
		block, last = map[string]string{}, ""
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 4096), maxReportBytes)
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), "\r")
		switch {
		case strings.TrimSpace(line) == "":
			flush()
		case (line[0] == ' ' || line[0] == '\t') && last != "":
			block[last] += " " + strings.TrimSpace(line)
		default:
			name, value, ok := strings.Cut(line, ":")
			if !ok {
				continue
			}
			last = strings.ToLower(strings.TrimSpace(name))
			block[last] = strings.TrimSpace(value)
		}
	}
	flush()
	return out
}

// typedValue returns the value of a typed DSN field ("rfc822;
// ann@example.com", "smtp; 550 5.1.1 unknown"): what follows the type.
func typedValue(v string) string {
	if _, after, ok := strings.Cut(v, ";"); ok {
		v = after
	}
	return strings.Trim(strings.TrimSpace(v), "<>")
}
