package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/http2"
)

// watchCancelled is the number of health Watch calls /metrics counts as
// ended CANCELLED.
func watchCancelled(t *testing.T, url string) float64 {
	t.Helper()
	for _, m := range scrape(t, url)["grpc_server_call_duration_seconds"].GetMetric() {
		labels := map[string]string{}
		for _, l := range m.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		if labels["grpc_method"] == "grpc.health.v1.Health/Watch" && labels["grpc_status"] == "CANCELLED" {
			return float64(m.GetHistogram().GetSampleCount())
		}
	}
	return 0
}

// TestRunRapidResetLogBounded: a client that opens streams and resets each
// at once (rapid reset) has every cancellation counted in the metrics, but
// its access lines are sampled (logging.DefaultSampler: bursts of 100,
// then 10 a second) with the number left out, so it cannot fill a disk.
func TestRunRapidResetLogBounded(t *testing.T) {
	t.Parallel()
	logFile := filepath.Join(t.TempDir(), "server.log")
	addr, lines, _, _ := startTelemetryRun(t, nil, "--metrics-listen", "127.0.0.1:0", "--log-file", logFile)
	url := metricsURL(t, lines)
	start := time.Now()
	const resets = 2000
	h := dialH2(t, addr)
	for range resets {
		id := h.openStream(h.grpcHeaders("/grpc.health.v1.Health/Watch"))
		h.write(func() error { return h.fr.WriteData(id, true, []byte{0, 0, 0, 0, 0}) })
		h.write(func() error { return h.fr.WriteRSTStream(id, http2.ErrCodeCancel) })
	}
	for deadline := time.Now().Add(waitFor); watchCancelled(t, url) < resets; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("metrics count %v cancelled Watch calls, want %d", watchCancelled(t, url), resets)
		}
	}
	elapsed := time.Since(start)
	// The log is flushed every 100 ms.
	var logs string
	for deadline := time.Now().Add(waitFor); ; time.Sleep(50 * time.Millisecond) {
		b, err := os.ReadFile(logFile)
		if err != nil {
			t.Fatal(err)
		}
		if logs = string(b); strings.Contains(logs, "code=Canceled") || time.Now().After(deadline) {
			break
		}
	}
	got := strings.Count(logs, "code=Canceled")
	// What the sampler can let through in the time the flood took, plus
	// one second's worth of slack.
	bound := 100 + 10*int(elapsed.Seconds()+1) + 10
	t.Logf("%d resets in %v: %d access lines", resets, elapsed, got)
	if got == 0 || got > bound {
		t.Errorf("%d access lines for %d resets in %v, want 1 to %d", got, resets, elapsed, bound)
	}
	if strings.Contains(logs, "level=WARN msg=rpc method=/grpc.health.v1.Health/Watch code=Canceled") {
		t.Error("a cancellation by the client logged at WARN")
	}
}
