package chat_test

import (
	"compress/gzip"
	"io"
	"io/fs"
	"net/http"
	"path"
	"regexp"
	"strings"
	"testing"

	"github.com/shopchat/chat"
	"github.com/shopchat/chat/web"
)

// The widget's script and stylesheet must stay within 30 KB gzipped.
func TestWidgetSizeBudget(t *testing.T) {
	ts := newTestServer(t)
	raw, gz := ts.Chat.WidgetSize()
	t.Logf("widget.js with widget.css: %d bytes, %d bytes gzipped (budget 30720)", raw, gz)
	if gz > 30*1024 {
		t.Fatalf("widget is %d bytes gzipped, over the 30 KB budget", gz)
	}
}

func TestWidgetIsServedWithItsStylesheet(t *testing.T) {
	ts := newTestServer(t)
	req, _ := http.NewRequest("GET", ts.URL+"/chat/widget.js", nil)
	req.Header.Set("Accept-Encoding", "gzip")
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Encoding") != "gzip" || !strings.Contains(resp.Header.Get("Content-Type"), "javascript") {
		t.Fatalf("widget.js: %s %v", resp.Status, resp.Header)
	}
	zr, err := gzip.NewReader(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(zr)
	if strings.Contains(string(body), "__SHOPCHAT_CSS__") {
		t.Fatal("the stylesheet was not inlined into the widget")
	}
	// Conditional requests get 304.
	req2, _ := http.NewRequest("GET", ts.URL+"/chat/widget.js", nil)
	req2.Header.Set("If-None-Match", resp.Header.Get("ETag"))
	resp2, err := http.DefaultClient.Do(req2)
	if err != nil {
		t.Fatal(err)
	}
	resp2.Body.Close()
	if resp2.StatusCode != http.StatusNotModified {
		t.Fatalf("conditional GET: %s", resp2.Status)
	}
}

func TestConsoleNeedsOperatorLogin(t *testing.T) {
	ts := newTestServer(t)
	resp, err := http.Get(ts.URL + "/chat/console/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("console without login: %s", resp.Status)
	}
	req, _ := http.NewRequest("GET", ts.URL+"/chat/console/", nil)
	req.Header.Set("X-Operator", "alice")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), "console.js") || resp.Header.Get("Content-Security-Policy") == "" {
		t.Fatalf("console for an operator: %s %q", resp.Status, body)
	}
	// With a login URL, the console redirects there.
	ts2 := newTestServer(t, func(c *chat.Config) { c.ConsoleLoginURL = "/login" })
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err = noRedirect.Get(ts2.URL + "/chat/console/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/login?next=%2Fchat%2Fconsole%2F" {
		t.Fatalf("console redirect: %s %s", resp.Status, resp.Header.Get("Location"))
	}
}

func TestWidgetConfigIsValidated(t *testing.T) {
	for name, w := range map[string]chat.WidgetConfig{
		"colour":      {BrandColor: "red; background:url(x)"},
		"position":    {Position: "top"},
		"locale":      {Locale: "fr"},
		"translation": {Translations: map[string]chat.WidgetText{"fr": {Greeting: "Bonjour"}}},
		"photo":       {TeamPhotos: []string{"javascript:alert(1)"}},
		"field":       {PreChat: []chat.FormField{{Name: "x"}}},
		"select":      {PreChat: []chat.FormField{{Name: "d", Label: "D", Type: "select"}}},
	} {
		_, err := chat.New(chat.Config{Store: newTestServer(t).Store, Secret: testSecret, Operators: testOperators, Widget: w})
		if err == nil {
			t.Errorf("%s: New accepted %+v", name, w)
		}
	}
}

// The console is ES modules with no build step: index.html loads the entry
// as a module script, every module another imports is served to operators
// with a JavaScript type (browsers refuse a module of any other), and every
// module is reached from the entry (a file nobody imports is dead code).
func TestConsoleModulesResolve(t *testing.T) {
	ts := newTestServer(t)
	get := func(file string) (*http.Response, string) {
		t.Helper()
		req, _ := http.NewRequest("GET", ts.URL+"/chat/console/"+file, nil)
		req.Header.Set("X-Operator", "alice")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp, string(body)
	}
	if _, index := get(""); !strings.Contains(index, `<script type="module" src="console.js"></script>`) {
		t.Fatal(`index.html does not load console.js as a module script`)
	}
	importRE := regexp.MustCompile(`(?m)^import (?:\{[^}]*\} from )?'\./([\w-]+\.js)';$`)
	files, err := fs.Glob(web.FS, "console/*.js")
	if err != nil || len(files) < 2 {
		t.Fatalf("console modules: %v %v", files, err)
	}
	reached := map[string]bool{}
	queue := []string{"console.js"}
	for len(queue) > 0 {
		file := queue[0]
		queue = queue[1:]
		if reached[file] {
			continue
		}
		reached[file] = true
		resp, body := get(file)
		if resp.StatusCode != 200 || !strings.Contains(resp.Header.Get("Content-Type"), "javascript") || resp.Header.Get("Content-Security-Policy") == "" {
			t.Fatalf("%s: %s, Content-Type %q, CSP %q", file, resp.Status, resp.Header.Get("Content-Type"), resp.Header.Get("Content-Security-Policy"))
		}
		for _, m := range importRE.FindAllStringSubmatch(body, -1) {
			queue = append(queue, m[1])
		}
	}
	for _, f := range files {
		if !reached[path.Base(f)] {
			t.Errorf("%s is not imported by any console module", f)
		}
	}
}
