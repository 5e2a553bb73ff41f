package listen

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"testing"
)

func TestLoopback(t *testing.T) {
	t.Parallel()
	hosts := map[string][]string{
		"localhost":    {"127.0.0.1", "::1"},
		"v6only":       {"::1"},
		"mapped":       {"::ffff:127.0.0.2"},
		"hijacked":     {"10.1.2.3"},
		"half":         {"::1", "192.0.2.7"},
		"empty-answer": {},
	}
	lookup := func(_ context.Context, network, host string) ([]netip.Addr, error) {
		if network != "ip" {
			t.Errorf("lookup network = %q", network)
		}
		ss, ok := hosts[host]
		if !ok {
			return nil, errors.New("no such host")
		}
		var out []netip.Addr
		for _, s := range ss {
			out = append(out, netip.MustParseAddr(s))
		}
		return out, nil
	}
	tests := []struct {
		in, want, wantErr string
	}{
		{in: "127.0.0.1:50051", want: "127.0.0.1:50051"},
		{in: "[::1]:0", want: "[::1]:0"},
		{in: "localhost:80", want: "127.0.0.1:80"},
		{in: "v6only:80", want: "[::1]:80"},
		{in: "mapped:80", want: "127.0.0.2:80"},
		{in: "hijacked:80", wantErr: "hijacked resolves to 10.1.2.3, not a loopback address"},
		{in: "half:80", wantErr: "half resolves to 192.0.2.7"},
		{in: "empty-answer:80", wantErr: "resolves to no address"},
		{in: "unknown:80", wantErr: "resolving unknown: no such host"},
		{in: "0.0.0.0:0", wantErr: "0.0.0.0 is not a loopback address"},
		{in: "[::]:0", wantErr: ":: is not a loopback address"},
		{in: ":0", wantErr: "every interface"},
		{in: "127.0.0.1", wantErr: "missing port"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			got, err := Loopback(t.Context(), tt.in, lookup)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Loopback(%q) = %q, %v; want error containing %q", tt.in, got, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("Loopback(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
			}
		})
	}
}
