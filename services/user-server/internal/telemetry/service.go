package telemetry

import (
	"context"
	"sync/atomic"
	"time"

	"buf.build/gen/go/bufbuild/protovalidate/protocolbuffers/go/buf/validate"
	"github.com/acme/user-service/services/user-server/internal/directory"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// Metric names of the service's own metrics.
const (
	UsersMetric              = "user_server_directory_users"
	AuthFailuresMetric       = "user_server_auth_failures_total"
	ValidationFailuresMetric = "user_server_validation_failures_total"
	CacheHitsMetric          = "user_server_cache_hits_total"
	CacheMissesMetric        = "user_server_cache_misses_total"
	DBErrorsMetric           = "user_server_db_errors_total"
	DirectoryUpMetric        = "user_server_directory_up"
	LastSyncMetric           = "user_server_directory_last_sync_timestamp_seconds"
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
	authMissing, authWrong prometheus.Counter
	validation             map[ruleKey]prometheus.Counter
	knownFields            map[string]bool
}

func newServiceMetrics(reg prometheus.Registerer, src Sources) *ServiceMetrics {
	auth := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: AuthFailuresMetric,
		Help: "Requests rejected for their auth token, by reason: missing or wrong.",
	}, []string{"reason"})
	validation := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: ValidationFailuresMetric,
		Help: "Validation rule violations, by field path and rule id from the request schema (other: not in the schema).",
	}, []string{"field", "rule"})
	reg.MustRegister(auth, validation)
	// Every series exists from the start, at zero, so rates and alerts
	// work before the first failure.
	m := &ServiceMetrics{
		authMissing: auth.WithLabelValues("missing"),
		authWrong:   auth.WithLabelValues("wrong"),
		validation:  map[ruleKey]prometheus.Counter{},
		knownFields: map[string]bool{},
	}
	keys := append(schemaRules(src.Requests), ruleKey{other, other})
	for _, k := range keys {
		m.knownFields[k.field] = true
	}
	for f := range m.knownFields {
		keys = append(keys, ruleKey{f, other})
	}
	for _, k := range keys {
		m.validation[k] = validation.WithLabelValues(k.field, k.rule)
	}

	if dir := src.Directory; dir != nil {
		reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: UsersMetric, Help: "Users in the directory.",
		}, userCount(dir)))
		reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: DirectoryUpMetric, Help: "1 while the directory can answer every lookup (its database reachable), else 0.",
		}, func() float64 {
			if dir.Stats().Up {
				return 1
			}
			return 0
		}))
		// Whether the directory has a cache does not change once it is
		// open: its counters are registered only if it has one.
		if dir.Stats().Cache != nil {
			for _, c := range []struct {
				name, help string
				get        func(*directory.CacheStats) uint64
			}{
				{CacheHitsMetric, "Directory lookups answered from the cache.", func(s *directory.CacheStats) uint64 { return s.Hits }},
				{CacheMissesMetric, "Directory lookups that missed the cache.", func(s *directory.CacheStats) uint64 { return s.Misses }},
				{DBErrorsMetric, "Directory database queries that failed.", func(s *directory.CacheStats) uint64 { return s.DBErrors }},
			} {
				reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: c.name, Help: c.help},
					func() float64 { return float64(c.get(dir.Stats().Cache)) }))
			}
			reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
				Name: LastSyncMetric, Help: "Unix time the directory's cache was last known current with its database; 0 before the first.",
			}, func() float64 {
				if t := dir.Stats().Cache.LastSync; !t.IsZero() {
					return float64(t.UnixNano()) / 1e9
				}
				return 0
			}))
		}
	}
	return m
}

// countTimeout bounds a scrape's count of the directory (a query, with a
// database).
const countTimeout = 2 * time.Second

// userCount reads the directory's size at scrape time; when counting fails
// (the database is away), the last count stands.
func userCount(dir directory.Directory) func() float64 {
	var last atomic.Int64
	return func() float64 {
		ctx, cancel := context.WithTimeout(context.Background(), countTimeout)
		defer cancel()
		if n, err := dir.Count(ctx); err == nil {
			last.Store(int64(n))
		}
		return float64(last.Load())
	}
}

// AuthFailure counts a request rejected for a missing or a wrong token.
func (m *ServiceMetrics) AuthFailure(missing bool) {
	if m == nil {
		return
	}
	if missing {
		m.authMissing.Inc()
	} else {
		m.authWrong.Inc()
	}
}

// ValidationFailure counts one violated rule. A field path or rule id that
// the request schemas do not declare is counted under "other".
func (m *ServiceMetrics) ValidationFailure(field, rule string) {
	if m == nil {
		return
	}
	c, ok := m.validation[ruleKey{field, rule}]
	if !ok {
		if !m.knownFields[field] {
			field = other
		}
		c = m.validation[ruleKey{field, other}]
	}
	c.Inc()
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
