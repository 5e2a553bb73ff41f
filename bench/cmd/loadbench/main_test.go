package main

import (
	"slices"
	"testing"
)

func TestVariants(t *testing.T) {
	t.Parallel()
	var v variants
	for _, s := range []string{"metrics=--metrics-listen 127.0.0.1:0", "before@/tmp/old/user-server=", "warn=--log-level warn"} {
		if err := v.Set(s); err != nil {
			t.Fatalf("Set(%q): %v", s, err)
		}
	}
	want := []config{
		{name: "metrics", full: true, args: []string{"--metrics-listen", "127.0.0.1:0"}},
		{name: "before", full: true, args: []string{}, binary: "/tmp/old/user-server"},
		{name: "warn", full: true, args: []string{"--log-level", "warn"}},
	}
	if len(v) != len(want) {
		t.Fatalf("got %d variants, want %d", len(v), len(want))
	}
	for i := range want {
		if v[i].name != want[i].name || v[i].binary != want[i].binary || !slices.Equal(v[i].args, want[i].args) || !v[i].full {
			t.Errorf("variant %d = %+v, want %+v", i, v[i], want[i])
		}
	}
	// Access lines are counted only where every OK RPC is logged.
	if !v[0].countsLines() || !v[1].countsLines() || v[2].countsLines() {
		t.Error("countsLines wrong")
	}
	for _, bad := range []string{"noflags", "=--x", "a,b=--x"} {
		if err := v.Set(bad); err == nil {
			t.Errorf("Set(%q) accepted", bad)
		}
	}
}
