// Package validation enforces the protovalidate rules of request messages,
// answering the common case, a valid request, without protovalidate's
// general evaluator.
//
// protovalidate evaluates a GetUserDetailsRequest in about 0.35 µs, the
// largest share of the server's own work on an RPC: rule plans walked
// through reflection and interfaces, and Go's regexp engine, for what the
// contract states as a handful of string checks. For a message whose every
// rule is one of a small subset (required; string min_len, max_len and
// pattern) a Validator checks the rules itself. When they all hold the
// request is valid; when one does not, or the message has any rule outside
// the subset, protovalidate evaluates the message, so a rejected request
// gets exactly protovalidate's violations. The subset is read from the
// message's descriptor at start-up: a schema change that adds another kind
// of rule sends that message through protovalidate, never past its rules.
// A differential fuzz test holds the two to the same verdict.
package validation

import (
	"fmt"
	"regexp"
	"regexp/syntax"
	"unicode/utf8"

	"buf.build/gen/go/bufbuild/protovalidate/protocolbuffers/go/buf/validate"
	"buf.build/go/protovalidate"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// Validator validates messages as protovalidate does.
type Validator struct {
	full  protovalidate.Validator
	plans []*plan // one per message type checked directly; a handful, so a slice
}

// New compiles protovalidate's validator for msgs (an error in their rules
// fails here, not on the first request) and a direct check for each whose
// rules allow one.
func New(msgs ...proto.Message) (*Validator, error) {
	full, err := protovalidate.New(protovalidate.WithMessages(msgs...))
	if err != nil {
		return nil, err
	}
	v := &Validator{full: full}
	for _, m := range msgs {
		if p := planFor(m.ProtoReflect().Descriptor()); p != nil {
			v.plans = append(v.plans, p)
		}
	}
	return v, nil
}

// Validate returns nil if m satisfies its rules, else protovalidate's error
// (a *protovalidate.ValidationError listing the violations).
func (v *Validator) Validate(m proto.Message) error {
	if m != nil {
		r := m.ProtoReflect()
		if p := v.plan(r.Descriptor()); p != nil && p.holds(r) {
			return nil
		}
	}
	return v.full.Validate(m)
}

func (v *Validator) plan(md protoreflect.MessageDescriptor) *plan {
	for _, p := range v.plans {
		if p.desc == md {
			return p
		}
	}
	return nil
}

// plan is the direct check of one message type: its fields with rules.
type plan struct {
	desc   protoreflect.MessageDescriptor
	fields []fieldRules
}

// fieldRules are one string field's rules.
type fieldRules struct {
	desc     protoreflect.FieldDescriptor
	explicit bool // the field has explicit presence: unset, its rules are skipped
	required bool
	hasMin   bool
	min      uint64 // in runes, as protovalidate counts
	hasMax   bool
	max      uint64
	pattern  *pattern // nil: none
}

// planFor returns the direct check of md, or nil if any of its rules is
// outside the subset.
func planFor(md protoreflect.MessageDescriptor) *plan {
	if mr, err := protovalidate.ResolveMessageRules(md); err != nil || proto.Size(mr) != 0 {
		return nil // message-level rules: CEL expressions, oneof rules
	}
	for i := range md.Oneofs().Len() {
		if !md.Oneofs().Get(i).IsSynthetic() {
			return nil // a real oneof may carry rules of its own
		}
	}
	p := &plan{desc: md}
	for i := range md.Fields().Len() {
		fd := md.Fields().Get(i)
		if fd.Kind() == protoreflect.MessageKind || fd.Kind() == protoreflect.GroupKind {
			return nil // protovalidate validates nested messages, rules or not
		}
		fr, err := protovalidate.ResolveFieldRules(fd)
		if err != nil {
			return nil
		}
		if proto.Size(fr) == 0 {
			continue // no rules
		}
		if fd.Kind() != protoreflect.StringKind || fd.Cardinality() == protoreflect.Repeated {
			return nil
		}
		f, ok := stringRules(fd, fr)
		if !ok {
			return nil
		}
		p.fields = append(p.fields, f)
	}
	return p
}

// stringRules reads a string field's rules; ok is false if any is outside
// the subset. What is read is cleared from a copy: anything left (another
// rule, ignore, a predefined rule's extension, an unknown field) is outside.
func stringRules(fd protoreflect.FieldDescriptor, fr *validate.FieldRules) (fieldRules, bool) {
	rest := proto.CloneOf(fr)
	f := fieldRules{desc: fd, explicit: fd.HasPresence(), required: rest.GetRequired()}
	rest.ClearRequired()
	if rest.HasString() {
		sr := rest.GetString()
		if sr.HasMinLen() {
			f.hasMin, f.min = true, sr.GetMinLen()
			sr.ClearMinLen()
		}
		if sr.HasMaxLen() {
			f.hasMax, f.max = true, sr.GetMaxLen()
			sr.ClearMaxLen()
		}
		if sr.HasPattern() {
			p, err := compilePattern(sr.GetPattern())
			if err != nil {
				return fieldRules{}, false // protovalidate reports it
			}
			f.pattern = p
			sr.ClearPattern()
		}
		if proto.Size(sr) != 0 {
			return fieldRules{}, false
		}
		rest.ClearString()
	}
	return f, proto.Size(rest) == 0
}

// holds reports whether every rule holds for r; false means that
// protovalidate must decide.
func (p *plan) holds(r protoreflect.Message) bool {
	for i := range p.fields {
		f := &p.fields[i]
		if f.explicit && !r.Has(f.desc) {
			if f.required {
				return false
			}
			continue // protovalidate skips an unset field's rules
		}
		s := r.Get(f.desc).String()
		if f.required && !f.explicit && s == "" {
			return false // implicit presence: set means non-empty
		}
		if f.hasMin || f.hasMax {
			n := uint64(utf8.RuneCountInString(s))
			if (f.hasMin && n < f.min) || (f.hasMax && n > f.max) {
				return false
			}
		}
		if f.pattern != nil && !f.pattern.match(s) {
			return false
		}
	}
	return true
}

// pattern matches a string.pattern rule as protovalidate does (Go's regexp,
// RE2 syntax), with a table lookup per byte for the common shape ^[...]+$
// (or *) on ASCII input.
type pattern struct {
	re *regexp.Regexp
	// For ^[class]+$ and ^[class]*$: which ASCII bytes the class holds,
	// and whether the empty string matches.
	table      *[utf8.RuneSelf]bool
	emptyMatch bool
}

func compilePattern(expr string) (*pattern, error) {
	re, err := regexp.Compile(expr)
	if err != nil {
		return nil, fmt.Errorf("pattern %q: %w", expr, err)
	}
	p := &pattern{re: re}
	// regexp.Compile parses with syntax.Perl, as here.
	if parsed, err := syntax.Parse(expr, syntax.Perl); err == nil {
		p.table, p.emptyMatch = classRun(parsed.Simplify())
	}
	return p, nil
}

// classRun recognises ^[class]+$ and ^[class]*$ and returns the class's
// ASCII members.
func classRun(re *syntax.Regexp) (*[utf8.RuneSelf]bool, bool) {
	if re.Op != syntax.OpConcat || len(re.Sub) != 3 ||
		re.Sub[0].Op != syntax.OpBeginText || re.Sub[2].Op != syntax.OpEndText {
		return nil, false
	}
	rep := re.Sub[1]
	if (rep.Op != syntax.OpPlus && rep.Op != syntax.OpStar) || rep.Sub[0].Op != syntax.OpCharClass {
		return nil, false
	}
	class := rep.Sub[0].Rune // pairs of inclusive bounds: an even length
	var t [utf8.RuneSelf]bool
	for i := 0; i < len(class); i += 2 {
		for c := max(class[i], 0); c <= min(class[i+1], utf8.RuneSelf-1); c++ {
			t[c] = true
		}
	}
	return &t, rep.Op == syntax.OpStar
}

// match reports whether s matches.
func (p *pattern) match(s string) bool {
	if p.table == nil {
		return p.re.MatchString(s)
	}
	if s == "" {
		return p.emptyMatch
	}
	for i := 0; i < len(s); i++ {
		b := s[i]
		if b >= utf8.RuneSelf {
			return p.re.MatchString(s) // a multi-byte rune, or invalid UTF-8
		}
		if !p.table[b] {
			return false
		}
	}
	return true
}
