package chat_test

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shopchat/chat"
	"github.com/shopchat/chat/store/memory"
)

// pageViewStore adds the optional PageViewVisitors capability to a memory
// store.
type pageViewStore struct {
	*memory.Store
	visitors []string
}

func (s pageViewStore) PageViewVisitors(context.Context, time.Time, time.Time) ([]string, error) {
	return s.visitors, nil
}

// reportFixture stores two days of known chats (times by the fake clock)
// and returns the server.
func reportFixture(t *testing.T) *testServer {
	t.Helper()
	clock := &fakeClock{now: day0.AddDate(0, 0, 3)}
	ts := newTestServer(t, func(c *chat.Config) {
		c.Now = clock.Now
		c.Store = pageViewStore{memory.New(), []string{"browser1", "browser2", "v1"}}
	})
	st, ctx := ts.Store, testCtx(t)
	at := func(hour, min int) time.Time { return time.Date(2026, 12, 1, hour, min, 0, 0, time.UTC) }
	s := time.Second
	if err := st.AddActivities(ctx, []chat.Activity{
		{Kind: chat.PresenceChanged, OperatorID: "alice", Text: "online", At: at(9, 0)},
		{Kind: chat.PresenceChanged, OperatorID: "bob", Text: "online", At: at(10, 0)},
		{Kind: chat.PresenceChanged, OperatorID: "bob", Text: "away", At: at(10, 30)},
		{Kind: chat.PresenceChanged, OperatorID: "alice", Text: "offline", At: at(11, 0)},
	}); err != nil {
		t.Fatal(err)
	}
	// First responses 10, 20, 30 (alice), 40 (bob), 100 (alice, day 2).
	c1 := seedChat(t, st, "v1", "alice", at(9, 10), 300*s, visitorSays(0), operatorSays(10*s), visitorSays(60*s), operatorSays(80*s))
	c2 := seedChat(t, st, "v2", "alice", at(9, 20), 900*s, visitorSays(0), operatorSays(20*s))
	c3 := seedChat(t, st, "v3", "alice", at(9, 30), 100*s, visitorSays(0), operatorSays(30*s))
	seedChat(t, st, "v4", "bob", at(10, 5), 0, visitorSays(5*s), operatorSays(45*s))
	seedChat(t, st, "v5", "", at(8, 0), 60*s, visitorSays(0)) // before anyone was online, never answered
	seedChat(t, st, "v6", "alice", at(9, 0).AddDate(0, 0, 1), 200*s, visitorSays(0), operatorSays(100*s))
	if err := st.AddActivities(ctx, []chat.Activity{
		{Kind: chat.Rated, ConversationID: c1.ID, OperatorID: "alice", Value: 5, At: at(12, 0)},
		{Kind: chat.Rated, ConversationID: c2.ID, OperatorID: "alice", Value: 2, At: at(12, 0)},
		{Kind: chat.Rated, ConversationID: c2.ID, OperatorID: "alice", Value: 4, At: at(12, 5)}, // replaces the 2
		{Kind: chat.Rated, ConversationID: c3.ID, OperatorID: "alice", Value: 2, At: at(12, 0)},
	}); err != nil {
		t.Fatal(err)
	}
	attributed := &chat.Order{ID: "o1", VisitorID: "v4", Total: 2500, Currency: "EUR", PlacedAt: at(11, 0),
		Attribution: chat.Attribution{Channel: chat.ChannelChat, OperatorID: "bob"}}
	if _, _, err := st.PutOrder(ctx, attributed); err != nil {
		t.Fatal(err)
	}
	return ts
}

var reportRange = chat.ReportQuery{From: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC), To: time.Date(2026, 12, 3, 0, 0, 0, 0, time.UTC)}

func TestReportFigures(t *testing.T) {
	ts := reportFixture(t)
	rep, err := ts.Chat.Report(testCtx(t), reportRange)
	if err != nil {
		t.Fatal(err)
	}
	team := chat.ReportRow{
		Conversations: 6, Missed: 1, Offline: 2,
		FirstResponseMedian: 30, FirstResponseP90: 100, // nearest rank of 10 20 30 40 100
		ResponseMedian: 20, ResponseP90: 100, // 10 20 20 30 40 100
		DurationMedian: 200,  // 60 100 200 300 900
		MaxConcurrent:  2,    // c2 and c3
		OnlineSeconds:  9000, // alice 2h, bob 30min
		Orders:         1, Revenue: 2500,
		Ratings: 3, RatingAverage: 3.67, CSAT: 0.67, // 5, 4, 2
	}
	if rep.Team != team {
		t.Errorf("team:\n got %+v\nwant %+v", rep.Team, team)
	}
	alice := operatorRow(t, rep, "alice")
	if alice.Conversations != 4 || alice.FirstResponseMedian != 20 || alice.FirstResponseP90 != 100 || alice.MaxConcurrent != 2 ||
		alice.OnlineSeconds != 7200 || alice.Ratings != 3 || alice.Orders != 0 || alice.Name != "Alice" || alice.Avatar == "" {
		t.Errorf("alice: %+v", alice)
	}
	bob := operatorRow(t, rep, "bob")
	if bob.Conversations != 1 || bob.FirstResponseMedian != 40 || bob.OnlineSeconds != 1800 || bob.Orders != 1 || bob.Revenue != 2500 || bob.Missed != 0 {
		t.Errorf("bob: %+v", bob)
	}
	if len(rep.Periods) != 2 || rep.Periods[0].Conversations != 5 || rep.Periods[0].OnlineSeconds != 9000 ||
		rep.Periods[1].Conversations != 1 || rep.Periods[1].Offline != 1 || rep.Periods[1].FirstResponseMedian != 100 ||
		!rep.Periods[1].Start.Equal(reportRange.From.AddDate(0, 0, 1)) {
		t.Errorf("periods: %+v", rep.Periods)
	}
	// v1..v6 chatted, one order; browser1 and browser2 only viewed pages.
	want := chat.Conversion{VisitorsChatted: 6, OrdersChatted: 1, RateChatted: 0.1667, VisitorsNotChatted: 2}
	if rep.Conversion != want {
		t.Errorf("conversion: %+v, want %+v", rep.Conversion, want)
	}
	week, err := ts.Chat.Report(testCtx(t), chat.ReportQuery{From: reportRange.From, To: reportRange.To, Period: "week"})
	if err != nil || len(week.Periods) != 1 || week.Periods[0].Conversations != 6 {
		t.Errorf("weekly: %+v, %v", week, err)
	}
	for _, bad := range []chat.ReportQuery{{}, {From: reportRange.To, To: reportRange.From}, {From: reportRange.From, To: reportRange.To, Period: "month"}} {
		if _, err := ts.Chat.Report(testCtx(t), bad); !isInvalid(err) {
			t.Errorf("Report(%+v): %v, want ErrInvalid", bad, err)
		}
	}
}

func TestReportHTTP(t *testing.T) {
	ts := reportFixture(t)
	get := func(query string, op string) *http.Response {
		t.Helper()
		req, _ := http.NewRequestWithContext(testCtx(t), "GET", ts.URL+"/chat/reports"+query, nil)
		if op != "" {
			req.Header.Set("X-Operator", op)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { resp.Body.Close() })
		return resp
	}
	if resp := get("?from=2026-12-01&to=2026-12-02", ""); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("no operator: %s, want 401", resp.Status)
	}
	for _, bad := range []string{"?from=2026-13-01", "?from=yesterday", "?from=2026-12-02&to=2026-12-01", "?period=month", "?format=xml", "?from=2020-01-01&to=2026-12-01"} {
		if resp := get(bad, "alice"); resp.StatusCode != http.StatusBadRequest {
			t.Errorf("%s: %s, want 400", bad, resp.Status)
		}
	}

	resp := get("?from=2026-12-01&to=2026-12-02", "alice")
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("json: %s %s", resp.Status, resp.Header.Get("Content-Type"))
	}
	var raw struct {
		From       time.Time                  `json:"from"`
		Team       map[string]float64         `json:"team"`
		Operators  []map[string]any           `json:"operators"`
		Periods    []map[string]any           `json:"periods"`
		Triggers   []map[string]any           `json:"triggers"`
		Conversion map[string]json.RawMessage `json:"conversion"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&raw); err != nil {
		t.Fatal(err)
	}
	if !raw.From.Equal(reportRange.From) || raw.Team["first_response_median"] != 30 || raw.Team["csat"] != 0.67 || raw.Team["online_seconds"] != 9000 {
		t.Errorf("json team: %+v", raw.Team)
	}
	if len(raw.Operators) != 2 || raw.Operators[0]["id"] != "alice" || raw.Operators[0]["name"] != "Alice" || raw.Operators[0]["conversations"] != 4.0 {
		t.Errorf("json operators (row fields inline): %+v", raw.Operators)
	}
	if len(raw.Periods) != 2 || raw.Periods[0]["start"] != "2026-12-01T00:00:00Z" || raw.Periods[0]["max_concurrent"] != 2.0 {
		t.Errorf("json periods: %+v", raw.Periods)
	}
	for _, k := range []string{"visitors_chatted", "orders_chatted", "rate_chatted", "visitors_not_chatted", "orders_not_chatted", "rate_not_chatted"} {
		if _, ok := raw.Conversion[k]; !ok {
			t.Errorf("json conversion lacks %q: %s", k, raw.Conversion)
		}
	}

	resp = get("?from=2026-12-01&to=2026-12-02&format=csv", "bob")
	rows, err := csv.NewReader(resp.Body).ReadAll()
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("csv: %s %v", resp.Status, err)
	}
	if len(rows) != 4 || rows[0][0] != "operator" || rows[0][2] != "conversations" || rows[1][0] != "alice" || rows[1][2] != "4" || rows[2][0] != "bob" || rows[3][1] != "team" || rows[3][2] != "6" {
		t.Errorf("csv rows: %q", rows)
	}
}

func isInvalid(err error) bool { return errors.Is(err, chat.ErrInvalid) }

func TestPresenceChangesRecordedForOnlineTime(t *testing.T) {
	ts := newTestServer(t)
	ctx := testCtx(t)
	changes := func() string {
		as, err := ts.Store.Activities(ctx, chat.ActivityQuery{Kinds: []chat.ActivityKind{chat.PresenceChanged}, OperatorID: "carol"})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, a := range as {
			got = append(got, a.Text)
		}
		return strings.Join(got, ",")
	}
	tab1 := ts.operator(t, "carol", nil)
	tab2 := ts.operator(t, "carol", nil) // a second tab changes nothing
	if err := tab1.SetPresence(ctx, "away"); err != nil {
		t.Fatal(err)
	}
	if got := changes(); got != "online,away" {
		t.Fatalf("presence changes = %q; want online,away", got)
	}
	// Offline is recorded when the last tab has gone, after the socket
	// closes on the server's side: poll for it.
	tab1.Close()
	tab2.Close()
	for deadline := time.Now().Add(10 * time.Second); changes() != "online,away,offline"; {
		if time.Now().After(deadline) {
			t.Fatalf("presence changes = %q; want online,away,offline", changes())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// An operator's invitation opens its conversation with an operator message
// before the visitor writes: that is no answer, so a chat nobody answered
// after it is missed and has no first response.
func TestReportInvitationIsNoAnswer(t *testing.T) {
	clock := &fakeClock{now: day0.AddDate(0, 0, 3)}
	ts := newTestServer(t, func(c *chat.Config) { c.Now = clock.Now })
	seedChat(t, ts.Store, "invited", "alice", day0, time.Hour, operatorSays(0), visitorSays(10*time.Second))
	rep, err := ts.Chat.Report(testCtx(t), reportRange)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Team.Conversations != 1 || rep.Team.Missed != 1 || rep.Team.FirstResponseMedian != 0 {
		t.Errorf("team: %+v; want 1 conversation, missed, without a first response", rep.Team)
	}
}

// Operator names are the shop's text: in the CSV export a cell that a
// spreadsheet would run as a formula is prefixed with a quote.
func TestReportCSVNoFormulas(t *testing.T) {
	ts := newTestServer(t)
	evil := &chat.Operator{ID: "@evil", Name: `=HYPERLINK("https://evil.example/","x")`}
	if err := ts.Store.PutOperator(testCtx(t), evil); err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequestWithContext(testCtx(t), "GET", ts.URL+"/chat/reports?format=csv", nil)
	req.Header.Set("X-Operator", "alice")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	rows, err := csv.NewReader(resp.Body).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	for _, row := range rows {
		if strings.Contains(row[1], "HYPERLINK") && (row[0] != "'"+evil.ID || row[1] != "'"+evil.Name) {
			t.Errorf("csv row %q: want the id and name quoted", row)
		}
	}
	if !slices.ContainsFunc(rows, func(r []string) bool { return r[0] == "'"+evil.ID }) {
		t.Errorf("csv has no row for %s: %q", evil.ID, rows)
	}
}

// An operator whose node dies writes no "offline": the presence sweep
// records it when their presence expires, so online time ends there.
func TestExpiredPresenceEndsOnlineTime(t *testing.T) {
	clock := &fakeClock{now: day0}
	ts := newTestServer(t, func(c *chat.Config) { c.Now = clock.Now })
	ctx := testCtx(t)
	if err := ts.Store.PutOperator(ctx, testTeam["carol"]); err != nil {
		t.Fatal(err)
	}
	// Carol's node said "online" and then died: no heartbeat renews it.
	if err := ts.Store.SetPresence(ctx, "carol", chat.Online, clock.Now().Add(30*time.Second)); err != nil {
		t.Fatal(err)
	}
	if err := ts.Store.AddActivities(ctx, []chat.Activity{{Kind: chat.PresenceChanged, OperatorID: "carol", Text: "online", At: clock.Now()}}); err != nil {
		t.Fatal(err)
	}
	sweep := chat.PresenceSweeper(ts.Chat)
	sweep() // sees her online
	clock.Advance(time.Minute)
	sweep() // sees the presence expired
	clock.Advance(time.Hour)
	sweep() // nothing new
	r, err := ts.Chat.Report(ctx, chat.ReportQuery{From: day0.Add(-time.Hour), To: day0.Add(2 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	var online float64
	for _, op := range r.Operators {
		if op.ID == "carol" {
			online = op.OnlineSeconds
		}
	}
	if online != 60 {
		t.Fatalf("carol's online time = %vs; want 60 (online until the sweep saw her presence expire)", online)
	}
}

func TestReportMoneyInMajorUnits(t *testing.T) {
	for _, tc := range []struct {
		minor    int64
		currency string
		want     string
	}{{1250, "EUR", "12.50"}, {5, "USD", "0.05"}, {0, "", "0.00"}, {-199, "EUR", "-1.99"}, {1250, "JPY", "1250"}} {
		if got := chat.MajorUnits(tc.minor, tc.currency); got != tc.want {
			t.Errorf("%d %s: %q, want %q", tc.minor, tc.currency, got, tc.want)
		}
	}
}
