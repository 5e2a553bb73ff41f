package logging

import (
	"context"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"time"
)

// AccessLine is one RPC's access-log entry. Its fields are written in this
// order as the attributes of a record with message "rpc".
type AccessLine struct {
	Time     time.Time
	Level    slog.Level
	Method   string
	Code     string
	Duration time.Duration
	Peer     net.Addr // may be nil
	Error    string   // the status message of a failed RPC; empty for OK
	TraceID  string   // the call's trace, when sampled; empty otherwise
	// Suppressed counts the lines like this one left out before it (see
	// Sampler); 0 writes no attribute.
	Suppressed int
	// Protocol is the caller's protocol on the HTTP listener (connect,
	// grpc-web, rest); empty for native gRPC, whose lines are unchanged.
	Protocol string
}

// AccessLogger writes access lines exactly as the slog handler from
// NewHandler would (the test compares them byte for byte), but without
// building a slog.Record: a line whose values need no quoting or escaping,
// the common case of a successful RPC, is appended straight into the
// buffered writer's free space under its lock. Any other line (an error
// message, a trace id, an unusual method or peer) goes through the slog
// handler itself.
type AccessLogger struct {
	h     slog.Handler
	level slog.Level
	out   *BufferedWriter // nil: every line goes through h
	json  bool

	// Formatting the timestamp is the costliest part of a line; the date
	// and time up to the second, and the zone, are kept from the previous
	// line (guarded by out.mu). The first line always fills them: a
	// time's Location is never nil, the zero cacheLoc.
	cacheSec             int64
	cacheLoc             *time.Location
	cacheDate, cacheZone []byte
}

// NewAccessLogger returns an AccessLogger writing to w in the given format
// ("text" or "json") at the given minimum level.
func NewAccessLogger(w *BufferedWriter, format string, level slog.Level) (*AccessLogger, error) {
	h, err := NewHandler(w, format, level)
	if err != nil {
		return nil, err
	}
	return &AccessLogger{h: h, level: level, out: w, json: format == "json"}, nil
}

// SlogAccessLogger returns an AccessLogger that writes every line through
// h (for callers, such as tests, with a logger of their own).
func SlogAccessLogger(h slog.Handler) *AccessLogger {
	return &AccessLogger{h: h}
}

// Enabled reports whether lines at level are written. Callers ask first so
// a filtered-out line costs nothing.
func (a *AccessLogger) Enabled(level slog.Level) bool {
	if a.out == nil {
		return a.h.Enabled(context.Background(), level)
	}
	return level >= a.level
}

// Log writes l if its level is enabled.
func (a *AccessLogger) Log(l *AccessLine) {
	if !a.Enabled(l.Level) {
		return
	}
	if a.out != nil && l.Error == "" && l.TraceID == "" && l.Suppressed == 0 && l.Protocol == "" && plain(l.Method) && plain(l.Code) {
		if peer, ok := tcpPeer(l.Peer); ok {
			// Years 0 to 9999, RFC 3339's four digits (a negative year
			// wraps around); slog formats the others its own way.
			if y := l.Time.Year(); uint(y) < 10000 {
				a.writeFast(l, peer)
				return
			}
		}
	}
	r := slog.NewRecord(l.Time, l.Level, "rpc", 0)
	r.AddAttrs(
		slog.String("method", l.Method),
	)
	if l.Protocol != "" {
		r.AddAttrs(slog.String("protocol", l.Protocol))
	}
	r.AddAttrs(
		slog.String("code", l.Code),
		slog.Duration("duration", l.Duration),
		slog.String("peer", peerString(l.Peer)),
	)
	if l.Error != "" {
		r.AddAttrs(slog.String("error", l.Error))
	}
	if l.TraceID != "" {
		r.AddAttrs(slog.String("trace_id", l.TraceID))
	}
	if l.Suppressed > 0 {
		r.AddAttrs(slog.Int("suppressed", l.Suppressed))
	}
	_ = a.h.Handle(context.Background(), r)
}

func peerString(a net.Addr) string {
	if a == nil {
		return ""
	}
	if ap, ok := tcpPeer(a); ok {
		var buf [48]byte
		return string(ap.AppendTo(buf[:0]))
	}
	return a.String()
}

// tcpPeer returns a TCP peer's address in the form that formats like
// net.TCPAddr.String (an IPv4-mapped address as plain IPv4), but without
// allocating.
func tcpPeer(a net.Addr) (netip.AddrPort, bool) {
	ta, ok := a.(*net.TCPAddr)
	if !ok || ta.Zone != "" {
		return netip.AddrPort{}, false
	}
	ap := ta.AddrPort()
	if !ap.Addr().IsValid() {
		return netip.AddrPort{}, false
	}
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()), true
}

// plain reports whether s is written as is by both handlers: non-empty
// printable ASCII that slog's text handler does not quote and its JSON
// handler does not escape.
func plain(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if b := s[i]; b <= ' ' || b >= 0x7f || b == '"' || b == '\\' || b == '=' {
			return false
		}
	}
	return true
}

// writeFast appends the line into the writer's free buffer space: one lock,
// no allocation.
func (a *AccessLogger) writeFast(l *AccessLine, peer netip.AddrPort) {
	w := a.out
	w.mu.Lock()
	defer w.mu.Unlock()
	b := w.buf.AvailableBuffer()
	if a.json {
		b = append(b, `{"time":"`...)
		b = a.appendTime(b, l.Time)
		b = append(b, `","level":"`...)
		b = append(b, l.Level.String()...)
		b = append(b, `","msg":"rpc","method":"`...)
		b = append(b, l.Method...)
		b = append(b, `","code":"`...)
		b = append(b, l.Code...)
		b = append(b, `","duration":`...)
		b = strconv.AppendInt(b, int64(l.Duration), 10)
		b = append(b, `,"peer":"`...)
		b = peer.AppendTo(b)
		b = append(b, "\"}\n"...)
	} else {
		b = append(b, "time="...)
		b = a.appendTime(b, l.Time)
		b = append(b, " level="...)
		b = append(b, l.Level.String()...)
		b = append(b, " msg=rpc method="...)
		b = append(b, l.Method...)
		b = append(b, " code="...)
		b = append(b, l.Code...)
		b = append(b, " duration="...)
		b = appendDuration(b, l.Duration)
		b = append(b, " peer="...)
		b = peer.AppendTo(b)
		b = append(b, '\n')
	}
	_, _ = w.writeLocked(b)
}

// appendTime appends t as slog does: RFC 3339 with milliseconds for text,
// RFC 3339 with nanoseconds (trailing zeros trimmed) for JSON.
func (a *AccessLogger) appendTime(b []byte, t time.Time) []byte {
	if sec, loc := t.Unix(), t.Location(); sec != a.cacheSec || loc != a.cacheLoc {
		a.cacheSec, a.cacheLoc = sec, loc
		a.cacheDate = t.AppendFormat(a.cacheDate[:0], "2006-01-02T15:04:05")
		a.cacheZone = t.AppendFormat(a.cacheZone[:0], "Z07:00")
	}
	b = append(b, a.cacheDate...)
	ns := t.Nanosecond()
	if a.json {
		if ns != 0 {
			// Nine digits, then drop the trailing zeros.
			var frac [10]byte
			frac[0] = '.'
			for i, v := 9, ns; i > 0; i-- {
				frac[i] = byte('0' + v%10)
				v /= 10
			}
			n := 10
			for frac[n-1] == '0' {
				n--
			}
			b = append(b, frac[:n]...)
		}
	} else {
		ms := ns / 1e6
		b = append(b, '.', byte('0'+ms/100), byte('0'+ms/10%10), byte('0'+ms%10))
	}
	return append(b, a.cacheZone...)
}

// appendDuration appends d as d.String() would, without allocating.
func appendDuration(b []byte, d time.Duration) []byte {
	u := uint64(d)
	if d < 0 {
		b = append(b, '-')
		u = -u
	}
	if u == 0 {
		return append(b, "0s"...)
	}
	if u < uint64(time.Second) {
		// Below a second: a single unit, ns, µs or ms, with a fraction.
		if u < uint64(time.Microsecond) {
			return append(strconv.AppendUint(b, u, 10), "ns"...)
		}
		prec, unit := 6, "ms"
		if u < uint64(time.Millisecond) {
			prec, unit = 3, "µs"
		}
		b = appendFixed(b, u, prec)
		return append(b, unit...)
	}
	// h, m and s with a fractional second, leading zero units omitted.
	secs := u / uint64(time.Second)
	frac := u % uint64(time.Second)
	if h := secs / 3600; h > 0 {
		b = strconv.AppendUint(b, h, 10)
		b = append(b, 'h')
	}
	if secs >= 60 {
		b = strconv.AppendUint(b, secs/60%60, 10)
		b = append(b, 'm')
	}
	b = appendFixed(b, (secs%60)*uint64(time.Second)+frac, 9)
	return append(b, 's')
}

// appendFixed appends v / 10^prec with its fraction, trailing zeros (and a
// bare point) dropped.
func appendFixed(b []byte, v uint64, prec int) []byte {
	pow := uint64(1)
	for range prec {
		pow *= 10
	}
	b = strconv.AppendUint(b, v/pow, 10)
	f := v % pow
	if f == 0 {
		return b
	}
	var digits [9]byte
	for i := prec - 1; i >= 0; i-- {
		digits[i] = byte('0' + f%10)
		f /= 10
	}
	n := prec
	for digits[n-1] == '0' {
		n--
	}
	b = append(b, '.')
	return append(b, digits[:n]...)
}
