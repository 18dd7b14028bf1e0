package chat

import (
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// serveReports serves GET {Path}reports to operators: from and to
// (YYYY-MM-DD, inclusive days in the server clock's location; default the
// last 7 days), period (day or week) and format (json or csv).
func (s *Server) serveReports(w http.ResponseWriter, r *http.Request) {
	if op, err := s.cfg.Operators(r); err != nil || op == nil || op.ID == "" {
		http.Error(w, "operator login required", http.StatusUnauthorized)
		return
	}
	q, format, err := s.parseReportQuery(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	rep, err := s.Report(r.Context(), q)
	if errors.Is(err, ErrInvalid) {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if err != nil {
		s.logErr("report", err)
		http.Error(w, "report unavailable; try again", http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	if format == "csv" {
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="chat-report-%s.csv"`, q.From.Format("2006-01-02")))
		if err := rep.writeCSV(w); err != nil {
			s.logErr("report csv", err)
		}
		return
	}
	w.Header().Set("Content-Type", "application/json")
	if err := json.NewEncoder(w).Encode(rep); err != nil {
		s.logErr("report json", err)
	}
}

func (s *Server) parseReportQuery(r *http.Request) (ReportQuery, string, error) {
	v := r.URL.Query()
	loc := s.now().Location()
	y, m, d := s.now().Date()
	today := time.Date(y, m, d, 0, 0, 0, 0, loc)
	day := func(name string, def time.Time) (time.Time, error) {
		s := v.Get(name)
		if s == "" {
			return def, nil
		}
		t, err := time.ParseInLocation("2006-01-02", s, loc)
		if err != nil {
			return time.Time{}, fmt.Errorf("%s=%q: want a date like 2026-12-01", name, s)
		}
		return t, nil
	}
	to, err := day("to", today)
	if err != nil {
		return ReportQuery{}, "", err
	}
	from, err := day("from", to.AddDate(0, 0, -6))
	if err != nil {
		return ReportQuery{}, "", err
	}
	if to.Before(from) {
		return ReportQuery{}, "", fmt.Errorf("from=%s is after to=%s", from.Format("2006-01-02"), to.Format("2006-01-02"))
	}
	format := v.Get("format")
	switch format {
	case "":
		format = "json"
	case "json", "csv":
	default:
		return ReportQuery{}, "", fmt.Errorf("format=%q: want json or csv", format)
	}
	period := v.Get("period")
	if period != "" && period != "day" && period != "week" {
		return ReportQuery{}, "", fmt.Errorf("period=%q: want day or week", period)
	}
	return ReportQuery{From: from, To: to.AddDate(0, 0, 1), Period: period}, format, nil
}

// writeCSV writes one row per operator and one for the team. Durations are
// in seconds; revenue is in the currency's major units (12.50), with the
// currency in its own column, as a spreadsheet wants them.
func (rep *Report) writeCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	header := []string{"operator", "name", "conversations", "missed", "offline",
		"first_response_median", "first_response_p90", "response_median", "response_p90",
		"duration_median", "max_concurrent", "online_seconds", "orders", "revenue", "currency",
		"ratings", "rating_average", "csat"}
	if err := cw.Write(header); err != nil {
		return err
	}
	line := func(id, name string, row ReportRow) []string {
		f := func(x float64) string { return strconv.FormatFloat(x, 'f', -1, 64) }
		return []string{csvText(id), csvText(name), strconv.Itoa(row.Conversations), strconv.Itoa(row.Missed), strconv.Itoa(row.Offline),
			f(row.FirstResponseMedian), f(row.FirstResponseP90), f(row.ResponseMedian), f(row.ResponseP90),
			f(row.DurationMedian), strconv.Itoa(row.MaxConcurrent), f(row.OnlineSeconds), strconv.Itoa(row.Orders),
			majorUnits(row.Revenue, rep.Currency), rep.Currency, strconv.Itoa(row.Ratings), f(row.RatingAverage), f(row.CSAT)}
	}
	for _, op := range rep.Operators {
		if err := cw.Write(line(op.ID, op.Name, op.ReportRow)); err != nil {
			return err
		}
	}
	if err := cw.Write(line("", "team", rep.Team)); err != nil {
		return err
	}
	cw.Flush()
	return cw.Error()
}

// zeroDecimal are the ISO 4217 currencies without minor units.
var zeroDecimal = map[string]bool{"BIF": true, "CLP": true, "DJF": true, "GNF": true, "ISK": true, "JPY": true, "KMF": true,
	"KRW": true, "PYG": true, "RWF": true, "UGX": true, "UYI": true, "VND": true, "VUV": true, "XAF": true, "XOF": true, "XPF": true}

// majorUnits writes an amount in minor units in major ones: 1250 EUR is
// "12.50", 1250 JPY "1250".
func majorUnits(minor int64, currency string) string {
	if zeroDecimal[currency] {
		return strconv.FormatInt(minor, 10)
	}
	sign := ""
	if minor < 0 {
		sign, minor = "-", -minor
	}
	return fmt.Sprintf("%s%d.%02d", sign, minor/100, minor%100)
}

// csvText keeps a cell from being read as a formula by spreadsheets, which
// would run text the shop's operators typed (names) as code.
func csvText(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}
