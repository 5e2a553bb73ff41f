package telemetry

import (
	"context"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"buf.build/gen/go/bufbuild/protovalidate/protocolbuffers/go/buf/validate"
	userv1 "github.com/acme/user-service/gen/go/user/v1"
	"github.com/acme/user-service/services/user-server/internal/directory"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"
)

func TestSchemaRules(t *testing.T) {
	t.Parallel()
	got := schemaRules([]proto.Message{&userv1.GetUserDetailsRequest{}})
	want := []ruleKey{
		{"user_id", "required"}, {"user_id", "string.max_len"}, {"user_id", "string.pattern"},
		{"auth_token", "required"}, {"auth_token", "string.max_len"},
	}
	if !slices.Equal(got, want) {
		t.Errorf("schemaRules = %v, want %v", got, want)
	}
}

// TestValidationLabelsBounded: whatever field path or rule id reaches the
// counter, /metrics shows only the label values fixed at start-up.
func TestValidationLabelsBounded(t *testing.T) {
	t.Parallel()
	tel, err := New(t.Context(), Config{MetricsListen: "127.0.0.1:0"}, Sources{Requests: []proto.Message{&userv1.GetUserDetailsRequest{}}})
	if err != nil {
		t.Fatal(err)
	}
	before := validationSeries(t, tel)
	obs := tel.Observer()
	obs.ValidationFailure("user_id", "string.pattern")
	obs.ValidationFailure("user_id", "caller-rule-1")
	obs.ValidationFailure("caller.field", "string.pattern")
	obs.ValidationFailure("caller-field-2", "caller-rule-2")
	obs.AuthFailure(true)
	after := validationSeries(t, tel)
	if !slices.Equal(before, after) {
		t.Errorf("series changed:\nbefore %q\nafter  %q", before, after)
	}
	body := scrapeText(t, tel)
	for _, want := range []string{
		`user_server_validation_failures_total{field="user_id",rule="string.pattern"} 1`,
		`user_server_validation_failures_total{field="user_id",rule="other"} 1`,
		`user_server_validation_failures_total{field="other",rule="other"} 2`,
		`user_server_auth_failures_total{reason="missing"} 1`,
		`user_server_auth_failures_total{reason="wrong"} 0`,
	} {
		if !strings.Contains(body, want+"\n") {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if strings.Contains(body, "caller") {
		t.Error("a caller-supplied string became a label value")
	}
}

func scrapeText(t *testing.T, tel *Telemetry) string {
	t.Helper()
	rec := httptest.NewRecorder()
	tel.MetricsHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	return rec.Body.String()
}

// validationSeries lists the validation counter's series, without values.
func validationSeries(t *testing.T, tel *Telemetry) []string {
	var series []string
	for _, l := range strings.Split(scrapeText(t, tel), "\n") {
		if strings.HasPrefix(l, ValidationFailuresMetric+"{") {
			series = append(series, l[:strings.LastIndex(l, " ")])
		}
	}
	if len(series) == 0 {
		t.Fatal("no validation series")
	}
	return series
}

// cachedDirectory is a directory with a cache, as far as the metrics see:
// a user count and cache counters.
type cachedDirectory struct {
	directory.Directory // nil: the metrics call only Count and Stats
	users               int
	stats               directory.CacheStats
}

func (d cachedDirectory) Count(context.Context) (int, error) { return d.users, nil }
func (d cachedDirectory) Stats() directory.Stats {
	return directory.Stats{Up: true, Cache: &d.stats}
}

// TestCacheSource: the cache counters and user count are read from their
// sources when /metrics is scraped.
func TestCacheSource(t *testing.T) {
	t.Parallel()
	stats := directory.CacheStats{Hits: 7, Misses: 3, DBErrors: 1}
	tel, err := New(t.Context(), Config{MetricsListen: "127.0.0.1:0"}, Sources{
		Directory: cachedDirectory{users: 42, stats: stats},
	})
	if err != nil {
		t.Fatal(err)
	}
	body := scrapeText(t, tel)
	for _, want := range []string{UsersMetric + " 42", CacheHitsMetric + " 7", CacheMissesMetric + " 3", DBErrorsMetric + " 1"} {
		if !strings.Contains(body, want+"\n") {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}

// flakyCount counts n users, or fails while the database is away.
type flakyCount struct {
	directory.Directory // nil: the gauge calls only Count
	n                   int
	away                bool
}

func (d *flakyCount) Count(context.Context) (int, error) {
	if d.away {
		return 0, directory.ErrUnavailable
	}
	return d.n, nil
}

// TestUserCountLastStands: a count that fails (the database is away)
// leaves the gauge at the last count, not at zero.
func TestUserCountLastStands(t *testing.T) {
	t.Parallel()
	d := &flakyCount{n: 5}
	count := userCount(d)
	if got := count(); got != 5 {
		t.Fatalf("count = %v, want 5", got)
	}
	d.away = true
	if got := count(); got != 5 {
		t.Errorf("count while the database is away = %v, want the last count, 5", got)
	}
	d.away, d.n = false, 6
	if got := count(); got != 6 {
		t.Errorf("count after the database came back = %v, want 6", got)
	}
}

// TestSchemaRulesNested: a singular message field's rules are listed under
// its dotted path; a recursive message is walked once (deeper paths count
// as "other"); repeated and map fields are not entered.
func TestSchemaRulesNested(t *testing.T) {
	t.Parallel()
	rules := func(r *validate.FieldRules) *descriptorpb.FieldOptions {
		o := &descriptorpb.FieldOptions{}
		proto.SetExtension(o, validate.E_Field, r)
		return o
	}
	field := func(name string, n int32, typ descriptorpb.FieldDescriptorProto_Type, typeName string, opts *descriptorpb.FieldOptions) *descriptorpb.FieldDescriptorProto {
		f := &descriptorpb.FieldDescriptorProto{
			Name: proto.String(name), Number: proto.Int32(n), Type: typ.Enum(),
			Label: descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL.Enum(), Options: opts,
		}
		if typeName != "" {
			f.TypeName = proto.String(typeName)
		}
		return f
	}
	const msg = descriptorpb.FieldDescriptorProto_TYPE_MESSAGE
	const str = descriptorpb.FieldDescriptorProto_TYPE_STRING
	list := field("list", 3, msg, ".nested.Inner", rules(&validate.FieldRules{Required: proto.Bool(true)}))
	list.Label = descriptorpb.FieldDescriptorProto_LABEL_REPEATED.Enum()
	fdp := &descriptorpb.FileDescriptorProto{
		Name: proto.String("nested.proto"), Package: proto.String("nested"), Syntax: proto.String("proto3"),
		Dependency: []string{"buf/validate/validate.proto"},
		MessageType: []*descriptorpb.DescriptorProto{{
			Name: proto.String("Outer"),
			Field: []*descriptorpb.FieldDescriptorProto{
				field("inner", 1, msg, ".nested.Inner", rules(&validate.FieldRules{Required: proto.Bool(true)})),
				field("name", 2, str, "", rules(&validate.FieldRules{Cel: []*validate.Rule{{Id: proto.String("name.custom")}}})),
				list,
			},
		}, {
			Name: proto.String("Inner"),
			Field: []*descriptorpb.FieldDescriptorProto{
				field("code", 1, str, "", rules(&validate.FieldRules{Type: &validate.FieldRules_String_{String_: &validate.StringRules{MinLen: proto.Uint64(1)}}})),
				field("back", 2, msg, ".nested.Outer", nil),
			},
		}},
	}
	fd, err := protodesc.NewFile(fdp, protoregistry.GlobalFiles)
	if err != nil {
		t.Fatal(err)
	}
	outer := dynamicpb.NewMessage(fd.Messages().ByName("Outer"))
	got := schemaRules([]proto.Message{outer})
	want := []ruleKey{
		{"inner", "required"}, {"inner.code", "string.min_len"},
		{"name", "name.custom"}, {"list", "required"},
	}
	if !slices.Equal(got, want) {
		t.Errorf("schemaRules = %v, want %v", got, want)
	}
}
