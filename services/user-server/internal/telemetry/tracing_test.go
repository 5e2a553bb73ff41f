package telemetry

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// failingExporter fails every export.
type failingExporter struct{ sdktrace.SpanExporter }

func (failingExporter) ExportSpans(context.Context, []sdktrace.ReadOnlySpan) error {
	return errors.New("connection refused")
}

// A failed export is a WARN line in the server's log, not a line from
// OpenTelemetry's global handler; without a log it is dropped.
func TestLoggedExporter(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	e := loggedExporter{failingExporter{}, slog.New(slog.NewTextHandler(&buf, nil)), &spanCount{}}
	if err := e.ExportSpans(t.Context(), make([]sdktrace.ReadOnlySpan, 3)); err != nil {
		t.Errorf("ExportSpans = %v, want nil (reported in the log)", err)
	}
	if got := buf.String(); !strings.Contains(got, `level=WARN msg="span export failed" spans=3 error="connection refused"`) {
		t.Errorf("log = %q", got)
	}
	if err := (loggedExporter{failingExporter{}, nil, &spanCount{}}).ExportSpans(t.Context(), nil); err != nil {
		t.Errorf("ExportSpans without a log = %v, want nil", err)
	}
}
