package chat_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// Every metric a package reports is listed in its doc.go, and every metric
// doc.go lists is reported: a metric is the literal name passed to a
// counter, gauge or observation call (add, set, observeSince, observe, Add, Set,
// Observe) or a constant named metric*.
func TestMetricNamesDocumented(t *testing.T) {
	calls := map[string]bool{"add": true, "set": true, "observeSince": true, "observe": true, "Add": true, "Set": true, "Observe": true}
	nameRE := regexp.MustCompile(`^[a-z]+(_[a-z]+)+$`)
	docRE := regexp.MustCompile(`\b[a-z]+(?:_[a-z]+)*_(?:total|seconds)\b`)
	for _, dir := range []string{".", "notify/email", "notify/webhook"} {
		fset := token.NewFileSet()
		pkgs, err := parser.ParseDir(fset, dir, func(fi os.FileInfo) bool { return !strings.HasSuffix(fi.Name(), "_test.go") }, 0)
		if err != nil {
			t.Fatal(err)
		}
		used := map[string]bool{}
		for _, pkg := range pkgs {
			for _, f := range pkg.Files {
				ast.Inspect(f, func(n ast.Node) bool {
					var lit ast.Expr
					switch n := n.(type) {
					case *ast.CallExpr:
						if sel, ok := n.Fun.(*ast.SelectorExpr); ok && calls[sel.Sel.Name] && len(n.Args) > 0 {
							lit = n.Args[0]
						}
					case *ast.ValueSpec:
						if len(n.Names) == 1 && strings.HasPrefix(n.Names[0].Name, "metric") && len(n.Values) == 1 {
							lit = n.Values[0]
						}
					}
					if bl, ok := lit.(*ast.BasicLit); ok && bl.Kind == token.STRING {
						if s, err := strconv.Unquote(bl.Value); err == nil && nameRE.MatchString(s) {
							used[s] = true
						}
					}
					return true
				})
			}
		}
		if len(used) == 0 {
			t.Fatalf("%s: found no metric names: the test no longer sees how the package reports them", dir)
		}
		doc, err := os.ReadFile(filepath.Join(dir, "doc.go"))
		if err != nil {
			t.Fatal(err)
		}
		listed := map[string]bool{}
		for _, name := range regexp.MustCompile(`[a-z_]+`).FindAllString(string(doc), -1) {
			listed[name] = true
		}
		for name := range used {
			if !listed[name] {
				t.Errorf("%s reports %s, which its doc.go does not list", dir, name)
			}
		}
		for _, name := range docRE.FindAllString(string(doc), -1) {
			if !used[name] {
				t.Errorf("%s/doc.go lists %s, which the package does not report", dir, name)
			}
		}
		t.Logf("%s: %d metrics", dir, len(used))
	}
}
