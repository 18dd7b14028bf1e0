package chat

import (
	"context"
	"fmt"
	"net/url"
	"regexp"
	"slices"

	"github.com/shopchat/chat/protocol"
)

// WidgetConfig sets the visitor widget's look and behaviour from Go, so it
// fits the shop without CSS work. Every field is optional.
type WidgetConfig struct {
	// BrandColor colours the launcher, header and the visitor's messages:
	// "#rgb" or "#rrggbb". Default "#2563eb".
	BrandColor string `json:"brand_color"`
	// Position is the corner: "right" (default) or "left".
	Position string `json:"position"`
	// Greeting is shown above an empty conversation. Default: a localised
	// "Hi! How can we help?".
	Greeting string `json:"greeting,omitempty"`
	// TeamName titles the widget. Default: localised "Support".
	TeamName string `json:"team_name,omitempty"`
	// TeamPhotos are avatar URLs (http or https) shown in the header.
	TeamPhotos []string `json:"team_photos,omitempty"`
	// Locale picks the widget's language: "" (default) the first of the
	// visitor's browser languages (navigator.languages) that the widget
	// has, else the page's lang attribute, else English; "page" the page's
	// lang attribute (a shop that localises its pages); or one of "en",
	// "es", "ru", "de" for every visitor.
	Locale string `json:"locale,omitempty"`
	// OfflineText replaces the offline form's text. Default: a localised
	// "We're offline right now. Leave a message and we'll reply by email."
	OfflineText string `json:"offline,omitempty"`
	// PreChat, if set, is asked before the first message. Fields named
	// "name" and "email" fill the visitor's profile, "department" routes the
	// conversation; the answers to others reach operators as a note.
	PreChat []FormField `json:"pre_chat,omitempty"`
	// Translations give the strings above in other languages, by language
	// ("es", "ru", "de", "en"): a visitor whose widget speaks that language
	// sees them instead. Anything left empty falls back to the field above.
	Translations map[string]WidgetText `json:"translations,omitempty"`
}

// WidgetText is the shop's own widget strings in one language.
type WidgetText struct {
	Greeting    string `json:"greeting,omitempty"`
	TeamName    string `json:"team_name,omitempty"`
	OfflineText string `json:"offline,omitempty"`
	// Labels translate pre-chat field labels, by field Name.
	Labels map[string]string `json:"labels,omitempty"`
	// Options translate select options (department names) as shown; the
	// value sent, and routed on, stays the option itself.
	Options map[string]string `json:"options,omitempty"`
}

// widgetLocales are the languages the widget has.
var widgetLocales = []string{"en", "es", "ru", "de"}

// FormField is one field of the pre-chat form.
type FormField struct {
	Name     string   `json:"name"`
	Label    string   `json:"label"`
	Type     string   `json:"type,omitempty"` // "text" (default), "email", "textarea" or "select"
	Required bool     `json:"required,omitempty"`
	Options  []string `json:"options,omitempty"` // for "select"
}

// VisitorInfoFunc returns what the shop knows about a visitor (their cart,
// past orders, segment labels) for the operator's side panel. It is called
// when an operator opens the visitor's details; v.CustomerID is set for
// logged-in customers.
type VisitorInfoFunc func(ctx context.Context, v *Visitor) (*VisitorInfo, error)

// VisitorInfo is the shop's data about a visitor.
type VisitorInfo struct {
	CartValue int64  // in minor units (cents)
	Currency  string // ISO 4217, e.g. "EUR"
	Labels    []string
	Sections  []InfoSection
}

// InfoSection is a titled table shown in the operator's side panel.
type InfoSection = protocol.InfoSection

// InfoRow is one row of an InfoSection. A URL must be http or https; others
// are dropped.
type InfoRow = protocol.InfoRow

var colorRE = regexp.MustCompile(`^#([0-9a-fA-F]{3}|[0-9a-fA-F]{6})$`)

// validateWidget checks w and fills its defaults.
func validateWidget(w *WidgetConfig) error {
	if w.BrandColor == "" {
		w.BrandColor = "#2563eb"
	}
	if !colorRE.MatchString(w.BrandColor) {
		return fmt.Errorf("chat: Widget.BrandColor %q: want #rgb or #rrggbb", w.BrandColor)
	}
	switch w.Position {
	case "":
		w.Position = "right"
	case "left", "right":
	default:
		return fmt.Errorf("chat: Widget.Position %q: want left or right", w.Position)
	}
	if w.Locale != "" && w.Locale != "page" && !slices.Contains(widgetLocales, w.Locale) {
		return fmt.Errorf("chat: Widget.Locale %q: want empty (the visitor's), page, en, es, ru or de", w.Locale)
	}
	for lang := range w.Translations {
		if !slices.Contains(widgetLocales, lang) {
			return fmt.Errorf("chat: Widget.Translations: language %q: want en, es, ru or de", lang)
		}
	}
	for _, p := range w.TeamPhotos {
		if !httpURL(p) {
			return fmt.Errorf("chat: Widget.TeamPhotos: %q is not an http(s) URL", p)
		}
	}
	seen := map[string]bool{}
	for _, f := range w.PreChat {
		if f.Name == "" || f.Label == "" {
			return fmt.Errorf("chat: Widget.PreChat: every field needs a Name and a Label")
		}
		if seen[f.Name] {
			return fmt.Errorf("chat: Widget.PreChat: field %q twice", f.Name)
		}
		seen[f.Name] = true
		switch f.Type {
		case "", "text", "email", "textarea":
		case "select":
			if len(f.Options) == 0 {
				return fmt.Errorf("chat: Widget.PreChat: select %q has no Options", f.Name)
			}
		default:
			return fmt.Errorf("chat: Widget.PreChat: field %q has unknown Type %q", f.Name, f.Type)
		}
	}
	return nil
}

func httpURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

// visitorDetails assembles the side panel for a visitor.
func (s *Server) visitorDetails(ctx context.Context, v *Visitor) *protocol.VisitorDetails {
	d := &protocol.VisitorDetails{
		ID: v.ID, Name: v.Name, Email: v.Email, EmailBounces: v.MailBounces(), CustomerID: v.CustomerID,
		FirstSeen: v.CreatedAt, LastSeen: v.LastSeenAt,
	}
	s.pageFrames(ctx, d)
	if s.cfg.VisitorInfo != nil {
		info, err := s.cfg.VisitorInfo(ctx, v)
		if err != nil {
			s.logErr("visitor info hook", err, "visitor", v.ID)
		} else if info != nil {
			d.CartValue, d.Currency, d.Labels = info.CartValue, info.Currency, info.Labels
			for _, sec := range info.Sections {
				clean := InfoSection{Title: sec.Title}
				for _, r := range sec.Rows {
					if r.URL != "" && !httpURL(r.URL) {
						r.URL = ""
					}
					clean.Rows = append(clean.Rows, r)
				}
				d.Sections = append(d.Sections, clean)
			}
		}
	}
	if s.cfg.CannedVariables != nil {
		d.Variables = cannedVariables(s.cfg.CannedVariables(ctx, v))
	}
	return d
}

// cannedVariables keeps the shop's variables that are short text with a
// plain name, at most 50 of them: they go into operators' messages.
func cannedVariables(vars map[string]string) map[string]string {
	out := make(map[string]string, min(len(vars), 50))
	for k, v := range vars {
		if len(out) == 50 {
			break
		}
		if variableRE.MatchString(k) && len(v) <= 1000 && validText(v) {
			out[k] = v
		}
	}
	return out
}

var emailRE = regexp.MustCompile(`^[^\s@<>(),;:"\[\]\\]+@[^\s@<>(),;:"\[\]\\]+\.[^\s@<>(),;:"\[\]\\]+$`)

// ValidEmail reports whether s looks like a deliverable address: one @, a
// dot in the domain, no spaces or characters that could break a header.
func ValidEmail(s string) bool { return len(s) <= 254 && emailRE.MatchString(s) }

func (ss *session) onProfile(ctx context.Context, f protocol.ClientFrame) error {
	s := ss.s
	if len(f.Name) > 100 || !validText(f.Name) {
		return userErr(ErrInvalid, "name is longer than 100 bytes or not text")
	}
	if f.Email != "" && !ValidEmail(f.Email) {
		return userErr(ErrInvalid, "email is not a valid address")
	}
	if len(f.Fields) > 20 {
		return userErr(ErrInvalid, "too many fields")
	}
	for k, v := range f.Fields {
		if len(k) > 64 || len(v) > 1000 || !validText(k) || !validText(v) {
			return userErr(ErrInvalid, "field %q is too long or not text", k)
		}
	}
	v, err := s.store.Visitor(ctx, ss.visitor.ID)
	if err != nil {
		return err
	}
	if f.Name != "" {
		v.Name = f.Name
	}
	if f.Email != "" {
		v.Email = f.Email
	}
	v.LastSeenAt = s.now()
	if err := s.store.UpdateVisitor(ctx, v); err != nil {
		return err
	}
	ss.visitor = v
	if len(f.Fields) > 0 {
		if c, err := s.store.OpenConversation(ctx, v.ID); err == nil {
			if _, err := s.append(ctx, &Message{ConversationID: c.ID, Kind: Note, Text: formatFields(f.Fields)}); err != nil {
				return err
			}
		}
	}
	return ss.ackIfAsked(f)
}

func formatFields(fields map[string]string) string {
	keys := make([]string, 0, len(fields))
	for k := range fields {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	text := "Pre-chat form:"
	for _, k := range keys {
		text += "\n" + k + ": " + fields[k]
	}
	return text
}

func (ss *session) onVisitorDetails(ctx context.Context, f protocol.ClientFrame) error {
	s := ss.s
	id := f.Visitor
	if id == "" {
		c, err := ss.conversationFor(ctx, f.Conv)
		if err != nil {
			return err
		}
		id = c.VisitorID
	}
	v, err := s.storedVisitor(ctx, id)
	if err != nil {
		return err
	}
	ss.push(event{kind: evFrame, frame: &protocol.ServerFrame{Type: protocol.TypeVisitor, ID: f.ID, Details: s.visitorDetails(ctx, v)}})
	return nil
}

// availability is whether any operator is online now.
func (s *Server) available(ctx context.Context) (bool, error) {
	loads, err := s.store.OperatorLoads(ctx, s.now())
	if err != nil {
		return false, err
	}
	if !s.cfg.BusinessHours.IsOpen(s.now()) {
		return false, nil
	}
	for _, l := range loads {
		if l.Presence == Online {
			return true, nil
		}
	}
	return false, nil
}

// publishAvailability tells every visitor session when availability
// changed since last told.
func (s *Server) publishAvailability(ctx context.Context) {
	avail, err := s.available(ctx)
	if err != nil {
		s.logErr("availability", err)
		return
	}
	s.mu.Lock()
	changed := !s.availKnown || s.lastAvail != avail
	s.availKnown, s.lastAvail = true, avail
	s.mu.Unlock()
	if changed {
		s.hub.publish(allVisitorsTopic, event{kind: evFrame, frame: &protocol.ServerFrame{Type: protocol.TypeAvailable, Available: avail}})
	}
}

const allVisitorsTopic = "visitors"
