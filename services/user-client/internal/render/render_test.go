package render_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"buf.build/gen/go/bufbuild/protovalidate/protocolbuffers/go/buf/validate"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	userv1 "github.com/acme/user-service/gen/go/user/v1"
	"github.com/acme/user-service/services/user-client/internal/render"
)

func elem(name string, set func(*validate.FieldPathElement_builder)) *validate.FieldPathElement {
	b := validate.FieldPathElement_builder{FieldName: proto.String(name)}
	if set != nil {
		set(&b)
	}
	return b.Build()
}

func TestFieldPath(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		elems []*validate.FieldPathElement
		want  string
	}{
		{"empty", nil, ""},
		{"field", []*validate.FieldPathElement{elem("user_id", nil)}, "user_id"},
		{"nested index", []*validate.FieldPathElement{
			elem("items", func(b *validate.FieldPathElement_builder) { b.Index = proto.Uint64(2) }),
			elem("name", nil),
		}, "items[2].name"},
		{"string key", []*validate.FieldPathElement{
			elem("labels", func(b *validate.FieldPathElement_builder) { b.StringKey = proto.String(`e"nv`) }),
		}, `labels["e\"nv"]`},
		{"int and bool keys", []*validate.FieldPathElement{
			elem("a", func(b *validate.FieldPathElement_builder) { b.IntKey = proto.Int64(-1) }),
			elem("b", func(b *validate.FieldPathElement_builder) { b.BoolKey = proto.Bool(true) }),
			elem("c", func(b *validate.FieldPathElement_builder) { b.UintKey = proto.Uint64(7) }),
		}, "a[-1].b[true].c[7]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := render.FieldPath(validate.FieldPath_builder{Elements: tt.elems}.Build())
			if got != tt.want {
				t.Errorf("FieldPath = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestErrorKeepsOneLinePerItem(t *testing.T) {
	t.Parallel()
	// A server message with newlines and an escape sequence must not break
	// the one-line format or reach the terminal.
	st, err := status.New(codes.InvalidArgument, "bad\nrequest\x1b[31m").WithDetails(
		validate.Violations_builder{Violations: []*validate.Violation{
			validate.Violation_builder{Message: proto.String("message-level\nrule"), RuleId: proto.String("m")}.Build(),
		}}.Build())
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	render.Error(&b, st.Err(), strings.NewReplacer("request", "[R]").Replace)
	want := "error: InvalidArgument: bad [R] [31m\n  message-level rule [m]\n"
	if b.String() != want {
		t.Errorf("got %q, want %q", b.String(), want)
	}

	b.Reset()
	render.Error(&b, errors.New("plain\nfailure"), func(s string) string { return s })
	if want := "error: plain failure\n"; b.String() != want {
		t.Errorf("got %q, want %q", b.String(), want)
	}
}

func TestErrorRedactsViolations(t *testing.T) {
	t.Parallel()
	// A server that echoes the token in a violation must not get it printed.
	st, err := status.New(codes.InvalidArgument, "bad token s3cret").WithDetails(
		validate.Violations_builder{Violations: []*validate.Violation{
			validate.Violation_builder{
				Field:   validate.FieldPath_builder{Elements: []*validate.FieldPathElement{elem("auth_token", nil)}}.Build(),
				Message: proto.String("s3cret is not allowed"), RuleId: proto.String("s3cret.rule"),
			}.Build(),
		}}.Build())
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	render.Error(&b, st.Err(), strings.NewReplacer("s3cret", "[REDACTED]").Replace)
	want := "error: InvalidArgument: bad token [REDACTED]\n  auth_token: [REDACTED] is not allowed [[REDACTED].rule]\n"
	if b.String() != want {
		t.Errorf("got %q, want %q", b.String(), want)
	}
}

func TestJSONKeepsEmptyFields(t *testing.T) {
	t.Parallel()
	var b bytes.Buffer
	if err := render.Response(&b, "json", &userv1.GetUserDetailsResponse{Name: "N"}); err != nil {
		t.Fatal(err)
	}
	if want := `{"name":"N","email":"","status":""}` + "\n"; strings.ReplaceAll(b.String(), " ", "") != want {
		t.Errorf("got %q, want %q (spacing aside)", b.String(), want)
	}
	b.Reset()
	if err := render.Health(&b, "json", &grpc_health_v1.HealthCheckResponse{}); err != nil {
		t.Fatal(err)
	}
	if want := `{"status":"UNKNOWN"}` + "\n"; strings.ReplaceAll(b.String(), " ", "") != want {
		t.Errorf("got %q, want %q (spacing aside)", b.String(), want)
	}
}

func TestEscape(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want string }{
		{"John Doe", "John Doe"},
		{"Zoë 山田", "Zoë 山田"},
		{"\x00a\x1f\x7f", `\x00a\x1f\x7f`},
		{"\u0080\u0085\u009f", `\x80\x85\x9f`}, // C1, up to its last
		{"\u00a0\u00ff\u0100", "\u00a0\u00ff\u0100"},
		{"\u061c\u200e\u202e\u2069", `\u061c\u200e\u202e\u2069`}, // bidi controls
		{"a\u2028b\u2029c", `a\u2028b\u2029c`},                   // line and paragraph separators
		{"\u200b\u00ad\ufeff", `\u200b\u00ad\ufeff`},             // invisible format characters
		{"\U000e0001\U000f0000", `\U000e0001\U000f0000`},         // beyond the BMP: tag, private use
		{"\u3000\U0001F600", "\u3000\U0001F600"},
		{"a\xffb\xe2\x82", `a\xffb\xe2\x82`}, // bytes that are not UTF-8                 // a space separator and an emoji are graphic
	} {
		if got := render.Escape(tc.in); got != tc.want {
			t.Errorf("Escape(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
