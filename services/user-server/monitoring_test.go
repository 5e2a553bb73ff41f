package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	userv1 "github.com/acme/user-service/gen/go/user/v1"
)

// monitoringFiles are the Grafana dashboard and Prometheus rules shipped
// for this server's metrics.
var monitoringFiles = []string{
	"../../monitoring/grafana/user-server.json",
	"../../monitoring/prometheus/alerts.yml",
}

// metricName finds the server's metric names in a query.
var metricName = regexp.MustCompile(`\b(?:grpc_server|user_server|process|go)_[a-z_]+\b`)

// family is the metric family a series name belongs to.
func family(name string, families map[string]bool) string {
	if families[name] {
		return name
	}
	for _, suffix := range []string{"_bucket", "_count", "_sum"} {
		if f, ok := strings.CutSuffix(name, suffix); ok && families[f] {
			return f
		}
	}
	return ""
}

// TestMonitoringMetricsExist: every metric the shipped dashboard and
// alerting rules query is served by a real server's /metrics, so neither
// can silently show nothing (as dashboards built on other exporters'
// names would).
func TestMonitoringMetricsExist(t *testing.T) {
	t.Parallel()
	addr, lines, _, _ := startTelemetryRun(t, nil, "--metrics-listen", "127.0.0.1:0")
	url := metricsURL(t, lines)
	// One call of each outcome the queries select on, so that every
	// labelled series exists.
	client := userv1.NewUserServiceClient(dial(t, addr, nil))
	if _, err := client.GetUserDetails(t.Context(), &userv1.GetUserDetailsRequest{UserId: "john123", AuthToken: "valid-token"}); err != nil {
		t.Fatal(err)
	}
	_, _ = client.GetUserDetails(t.Context(), &userv1.GetUserDetailsRequest{UserId: "john123", AuthToken: "wrong-token"})
	_, _ = client.GetUserDetails(t.Context(), &userv1.GetUserDetailsRequest{UserId: "bad id!", AuthToken: "valid-token"})
	served := map[string]bool{}
	for name := range scrape(t, url) {
		served[name] = true
	}

	for _, path := range monitoringFiles {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if filepath.Ext(path) == ".json" {
			var dashboard struct {
				Panels []struct{ Title string } `json:"panels"`
			}
			if err := json.Unmarshal(data, &dashboard); err != nil || len(dashboard.Panels) == 0 {
				t.Errorf("%s: not a dashboard with panels: %v", path, err)
			}
		}
		names := map[string]bool{}
		for _, n := range metricName.FindAllString(string(data), -1) {
			names[n] = true
		}
		// The check below must have something to check.
		if len(names) < 4 {
			t.Fatalf("%s: found only %d metric names: %v", path, len(names), names)
		}
		for n := range names {
			if family(n, served) == "" {
				t.Errorf("%s queries %s, which /metrics does not serve", path, n)
			}
		}
	}
	// The check fails for a name the server does not serve, such as
	// go-grpc-middleware's.
	if family("grpc_server_handled_total", served) != "" {
		t.Error("grpc_server_handled_total is served: the check above proves nothing")
	}
}
