package chat

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/google/uuid"

	"github.com/shopchat/chat/protocol"
)

// Canned frames: an operator's list/save/delete is answered with a canned
// frame carrying the request's id and the full list the operator sees (the
// team's responses and their own). Other sessions learn of a change by a
// canned frame without id whose Status names the part of the list it
// replaces: "team" (every team response, sent to the whole team) or
// "personal" (the operator's own, sent to that operator's sessions).
const (
	cannedScopeTeam     = "team"
	cannedScopePersonal = "personal"
)

const maxCannedTitle = 200

var (
	shortcutRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,32}$`)
	// variableRE: the shop's variable names ({coupon}, {shop.phone}).
	variableRE = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,64}$`)
)

// checkCanned validates a canned response's fields.
func (s *Server) checkCanned(c *CannedResponse) error {
	switch {
	case !shortcutRE.MatchString(c.Shortcut):
		return userErr(ErrInvalid, "shortcut %q: use 1 to 32 letters, digits, - or _", c.Shortcut)
	case strings.TrimSpace(c.Text) == "":
		return userErr(ErrInvalid, "text is empty")
	case len(c.Text) > s.cfg.MaxMessageLength || !validText(c.Text):
		return userErr(ErrInvalid, "text is longer than %d bytes or not text", s.cfg.MaxMessageLength)
	case len(c.Title) > maxCannedTitle || !validText(c.Title):
		return userErr(ErrInvalid, "title is longer than %d bytes or not text", maxCannedTitle)
	}
	return nil
}

// seedCanned stores Config.CannedResponses as team responses, except those
// whose shortcut the team has stored already (perhaps edited since).
func (s *Server) seedCanned(ctx context.Context) error {
	if len(s.cfg.CannedResponses) == 0 {
		return nil
	}
	stored, err := s.store.CannedResponses(ctx, "")
	if err != nil {
		return fmt.Errorf("chat: canned responses: %w", err)
	}
	have := make(map[string]bool, len(stored))
	for _, c := range stored {
		have[c.Shortcut] = true
	}
	for _, c := range s.cfg.CannedResponses {
		if have[c.Shortcut] {
			continue
		}
		have[c.Shortcut] = true
		c.ID, c.OperatorID, c.UpdatedAt = uuid.NewString(), "", s.now()
		// ErrConflict: another node seeded it at the same time.
		if err := s.store.PutCanned(ctx, &c); err != nil && !errors.Is(err, ErrConflict) {
			return fmt.Errorf("chat: canned response %q: %w", c.Shortcut, err)
		}
	}
	return nil
}

// validateCannedConfig checks Config.CannedResponses for New.
func (s *Server) validateCannedConfig() error {
	seen := make(map[string]bool, len(s.cfg.CannedResponses))
	for i := range s.cfg.CannedResponses {
		c := &s.cfg.CannedResponses[i]
		if err := s.checkCanned(c); err != nil {
			return fmt.Errorf("chat: Config.CannedResponses[%d]: %v", i, err)
		}
		if seen[c.Shortcut] {
			return fmt.Errorf("chat: Config.CannedResponses: shortcut %q twice", c.Shortcut)
		}
		seen[c.Shortcut] = true
	}
	return nil
}

// cannedFrames lists the canned responses operatorID sees: the team's and
// their own.
func (s *Server) cannedFrames(ctx context.Context, operatorID string) ([]protocol.Canned, error) {
	list, err := s.store.CannedResponses(ctx, operatorID)
	if err != nil {
		return nil, err
	}
	out := make([]protocol.Canned, 0, len(list))
	for _, c := range list {
		out = append(out, protocol.Canned{ID: c.ID, Shortcut: c.Shortcut, Title: c.Title, Text: c.Text, Personal: c.OperatorID != ""})
	}
	return out, nil
}

func (ss *session) onCanned(ctx context.Context, f protocol.ClientFrame) error {
	s := ss.s
	var scopes []string // the parts of the list that changed
	switch f.Action {
	case "", protocol.ActionList:
	case protocol.ActionSave:
		if f.Canned == nil {
			return userErr(ErrInvalid, "canned is required")
		}
		c := &CannedResponse{ID: f.Canned.ID, Shortcut: f.Canned.Shortcut, Title: f.Canned.Title, Text: f.Canned.Text, UpdatedAt: s.now()}
		if f.Canned.Personal {
			c.OperatorID = ss.op.ID
		}
		if err := s.checkCanned(c); err != nil {
			return err
		}
		if c.ID == "" {
			c.ID = uuid.NewString()
		} else {
			old, err := ss.editableCanned(ctx, c.ID)
			if err != nil {
				return err
			}
			scopes = append(scopes, cannedScope(old))
		}
		if err := s.store.PutCanned(ctx, c); err != nil {
			if errors.Is(err, ErrConflict) {
				return userErr(ErrConflict, "the shortcut %q is taken", c.Shortcut)
			}
			return err
		}
		scopes = append(scopes, cannedScope(c))
	case protocol.ActionDelete:
		if f.Canned == nil || f.Canned.ID == "" {
			return userErr(ErrInvalid, "canned.id is required")
		}
		old, err := ss.editableCanned(ctx, f.Canned.ID)
		if err != nil {
			return err
		}
		if err := s.store.DeleteCanned(ctx, old.ID); err != nil && !errors.Is(err, ErrNotFound) {
			return err
		}
		scopes = append(scopes, cannedScope(old))
	default:
		return userErr(ErrInvalid, "action must be list, save or delete")
	}
	list, err := s.cannedFrames(ctx, ss.op.ID)
	if err != nil {
		return err
	}
	ss.push(event{kind: evFrame, frame: &protocol.ServerFrame{Type: protocol.TypeCanned, ID: f.ID, Canned: list}})
	pushed := map[string]bool{}
	for _, scope := range scopes {
		if !pushed[scope] {
			pushed[scope] = true
			s.pushCanned(scope, ss.op.ID, list)
		}
	}
	return nil
}

// editableCanned returns the stored response id if the operator may change
// it: a team response or one of their own. Another operator's personal
// response is as forbidden as one that does not exist: operators cannot
// see those.
func (ss *session) editableCanned(ctx context.Context, id string) (*CannedResponse, error) {
	list, err := ss.s.store.CannedResponses(ctx, ss.op.ID)
	if err != nil {
		return nil, err
	}
	for _, c := range list {
		if c.ID == id {
			return c, nil
		}
	}
	return nil, userErr(ErrForbidden, "canned response %q is not the team's or yours", id)
}

func cannedScope(c *CannedResponse) string {
	if c.OperatorID == "" {
		return cannedScopeTeam
	}
	return cannedScopePersonal
}

// pushCanned tells other sessions (on every node) about a change to one
// scope of the list, taken from list, operatorID's full list.
func (s *Server) pushCanned(scope, operatorID string, list []protocol.Canned) {
	var part []protocol.Canned
	for _, c := range list {
		if c.Personal == (scope == cannedScopePersonal) {
			part = append(part, c)
		}
	}
	topic := teamTopic
	if scope == cannedScopePersonal {
		topic = operatorTopic(operatorID)
	}
	s.sendFrame(topic, &protocol.ServerFrame{Type: protocol.TypeCanned, Status: scope, Canned: part})
}
