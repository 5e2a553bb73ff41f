package validation

import (
	"regexp"
	"strings"
	"testing"

	"buf.build/gen/go/bufbuild/protovalidate/protocolbuffers/go/buf/validate"
	"buf.build/go/protovalidate"
	userv1 "github.com/acme/user-service/gen/go/user/v1"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"
)

// counting counts the messages that reach protovalidate.
type counting struct {
	protovalidate.Validator
	n int
}

// direct reports whether messages of m's type are checked directly when
// valid.
func (v *Validator) direct(m proto.Message) bool {
	return v.plan(m.ProtoReflect().Descriptor()) != nil
}

func (c *counting) Validate(m proto.Message, opts ...protovalidate.ValidationOption) error {
	c.n++
	return c.Validator.Validate(m, opts...)
}

// newCounting returns a Validator for msgs whose protovalidate calls are
// counted.
func newCounting(t testing.TB, msgs ...proto.Message) (*Validator, *counting) {
	t.Helper()
	v, err := New(msgs...)
	if err != nil {
		t.Fatal(err)
	}
	c := &counting{Validator: v.full}
	v.full = c
	return v, c
}

// plain is protovalidate alone, the reference.
func plain(t testing.TB, msgs ...proto.Message) protovalidate.Validator {
	t.Helper()
	v, err := protovalidate.New(protovalidate.WithMessages(msgs...))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// sameVerdict fails t unless v and ref agree on m: both nil, or the same
// error.
func sameVerdict(t testing.TB, v *Validator, ref protovalidate.Validator, m proto.Message) {
	t.Helper()
	got, want := v.Validate(m), ref.Validate(m)
	if (got == nil) != (want == nil) || (got != nil && got.Error() != want.Error()) {
		t.Fatalf("Validate(%v) = %v, protovalidate says %v", m, got, want)
	}
}

func TestGetUserDetailsRequest(t *testing.T) {
	t.Parallel()
	req := &userv1.GetUserDetailsRequest{}
	v, c := newCounting(t, req)
	ref := plain(t, req)
	if !v.direct(req) {
		t.Fatal("GetUserDetailsRequest is not checked directly: its rules left the subset (see the package comment)")
	}
	for _, tc := range []struct {
		id, token string
		valid     bool
	}{
		{"john123", "valid-token", true},
		{"a.b_c-D9", strings.Repeat("t", 512), true},
		{strings.Repeat("a", 64), "t", true},
		{strings.Repeat("a", 65), "t", false},
		{"john123", strings.Repeat("t", 513), false},
		{"", "valid-token", false},
		{"john123", "", false},
		{"", "", false},
		{"john 123", "valid-token", false},
		{"jöhn", "valid-token", false},
		{"john123", "välid-tökén", true},
		{"jo\xffhn", "valid-token", false},
	} {
		req := &userv1.GetUserDetailsRequest{UserId: tc.id, AuthToken: tc.token}
		before := c.n
		sameVerdict(t, v, ref, req)
		if err := v.Validate(req); (err == nil) != tc.valid {
			t.Errorf("Validate(%q, %q) = %v, want valid %v", tc.id, tc.token, err, tc.valid)
		}
		// A valid request never reaches protovalidate; an invalid one
		// does, for its violations.
		if reached := c.n > before; reached == tc.valid {
			t.Errorf("Validate(%q, %q): protovalidate called %d times", tc.id, tc.token, c.n-before)
		}
	}
	if err := v.Validate(nil); err != nil {
		t.Errorf("Validate(nil) = %v, want nil as protovalidate", err)
	}
}

// testFile builds a proto3 file with message M of the given fields, each
// with its rules, and returns M's descriptor.
func testFile(t testing.TB, msgRules *validate.MessageRules, fields ...*descriptorpb.FieldDescriptorProto) protoreflect.MessageDescriptor {
	t.Helper()
	m := &descriptorpb.DescriptorProto{Name: proto.String("M"), Field: fields,
		NestedType: []*descriptorpb.DescriptorProto{{Name: proto.String("N")}}}
	for _, f := range fields {
		if f.GetProto3Optional() {
			f.OneofIndex = proto.Int32(int32(len(m.OneofDecl)))
			m.OneofDecl = append(m.OneofDecl, &descriptorpb.OneofDescriptorProto{Name: proto.String("_" + f.GetName())})
		}
		if f.GetName() == "real_oneof" {
			f.OneofIndex = proto.Int32(int32(len(m.OneofDecl)))
			m.OneofDecl = append(m.OneofDecl, &descriptorpb.OneofDescriptorProto{Name: proto.String("choice")})
		}
	}
	if msgRules != nil {
		m.Options = &descriptorpb.MessageOptions{}
		proto.SetExtension(m.Options, validate.E_Message, msgRules)
	}
	fdp := &descriptorpb.FileDescriptorProto{
		Name:        proto.String(strings.ReplaceAll(t.Name(), "/", "_") + ".proto"),
		Package:     proto.String("validationtest"),
		Syntax:      proto.String("proto3"),
		Dependency:  []string{"buf/validate/validate.proto"},
		MessageType: []*descriptorpb.DescriptorProto{m},
	}
	fd, err := protodesc.NewFile(fdp, protoregistry.GlobalFiles)
	if err != nil {
		t.Fatal(err)
	}
	return fd.Messages().ByName("M")
}

type fieldOpt func(*descriptorpb.FieldDescriptorProto)

func optional(f *descriptorpb.FieldDescriptorProto) { f.Proto3Optional = proto.Bool(true) }
func repeated(f *descriptorpb.FieldDescriptorProto) {
	f.Label = descriptorpb.FieldDescriptorProto_LABEL_REPEATED.Enum()
}

func field(name string, num int32, typ descriptorpb.FieldDescriptorProto_Type, rules *validate.FieldRules, opts ...fieldOpt) *descriptorpb.FieldDescriptorProto {
	f := &descriptorpb.FieldDescriptorProto{
		Name: proto.String(name), Number: proto.Int32(num), Type: typ.Enum(),
		Label: descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL.Enum(), JsonName: proto.String(name),
	}
	if typ == descriptorpb.FieldDescriptorProto_TYPE_MESSAGE {
		f.TypeName = proto.String(".validationtest.M.N")
	}
	if rules != nil {
		f.Options = &descriptorpb.FieldOptions{}
		proto.SetExtension(f.Options, validate.E_Field, rules)
	}
	for _, o := range opts {
		o(f)
	}
	return f
}

const (
	tString  = descriptorpb.FieldDescriptorProto_TYPE_STRING
	tInt32   = descriptorpb.FieldDescriptorProto_TYPE_INT32
	tMessage = descriptorpb.FieldDescriptorProto_TYPE_MESSAGE
)

func str(b validate.StringRules_builder) *validate.FieldRules {
	return validate.FieldRules_builder{String: b.Build()}.Build()
}

// TestSubset: exactly the messages whose rules are all in the subset are
// checked directly; any other rule sends the message to protovalidate.
func TestSubset(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		msgRules *validate.MessageRules
		fields   []*descriptorpb.FieldDescriptorProto
		direct   bool
	}{
		{"no fields", nil, nil, true},
		{"no rules", nil, []*descriptorpb.FieldDescriptorProto{field("s", 1, tString, nil), field("i", 2, tInt32, nil)}, true},
		{"empty rules", nil, []*descriptorpb.FieldDescriptorProto{field("s", 1, tString, &validate.FieldRules{})}, true},
		{"the subset", nil, []*descriptorpb.FieldDescriptorProto{
			field("s", 1, tString, validate.FieldRules_builder{Required: proto.Bool(true), String: validate.StringRules_builder{
				MinLen: proto.Uint64(1), MaxLen: proto.Uint64(5), Pattern: proto.String("^[a-z]+$")}.Build()}.Build()),
			field("o", 2, tString, str(validate.StringRules_builder{MaxLen: proto.Uint64(3)}), optional),
		}, true},
		{"required false", nil, []*descriptorpb.FieldDescriptorProto{field("s", 1, tString, validate.FieldRules_builder{Required: proto.Bool(false)}.Build())}, true},
		{"string prefix", nil, []*descriptorpb.FieldDescriptorProto{field("s", 1, tString, str(validate.StringRules_builder{Prefix: proto.String("a")}))}, false},
		{"string len", nil, []*descriptorpb.FieldDescriptorProto{field("s", 1, tString, str(validate.StringRules_builder{Len: proto.Uint64(2)}))}, false},
		{"max_len and email", nil, []*descriptorpb.FieldDescriptorProto{field("s", 1, tString, str(validate.StringRules_builder{MaxLen: proto.Uint64(9), Email: proto.Bool(true)}))}, false},
		{"ignore", nil, []*descriptorpb.FieldDescriptorProto{field("s", 1, tString, validate.FieldRules_builder{
			Ignore: validate.Ignore_IGNORE_IF_ZERO_VALUE.Enum(), String: validate.StringRules_builder{MaxLen: proto.Uint64(1)}.Build()}.Build())}, false},
		{"field cel", nil, []*descriptorpb.FieldDescriptorProto{field("s", 1, tString, validate.FieldRules_builder{
			Cel: []*validate.Rule{validate.Rule_builder{Id: proto.String("x"), Expression: proto.String("this != 'x'")}.Build()}}.Build())}, false},
		{"int32 rule", nil, []*descriptorpb.FieldDescriptorProto{field("i", 1, tInt32, validate.FieldRules_builder{Int32: validate.Int32Rules_builder{Gt: proto.Int32(0)}.Build()}.Build())}, false},
		{"required int32", nil, []*descriptorpb.FieldDescriptorProto{field("i", 1, tInt32, validate.FieldRules_builder{Required: proto.Bool(true)}.Build())}, false},
		{"repeated string", nil, []*descriptorpb.FieldDescriptorProto{field("r", 1, tString, validate.FieldRules_builder{Repeated: validate.RepeatedRules_builder{MinItems: proto.Uint64(1)}.Build()}.Build(), repeated)}, false},
		{"message field without rules", nil, []*descriptorpb.FieldDescriptorProto{field("m", 1, tMessage, nil)}, false},
		{"real oneof", nil, []*descriptorpb.FieldDescriptorProto{field("real_oneof", 1, tString, nil)}, false},
		{"message cel", validate.MessageRules_builder{Cel: []*validate.Rule{validate.Rule_builder{
			Id: proto.String("x"), Expression: proto.String("this.s != 'x'")}.Build()}}.Build(),
			[]*descriptorpb.FieldDescriptorProto{field("s", 1, tString, nil)}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			m := dynamicpb.NewMessage(testFile(t, tc.msgRules, tc.fields...))
			v, err := New(m)
			if err != nil {
				t.Fatal(err)
			}
			if got := v.direct(m); got != tc.direct {
				t.Errorf("Direct = %v, want %v", got, tc.direct)
			}
		})
	}
}

// TestBadPattern: a pattern Go cannot compile is protovalidate's to report.
func TestBadPattern(t *testing.T) {
	t.Parallel()
	m := dynamicpb.NewMessage(testFile(t, nil, field("s", 1, tString, str(validate.StringRules_builder{Pattern: proto.String("[a-")}))))
	v, err := New(m)
	if err != nil {
		return // protovalidate refused it up front: as good
	}
	if v.direct(m) {
		t.Error("a message with an invalid pattern is checked directly")
	}
	if err := v.Validate(m); err == nil {
		t.Error("Validate with an invalid pattern = nil")
	}
}

// rulesMessage has one field of each shape the subset allows.
func rulesMessage(t testing.TB) protoreflect.MessageDescriptor {
	return testFile(t, nil,
		field("req", 1, tString, validate.FieldRules_builder{Required: proto.Bool(true), String: validate.StringRules_builder{
			MinLen: proto.Uint64(2), MaxLen: proto.Uint64(4), Pattern: proto.String("^[a-zα-ω]+$")}.Build()}.Build()),
		field("opt", 2, tString, str(validate.StringRules_builder{MinLen: proto.Uint64(1), Pattern: proto.String(`^x*\d$`)}), optional),
		field("optreq", 3, tString, validate.FieldRules_builder{Required: proto.Bool(true)}.Build(), optional),
		field("star", 4, tString, str(validate.StringRules_builder{Pattern: proto.String("^[0-9]*$")})),
		field("free", 5, tString, nil),
		field("n", 6, tInt32, nil),
	)
}

// set returns a message of md with the fields named in kv set (a key
// without "=" sets the field to "").
func set(md protoreflect.MessageDescriptor, kv ...string) *dynamicpb.Message {
	m := dynamicpb.NewMessage(md)
	for _, s := range kv {
		k, val, _ := strings.Cut(s, "=")
		m.Set(md.Fields().ByName(protoreflect.Name(k)), protoreflect.ValueOfString(val))
	}
	return m
}

// TestMatchesProtovalidate: each rule of the subset, on both sides of its
// bound, with explicit and implicit presence.
func TestMatchesProtovalidate(t *testing.T) {
	t.Parallel()
	md := rulesMessage(t)
	m0 := dynamicpb.NewMessage(md)
	v, c := newCounting(t, m0)
	ref := plain(t, m0)
	if !v.direct(m0) {
		t.Fatal("the test message is not checked directly")
	}
	base := []string{"req=ab", "optreq"}
	for _, tc := range []struct {
		fields []string
		valid  bool
	}{
		{base, true},
		{[]string{"optreq"}, false},          // req required, empty
		{[]string{"req=ab"}, false},          // optreq required, unset
		{[]string{"req=a", "optreq"}, false}, // below min_len
		{[]string{"req=abcd", "optreq"}, true},
		{[]string{"req=abcde", "optreq"}, false}, // above max_len
		{[]string{"req=αβγ", "optreq"}, true},    // runes, not bytes, and the class's non-ASCII range
		{[]string{"req=αβγδε", "optreq"}, false},
		{[]string{"req=aB", "optreq"}, false},
		{[]string{"req=a\xff", "optreq"}, false},
		{[]string{"req=ab", "optreq", "opt"}, false}, // set, so its rules apply: min_len 1
		{[]string{"req=ab", "optreq", "opt=7"}, true},
		{[]string{"req=ab", "optreq", "opt=xx7"}, true},
		{[]string{"req=ab", "optreq", "opt=x"}, false},
		{[]string{"req=ab", "optreq", "opt=٣"}, false}, // \d is ASCII-only in RE2
		{[]string{"req=ab", "optreq", "star=123"}, true},
		{[]string{"req=ab", "optreq", "star=12a"}, false},
		{[]string{"req=ab", "optreq", "free=anything at all"}, true},
	} {
		m := set(md, tc.fields...)
		before := c.n
		sameVerdict(t, v, ref, m)
		if err := v.Validate(m); (err == nil) != tc.valid {
			t.Errorf("Validate(%q) = %v, want valid %v", tc.fields, err, tc.valid)
		}
		// Exactly the invalid messages reach protovalidate: the direct
		// check decides every valid one, boundaries included.
		if reached := c.n > before; reached == tc.valid {
			t.Errorf("Validate(%q): protovalidate called %d times", tc.fields, c.n-before)
		}
	}
}

func FuzzMatchesProtovalidate(f *testing.F) {
	for _, s := range [][4]string{
		{"john123", "valid-token", "ab", "7"},
		{"", "", "", ""},
		{"a.b", "t", "αβ", "x1"},
		{"j\xffn", "\xc0", "ab\xff", "٣"},
		{strings.Repeat("a", 65), strings.Repeat("t", 513), "abcde", "xx"},
	} {
		f.Add(s[0], s[1], s[2], s[3])
	}
	req := &userv1.GetUserDetailsRequest{}
	v, _ := newCounting(f, req)
	ref := plain(f, req)
	md := rulesMessage(f)
	vd, _ := newCounting(f, dynamicpb.NewMessage(md))
	refd := plain(f, dynamicpb.NewMessage(md))
	f.Fuzz(func(t *testing.T, a, b, c, d string) {
		sameVerdict(t, v, ref, &userv1.GetUserDetailsRequest{UserId: a, AuthToken: b})
		sameVerdict(t, vd, refd, set(md, "req="+c, "opt="+d, "optreq="+a, "star="+b))
		sameVerdict(t, vd, refd, set(md, "req="+c, "star="+d))
	})
}

// TestPattern: the table shortcut answers as Go's regexp does.
func TestPattern(t *testing.T) {
	t.Parallel()
	inputs := []string{"", "a", "abc", "aB", "a-b", "a b", "ab\n", "\nab", "é", "aé", "\xff", "\x80", "a\x80", "a\x00", "_", ".", "9", "Z", "~", "\x7f", "ω"}
	for _, expr := range []string{
		"^[A-Za-z0-9._-]+$", "^[a-z]*$", "^[^a-z]+$", `^\w+$`, "^[a-zé]+$", "(?i)^[a-z]+$",
		"^a+$", "[a-z]+", "^[a-z]+", "^[a-z]+$|^x$", `^\pL+$`, "^.+$", "^[a-z]{1,3}$", `\A[a-z]+\z`, "(?m)^[a-z]+$",
	} {
		p, err := compilePattern(expr)
		if err != nil {
			t.Fatal(err)
		}
		re := regexp.MustCompile(expr)
		for _, s := range inputs {
			if got, want := p.match(s), re.MatchString(s); got != want {
				t.Errorf("%q on %q: match = %v, regexp says %v", expr, s, got, want)
			}
		}
	}
	if _, err := compilePattern("[a-"); err == nil {
		t.Error("compilePattern of an invalid pattern: no error")
	}
}

// TestPatternTable: the contract's shape gets the table, anything else the
// regexp alone.
func TestPatternTable(t *testing.T) {
	t.Parallel()
	for expr, table := range map[string]bool{
		"^[A-Za-z0-9._-]+$": true, "^[a-z]*$": true, `\A[a-z]+\z`: true, `^\w+$`: true,
		"^a+$": false, "[a-z]+": false, "^[a-z]+": false, "^[a-z]{1,3}$": false, "(?m)^[a-z]+$": false, "^.+$": false,
	} {
		p, err := compilePattern(expr)
		if err != nil {
			t.Fatal(err)
		}
		if (p.table != nil) != table {
			t.Errorf("%q: table %v, want %v", expr, p.table != nil, table)
		}
	}
}

func FuzzPattern(f *testing.F) {
	f.Add("abc")
	f.Add("a\xffb")
	f.Add("")
	exprs := []string{"^[A-Za-z0-9._-]+$", "^[a-zé]*$", `^[^\x00-\x1f]+$`}
	var ps []*pattern
	for _, e := range exprs {
		p, err := compilePattern(e)
		if err != nil {
			f.Fatal(err)
		}
		ps = append(ps, p)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for i, p := range ps {
			if got, want := p.match(s), p.re.MatchString(s); got != want {
				t.Fatalf("%q on %q: match = %v, regexp says %v", exprs[i], s, got, want)
			}
		}
	})
}

func BenchmarkValidate(b *testing.B) {
	req := &userv1.GetUserDetailsRequest{UserId: "john123", AuthToken: "bench-token-0123456789abcdef"}
	v, err := New(req)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("direct", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := v.Validate(req); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("protovalidate", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := v.full.Validate(req); err != nil {
				b.Fatal(err)
			}
		}
	})
}
