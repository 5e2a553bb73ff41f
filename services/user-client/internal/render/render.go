// Package render formats responses, health results and errors for people
// (text) and scripts (JSON, exit codes, one-line errors).
package render

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"buf.build/gen/go/bufbuild/protovalidate/protocolbuffers/go/buf/validate"
	"google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	userv1 "github.com/acme/user-service/gen/go/user/v1"
	"github.com/acme/user-service/services/user-client/internal/config"
)

// jsonOptions keep every field in the output so scripts can rely on the
// keys being present.
var jsonOptions = protojson.MarshalOptions{EmitUnpopulated: true}

// Response writes one GetUserDetails response.
func Response(w io.Writer, format string, resp *userv1.GetUserDetailsResponse) error {
	if format == config.OutputJSON {
		return writeJSON(w, resp)
	}
	// The reference run's exact layout. The fields come from the server:
	// control characters are escaped, so a hostile value can neither drive
	// the terminal nor forge lines.
	_, err := fmt.Fprintf(w, "Response:\nName: %s\nEmail: %s\nStatus: %s\n",
		Escape(resp.GetName()), Escape(resp.GetEmail()), Escape(resp.GetStatus()))
	return err
}

// Health writes one health check response.
func Health(w io.Writer, format string, resp *grpc_health_v1.HealthCheckResponse) error {
	if format == config.OutputJSON {
		return writeJSON(w, resp)
	}
	_, err := fmt.Fprintf(w, "Status: %s\n", resp.GetStatus())
	return err
}

func writeJSON(w io.Writer, m proto.Message) error {
	b, err := jsonOptions.Marshal(m)
	if err != nil {
		return fmt.Errorf("encode JSON: %w", err)
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

// Error writes err as one line "error: <code>: <message>", then one line per
// field violation carried in the status details. redact is applied to all
// text that came from the server, the command line or the environment,
// before it is made one line, so that a secret is masked whatever
// characters it holds.
func Error(w io.Writer, err error, redact func(string) string) {
	clean := func(s string) string { return oneLine(redact(s)) }
	if ue := (*config.UsageError)(nil); errors.As(err, &ue) {
		fmt.Fprintf(w, "error: usage: %s (see --help)\n", clean(ue.Error()))
		return
	}
	st, ok := status.FromError(err)
	if !ok {
		fmt.Fprintf(w, "error: %s\n", clean(err.Error()))
		return
	}
	fmt.Fprintf(w, "error: %s: %s\n", st.Code(), clean(st.Message()))
	for _, d := range st.Details() {
		vs, ok := d.(*validate.Violations)
		if !ok {
			continue
		}
		for _, v := range vs.GetViolations() {
			fmt.Fprintf(w, "  %s\n", clean(Violation(v)))
		}
	}
}

// Violation formats one violation as "<field path>: <message> [<rule id>]".
func Violation(v *validate.Violation) string {
	var b strings.Builder
	if p := FieldPath(v.GetField()); p != "" {
		b.WriteString(p)
		b.WriteString(": ")
	}
	b.WriteString(v.GetMessage())
	if id := v.GetRuleId(); id != "" {
		b.WriteString(" [")
		b.WriteString(id)
		b.WriteString("]")
	}
	return b.String()
}

// FieldPath formats a path like protovalidate does: names joined by dots,
// with [index] or [key] subscripts, e.g. items[2].name or labels["env"].
func FieldPath(p *validate.FieldPath) string {
	var b strings.Builder
	for i, e := range p.GetElements() {
		if i > 0 {
			b.WriteByte('.')
		}
		b.WriteString(e.GetFieldName())
		switch s := e.GetSubscript().(type) {
		case *validate.FieldPathElement_Index:
			fmt.Fprintf(&b, "[%d]", s.Index)
		case *validate.FieldPathElement_BoolKey:
			fmt.Fprintf(&b, "[%t]", s.BoolKey)
		case *validate.FieldPathElement_IntKey:
			fmt.Fprintf(&b, "[%d]", s.IntKey)
		case *validate.FieldPathElement_UintKey:
			fmt.Fprintf(&b, "[%d]", s.UintKey)
		case *validate.FieldPathElement_StringKey:
			fmt.Fprintf(&b, "[%s]", strconv.Quote(s.StringKey))
		}
	}
	return b.String()
}

// Escape writes every rune that is not graphic (unicode.IsGraphic): control
// characters (C0, DEL, C1), format characters such as the bidirectional
// controls and U+200B, line and paragraph separators, private-use and
// unassigned code points, as \xXX, \uXXXX or \UXXXXXXXX escapes, and
// leaves everything else, such as non-ASCII names, as it is: a hostile
// value can neither drive the terminal, reorder or hide text, nor forge
// lines. A byte that is not UTF-8 is written as \xXX.
func Escape(s string) string {
	return escape(s, false)
}

func needsEscape(r rune) bool {
	return !unicode.IsGraphic(r)
}

func writeEscaped(b *strings.Builder, r rune) {
	switch {
	case r <= 0x9f: // C0, DEL and C1: the last is U+009F
		fmt.Fprintf(b, `\x%02x`, r)
	case r <= 0xffff:
		fmt.Fprintf(b, `\u%04x`, r)
	default:
		fmt.Fprintf(b, `\U%08x`, r)
	}
}

// oneLine keeps a message on one line and inert: control characters become
// spaces (a newline in a server's message reads as a space), any other rune
// that is not graphic is escaped as Escape does.
func oneLine(s string) string {
	return escape(s, true)
}

// escape writes the runes that are not graphic as escapes (controls as
// spaces when controlAsSpace), and each byte that is not UTF-8 as \xXX (an
// argument the flag package quotes raw).
func escape(s string, controlAsSpace bool) string {
	if utf8.ValidString(s) && strings.IndexFunc(s, needsEscape) < 0 {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, width := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && width == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case !needsEscape(r):
			b.WriteRune(r)
		case controlAsSpace && unicode.IsControl(r):
			b.WriteByte(' ')
		default:
			writeEscaped(&b, r)
		}
		i += width
	}
	return b.String()
}
