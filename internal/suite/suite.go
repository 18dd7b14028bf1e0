// Package suite runs the cases of the module's conformance suites
// (storetest, brokertest, routertest, notifytest) as subtests grouped by
// area, so every suite selects the same way:
// go test -run 'TestConformance/Area/Check'.
package suite

import (
	"strings"
	"testing"
)

// Run runs fn(t, i) for each case i as the subtest Check within the
// subtest Area, where names[i] is "Area/Check"; consecutive names that
// share an area form one group. Cases run one after another. If done is
// not nil, it runs in each area's subtest after its cases, with the
// checks that skipped.
func Run(t *testing.T, names []string, fn func(t *testing.T, i int), done func(t *testing.T, area string, skipped []string)) {
	t.Helper()
	for start := 0; start < len(names); {
		area, _, _ := strings.Cut(names[start], "/")
		end := start + 1
		for end < len(names) && strings.HasPrefix(names[end], area+"/") {
			end++
		}
		first := start
		t.Run(area, func(t *testing.T) {
			var skipped []string
			for i := first; i < end; i++ {
				_, check, _ := strings.Cut(names[i], "/")
				t.Run(check, func(t *testing.T) {
					defer func() {
						if t.Skipped() {
							skipped = append(skipped, check)
						}
					}()
					fn(t, i)
				})
			}
			if done != nil {
				done(t, area, skipped)
			}
		})
		start = end
	}
}
