package config

import (
	"flag"
	"strings"
	"testing"
)

// TestUsageListsEveryFlag: --help is written from the flag definitions, and
// lists each defined flag exactly once, with a placeholder for every flag
// that takes a value; a flag added without its help line fails here.
func TestUsageListsEveryFlag(t *testing.T) {
	t.Parallel()
	fs := newFlagSet(&Config{}, new(string))
	listed := map[string]bool{}
	for _, h := range helpOrder {
		f := fs.Lookup(h.name)
		if f == nil {
			t.Errorf("--help lists --%s, which is not defined", h.name)
			continue
		}
		if listed[h.name] {
			t.Errorf("--help lists --%s twice", h.name)
		}
		listed[h.name] = true
		_, isSwitch := f.Value.(interface{ IsBoolFlag() bool })
		if isSwitch != (h.arg == "") {
			t.Errorf("--%s: placeholder %q for a flag that takes a value: %v", h.name, h.arg, !isSwitch)
		}
		if f.Usage == "" {
			t.Errorf("--%s has no usage text", h.name)
		}
	}
	fs.VisitAll(func(f *flag.Flag) {
		if !listed[f.Name] {
			t.Errorf("--%s is defined but --help does not list it", f.Name)
		}
	})
	var out strings.Builder
	Usage(&out)
	for _, line := range strings.Split(out.String(), "\n") {
		if len(line) > usageWidth {
			t.Errorf("help line longer than %d: %q", usageWidth, line)
		}
	}
	for _, h := range helpOrder {
		if !strings.Contains(out.String(), "  --"+h.name+" ") {
			t.Errorf("--help does not show --%s", h.name)
		}
	}
}
