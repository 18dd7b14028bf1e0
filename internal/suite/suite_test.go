package suite_test

import (
	"slices"
	"testing"

	"github.com/shopchat/chat/internal/suite"
)

// TestRunGroupsByArea: every case runs once, in order, under Area/Check,
// and done hears each area once with its skipped checks.
func TestRunGroupsByArea(t *testing.T) {
	names := []string{"A/one", "A/two", "B/one", "C/skips", "C/runs"}
	var ran, areas []string
	var skippedC []string
	suite.Run(t, names, func(t *testing.T, i int) {
		ran = append(ran, t.Name())
		if names[i] == "C/skips" {
			t.Skip("on purpose")
		}
	}, func(t *testing.T, area string, skipped []string) {
		areas = append(areas, area)
		if area == "C" {
			skippedC = skipped
		}
	})
	want := []string{
		"TestRunGroupsByArea/A/one", "TestRunGroupsByArea/A/two", "TestRunGroupsByArea/B/one",
		"TestRunGroupsByArea/C/skips", "TestRunGroupsByArea/C/runs",
	}
	if !slices.Equal(ran, want) {
		t.Errorf("ran %q, want %q", ran, want)
	}
	if !slices.Equal(areas, []string{"A", "B", "C"}) {
		t.Errorf("done heard %q", areas)
	}
	if !slices.Equal(skippedC, []string{"skips"}) {
		t.Errorf("C skipped %q", skippedC)
	}
}
