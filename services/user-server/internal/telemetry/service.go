package telemetry

import (
	"context"
	"fmt"

	"buf.build/gen/go/bufbuild/protovalidate/protocolbuffers/go/buf/validate"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// UserCounter reports how many users the directory holds.
type UserCounter interface{ UserCount() int }

// UserCountFunc adapts a function, such as (*userstore.Store).Len, to
// UserCounter.
type UserCountFunc func() int

// UserCount calls f.
func (f UserCountFunc) UserCount() int { return f() }

// CacheStats are a directory cache's counters since start-up.
type CacheStats struct {
	Hits, Misses, DBErrors uint64
}

// CacheStatsSource reports a directory cache's counters.
type CacheStatsSource interface{ CacheStats() CacheStats }

// CacheStatsFunc adapts a function to CacheStatsSource.
type CacheStatsFunc func() CacheStats

// CacheStats calls f.
func (f CacheStatsFunc) CacheStats() CacheStats { return f() }

// Metric names of the service's own instruments, as OpenTelemetry names
// them; /metrics shows them with underscores and _total on counters.
const (
	UsersMetric              = "user_server.directory.users"
	AuthFailuresMetric       = "user_server.auth.failures"
	ValidationFailuresMetric = "user_server.validation.failures"
	CacheHitsMetric          = "user_server.cache.hits"
	CacheMissesMetric        = "user_server.cache.misses"
	DBErrorsMetric           = "user_server.db.errors"
)

// other is the label value of anything outside the schema's known set.
const other = "other"

type ruleKey struct{ field, rule string }

// ServiceMetrics counts the service's failures. Its label values are fixed
// at start-up: auth failures by reason (missing, wrong) and validation
// failures by the field paths and rule ids declared in the request
// schemas. Nothing a caller sends becomes a label value. Safe for
// concurrent use; a nil *ServiceMetrics counts nothing.
type ServiceMetrics struct {
	authFailures       metric.Int64Counter
	authMissing        []metric.AddOption
	authWrong          []metric.AddOption
	validationFailures metric.Int64Counter
	validationOpts     map[ruleKey][]metric.AddOption
	knownFields        map[string]bool
}

func newServiceMetrics(ctx context.Context, meter metric.Meter, src Sources) (*ServiceMetrics, error) {
	m := &ServiceMetrics{validationOpts: map[ruleKey][]metric.AddOption{}, knownFields: map[string]bool{}}
	var err error
	if m.authFailures, err = meter.Int64Counter(AuthFailuresMetric,
		metric.WithDescription("Requests rejected for their auth token, by reason: missing or wrong."),
		metric.WithUnit("{request}")); err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	if m.validationFailures, err = meter.Int64Counter(ValidationFailuresMetric,
		metric.WithDescription("Validation rule violations, by field path and rule id from the request schema (other: not in the schema)."),
		metric.WithUnit("{violation}")); err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	reason := func(r string) []metric.AddOption {
		return []metric.AddOption{metric.WithAttributeSet(attribute.NewSet(attribute.String("reason", r)))}
	}
	m.authMissing, m.authWrong = reason("missing"), reason("wrong")
	// Every series exists from the start, at zero, so rates and alerts
	// work before the first failure.
	m.authFailures.Add(ctx, 0, m.authMissing...)
	m.authFailures.Add(ctx, 0, m.authWrong...)
	keys := append(schemaRules(src.Requests), ruleKey{other, other})
	for _, k := range keys {
		m.knownFields[k.field] = true
	}
	for f := range m.knownFields {
		keys = append(keys, ruleKey{f, other})
	}
	for _, k := range keys {
		if _, ok := m.validationOpts[k]; ok {
			continue
		}
		opts := []metric.AddOption{metric.WithAttributeSet(attribute.NewSet(
			attribute.String("field", k.field), attribute.String("rule", k.rule)))}
		m.validationOpts[k] = opts
		m.validationFailures.Add(ctx, 0, opts...)
	}
	if err := registerObservers(meter, src); err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	return m, nil
}

// AuthFailure counts a request rejected for a missing or a wrong token.
func (m *ServiceMetrics) AuthFailure(missing bool) {
	if m == nil {
		return
	}
	opts := m.authWrong
	if missing {
		opts = m.authMissing
	}
	m.authFailures.Add(context.Background(), 1, opts...)
}

// ValidationFailure counts one violated rule. A field path or rule id that
// the request schemas do not declare is counted under "other".
func (m *ServiceMetrics) ValidationFailure(field, rule string) {
	if m == nil {
		return
	}
	opts, ok := m.validationOpts[ruleKey{field, rule}]
	if !ok {
		if !m.knownFields[field] {
			field = other
		}
		opts = m.validationOpts[ruleKey{field, other}]
	}
	m.validationFailures.Add(context.Background(), 1, opts...)
}

// registerObservers reads the directory's size and cache counters when
// /metrics is scraped, not on every RPC.
func registerObservers(meter metric.Meter, src Sources) error {
	var insts []metric.Observable
	var users metric.Int64ObservableGauge
	var hits, misses, dbErrors metric.Int64ObservableCounter
	var err error
	if src.Users != nil {
		if users, err = meter.Int64ObservableGauge(UsersMetric,
			metric.WithDescription("Users in the directory."), metric.WithUnit("{user}")); err != nil {
			return err
		}
		insts = append(insts, users)
	}
	if src.Cache != nil {
		for _, c := range []struct {
			inst *metric.Int64ObservableCounter
			name string
			desc string
		}{
			{&hits, CacheHitsMetric, "Directory lookups answered from the cache."},
			{&misses, CacheMissesMetric, "Directory lookups that missed the cache."},
			{&dbErrors, DBErrorsMetric, "Directory database queries that failed."},
		} {
			if *c.inst, err = meter.Int64ObservableCounter(c.name, metric.WithDescription(c.desc)); err != nil {
				return err
			}
			insts = append(insts, *c.inst)
		}
	}
	if len(insts) == 0 {
		return nil
	}
	_, err = meter.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		if src.Users != nil {
			o.ObserveInt64(users, int64(src.Users.UserCount()))
		}
		if src.Cache != nil {
			s := src.Cache.CacheStats()
			o.ObserveInt64(hits, int64(s.Hits))
			o.ObserveInt64(misses, int64(s.Misses))
			o.ObserveInt64(dbErrors, int64(s.DBErrors))
		}
		return nil
	}, insts...)
	return err
}

// schemaRules lists the (field path, rule id) pairs the protovalidate rules
// of msgs can report: "required", the ids of the standard rules set on each
// field (declared in buf/validate/validate.proto as predefined rules), and
// the ids of the fields' own CEL rules. Field paths are field names joined
// by dots, as the server reports them.
func schemaRules(msgs []proto.Message) []ruleKey {
	var keys []ruleKey
	for _, msg := range msgs {
		keys = appendMessageRules(keys, msg.ProtoReflect().Descriptor(), "", map[protoreflect.FullName]bool{})
	}
	return keys
}

func appendMessageRules(keys []ruleKey, md protoreflect.MessageDescriptor, prefix string, seen map[protoreflect.FullName]bool) []ruleKey {
	if seen[md.FullName()] {
		return keys // recursive message: its paths are unbounded; "other"
	}
	seen[md.FullName()] = true
	defer delete(seen, md.FullName())
	fields := md.Fields()
	for i := range fields.Len() {
		fd := fields.Get(i)
		path := prefix + string(fd.Name())
		for _, id := range fieldRuleIDs(fd) {
			keys = append(keys, ruleKey{path, id})
		}
		if fd.Message() != nil && !fd.IsMap() && !fd.IsList() {
			keys = appendMessageRules(keys, fd.Message(), path+".", seen)
		}
	}
	return keys
}

func fieldRuleIDs(fd protoreflect.FieldDescriptor) []string {
	rules, _ := proto.GetExtension(fd.Options(), validate.E_Field).(*validate.FieldRules)
	if rules == nil {
		return nil
	}
	var ids []string
	if rules.GetRequired() {
		ids = append(ids, "required")
	}
	for _, r := range rules.GetCel() {
		ids = append(ids, r.GetId())
	}
	rm := rules.ProtoReflect()
	typ := rm.WhichOneof(rm.Descriptor().Oneofs().ByName("type"))
	if typ == nil || typ.Message() == nil {
		return ids
	}
	rm.Get(typ).Message().Range(func(f protoreflect.FieldDescriptor, _ protoreflect.Value) bool {
		pre, _ := proto.GetExtension(f.Options(), validate.E_Predefined).(*validate.PredefinedRules)
		for _, r := range pre.GetCel() {
			ids = append(ids, r.GetId())
		}
		return true
	})
	return ids
}
