package logging

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"net"
	"strings"
	"testing"
	"time"
)

// slogLine is what slog's own handler writes for l: the reference the
// AccessLogger must match byte for byte.
func slogLine(t testing.TB, format string, l *AccessLine) string {
	t.Helper()
	var buf bytes.Buffer
	h, err := NewHandler(&buf, format, slog.LevelDebug)
	if err != nil {
		t.Fatal(err)
	}
	r := slog.NewRecord(l.Time, l.Level, "rpc", 0)
	peer := ""
	if l.Peer != nil {
		peer = l.Peer.String()
	}
	r.AddAttrs(
		slog.String("method", l.Method),
		slog.String("code", l.Code),
		slog.Duration("duration", l.Duration),
		slog.String("peer", peer),
	)
	if l.Error != "" {
		r.AddAttrs(slog.String("error", l.Error))
	}
	if err := h.Handle(context.Background(), r); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

// accessLine is what an AccessLogger writes for l.
func accessLine(t testing.TB, format string, l *AccessLine) string {
	t.Helper()
	var buf bytes.Buffer
	w := NewBufferedWriter(&buf, 4096, time.Hour)
	a, err := NewAccessLogger(w, format, slog.LevelDebug)
	if err != nil {
		t.Fatal(err)
	}
	a.Log(l)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

func TestAccessLoggerMatchesSlog(t *testing.T) {
	t.Parallel()
	ist := time.FixedZone("IST", 5*3600+1800)
	west := time.FixedZone("", -7*3600)
	base := time.Date(2026, 11, 29, 22, 45, 18, 0, time.UTC)
	times := []time.Time{
		base,
		base.Add(123 * time.Millisecond),
		base.Add(100 * time.Millisecond),
		base.Add(120_000_000),
		base.Add(123_456_789),
		base.Add(1),
		base.Add(999_999_999),
		base.Add(5 * time.Microsecond).In(ist),
		base.Add(7 * time.Millisecond).In(west),
		base.Add(42).In(time.Local),
		time.Now(),
		time.Date(9999, 12, 31, 23, 59, 59, 999_000_000, time.UTC),
		time.Date(0, 1, 1, 0, 0, 0, 1, time.UTC),
		// Outside RFC 3339's four-digit years: slog's way, whatever it is.
		time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(-1, 12, 31, 23, 59, 59, 0, time.UTC),
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 200 {
		times = append(times, base.Add(time.Duration(rng.Int64N(int64(48*time.Hour)))).In([]*time.Location{time.UTC, ist, west, time.Local}[rng.IntN(4)]))
	}
	durations := []time.Duration{0, 1, 999, time.Microsecond, 1500, 12_345_678, time.Second, 90 * time.Minute, 26*time.Hour + 1, -1500, math.MaxInt64, math.MinInt64}
	peers := []net.Addr{
		&net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 40404},
		&net.TCPAddr{IP: net.ParseIP("::1"), Port: 1},
		&net.TCPAddr{IP: net.ParseIP("fe80::1"), Port: 2, Zone: "eth0"},
		&net.UnixAddr{Name: "/tmp/s", Net: "unix"},
		nil,
	}
	methods := []string{"/user.v1.UserService/GetUserDetails", "/grpc.health.v1.Health/Watch", "/x y/z", "", "/a=b/c", `/q"/\`, "/ünï/cödé", "/ctl\x1b[2J/\n"}
	levels := []slog.Level{slog.LevelInfo, slog.LevelWarn, slog.LevelError}
	var lines []*AccessLine
	for i, tm := range times {
		lines = append(lines, &AccessLine{
			Time:     tm,
			Level:    levels[i%len(levels)],
			Method:   methods[0],
			Code:     "OK",
			Duration: time.Duration(rng.Int64N(int64(10 * time.Millisecond))),
			Peer:     peers[0],
		})
	}
	for i, d := range durations {
		for j, p := range peers {
			for k, m := range methods {
				l := &AccessLine{Time: times[(i+j+k)%len(times)], Level: levels[(i+k)%3], Method: m, Code: "OK", Duration: d, Peer: p}
				if k%2 == 1 {
					l.Code, l.Error = "NotFound", `user "x" not found`
				}
				lines = append(lines, l)
			}
		}
	}
	for _, format := range []string{"text", "json"} {
		for _, l := range lines {
			if got, want := accessLine(t, format, l), slogLine(t, format, l); got != want {
				t.Errorf("%s line differs from slog's:\n got %q\nwant %q", format, got, want)
			}
		}
	}
}

// TestAccessLoggerFastPath checks that the common line takes the
// hand-written path (so the comparison above tests it), and that the
// timestamp cache follows the clock across seconds and zones.
func TestAccessLoggerFastPath(t *testing.T) { // not parallel: AllocsPerRun
	var buf bytes.Buffer
	w := NewBufferedWriter(io.Discard, 4096, time.Hour)
	a, err := NewAccessLogger(w, "text", slog.LevelInfo)
	if err != nil {
		t.Fatal(err)
	}
	l := &AccessLine{Time: time.Date(2026, 1, 2, 3, 4, 5, 6e6, time.UTC), Level: slog.LevelInfo, Method: "/a/b", Code: "OK", Duration: 1500, Peer: &net.TCPAddr{IP: net.IPv4(10, 0, 0, 1), Port: 7}}
	if n := testing.AllocsPerRun(100, func() { a.Log(l) }); n != 0 {
		t.Errorf("fast path allocates %v times per line", n)
	}
	w2 := NewBufferedWriter(&buf, 4096, time.Hour)
	a2, _ := NewAccessLogger(w2, "text", slog.LevelInfo)
	for _, tm := range []time.Time{l.Time, l.Time.Add(time.Second), l.Time.Add(time.Second).In(time.FixedZone("", 3600))} {
		l.Time = tm
		a2.Log(l)
		l.Level = slog.LevelDebug // filtered out
		a2.Log(l)
		l.Level = slog.LevelInfo
	}
	_ = w2.Close()
	want := "time=2026-01-02T03:04:05.006Z level=INFO msg=rpc method=/a/b code=OK duration=1.5µs peer=10.0.0.1:7\n" +
		"time=2026-01-02T03:04:06.006Z level=INFO msg=rpc method=/a/b code=OK duration=1.5µs peer=10.0.0.1:7\n" +
		"time=2026-01-02T04:04:06.006+01:00 level=INFO msg=rpc method=/a/b code=OK duration=1.5µs peer=10.0.0.1:7\n"
	if buf.String() != want {
		t.Errorf("got\n%s\nwant\n%s", buf.String(), want)
	}
}

func TestAppendDuration(t *testing.T) {
	t.Parallel()
	ds := []time.Duration{0, 1, -1, 999, 1000, 1001, 1_000_000, 1_100_000, time.Second, time.Second + 1, time.Minute, time.Hour, 100 * time.Hour, math.MaxInt64, math.MinInt64, math.MinInt64 + 1}
	rng := rand.New(rand.NewPCG(3, 4))
	for range 10000 {
		ds = append(ds, time.Duration(rng.Int64N(1<<uint(rng.IntN(63)))))
	}
	for _, d := range ds {
		if got := string(appendDuration(nil, d)); got != d.String() {
			t.Errorf("appendDuration(%d) = %q, want %q", int64(d), got, d.String())
		}
	}
}

func TestSlogAccessLogger(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	a := SlogAccessLogger(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelWarn}))
	l := &AccessLine{Time: time.Now(), Level: slog.LevelInfo, Method: "/a/b", Code: "OK"}
	if a.Enabled(slog.LevelInfo) {
		t.Error("INFO enabled at WARN")
	}
	a.Log(l)
	l.Level, l.Code, l.Error = slog.LevelWarn, "NotFound", "no such user"
	a.Log(l)
	if got := buf.String(); strings.Count(got, "\n") != 1 || !strings.Contains(got, `code=NotFound duration=0s peer="" error="no such user"`) {
		t.Errorf("got %q", got)
	}
}

func FuzzAccessLine(f *testing.F) {
	f.Add("/user.v1.UserService/GetUserDetails", "OK", int64(12345), int64(1764456318123456789), "")
	f.Add("/a b/c", "NotFound", int64(-5), int64(0), "boom")
	f.Fuzz(func(t *testing.T, method, code string, d, unixNano int64, errMsg string) {
		l := &AccessLine{Time: time.Unix(0, unixNano).UTC(), Level: slog.LevelInfo, Method: method, Code: code, Duration: time.Duration(d), Peer: &net.TCPAddr{IP: net.IPv4(1, 2, 3, 4), Port: 5}, Error: errMsg}
		for _, format := range []string{"text", "json"} {
			if got, want := accessLine(t, format, l), slogLine(t, format, l); got != want {
				t.Errorf("%s: got %q, want %q", format, got, want)
			}
		}
	})
}

// BenchmarkAccessLine compares the hand-written line with the same line
// through slog's handler (what the access log cost before), both into the
// buffered writer.
func BenchmarkAccessLine(b *testing.B) {
	l := &AccessLine{Level: slog.LevelInfo, Method: "/user.v1.UserService/GetUserDetails", Code: "OK", Duration: 123456, Peer: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 40404}}
	for _, format := range []string{"text", "json"} {
		w := NewBufferedWriter(io.Discard, 64<<10, time.Hour)
		a, err := NewAccessLogger(w, format, slog.LevelInfo)
		if err != nil {
			b.Fatal(err)
		}
		b.Run("fast/"+format, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				l.Time = time.Now()
				a.Log(l)
			}
		})
		s := SlogAccessLogger(a.h)
		b.Run("slog/"+format, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				l.Time = time.Now()
				s.Log(l)
			}
		})
	}
}
