package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"buf.build/gen/go/bufbuild/protovalidate/protocolbuffers/go/buf/validate"
	"buf.build/go/protovalidate"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	_ "github.com/acme/user-service/gen/go/user/v1" // registers the request messages
	"github.com/acme/user-service/services/user-server/internal/auth"
	"github.com/acme/user-service/services/user-server/internal/directory/file"
)

// corpusFile is the validation corpus shared with the Node client's test
// (services/user-client-node-lib): one file, two validators, the same answers.
const corpusFile = "../../../../testdata/validation/cases.json"

type corpusViolation struct {
	Field   string `json:"field"`
	Rule    string `json:"rule"`
	Message string `json:"message"`
}

type corpusCase struct {
	Name string `json:"name"`
	// Message is the request's full name; Request is the message in
	// protobuf's JSON form, with {"$concat": [...]} objects for long strings.
	Message    string            `json:"message"`
	Request    json.RawMessage   `json:"request"`
	Violations []corpusViolation `json:"violations"`
}

// corpusRequest builds the case's request message: any message registered
// by the generated code (gen/go), from its JSON form once every
// {"$concat": [parts]} is replaced by the string its parts make (a part is
// a string or {"repeat": S, "times": N}), so long values stay readable.
func corpusRequest(c corpusCase) (proto.Message, error) {
	mt, err := protoregistry.GlobalTypes.FindMessageByName(protoreflect.FullName(c.Message))
	if err != nil {
		return nil, fmt.Errorf("message %q: %w", c.Message, err)
	}
	var tree any
	if err := json.Unmarshal(c.Request, &tree); err != nil {
		return nil, err
	}
	if tree, err = expandConcat(tree); err != nil {
		return nil, err
	}
	b, err := json.Marshal(tree)
	if err != nil {
		return nil, err
	}
	m := mt.New().Interface()
	return m, protojson.Unmarshal(b, m)
}

func expandConcat(v any) (any, error) {
	switch v := v.(type) {
	case map[string]any:
		if parts, ok := v["$concat"]; ok {
			list, ok := parts.([]any)
			if !ok || len(v) != 1 {
				return nil, fmt.Errorf(`{"$concat": [...]} takes a list and nothing else: %v`, v)
			}
			var out strings.Builder
			for _, p := range list {
				switch p := p.(type) {
				case string:
					out.WriteString(p)
				case map[string]any:
					s, ok1 := p["repeat"].(string)
					n, ok2 := p["times"].(float64)
					if !ok1 || !ok2 || len(p) != 2 {
						return nil, fmt.Errorf(`a part is a string or {"repeat": S, "times": N}: %v`, p)
					}
					out.WriteString(strings.Repeat(s, int(n)))
				default:
					return nil, fmt.Errorf(`a part is a string or {"repeat": S, "times": N}: %v`, p)
				}
			}
			return out.String(), nil
		}
		for k, e := range v {
			x, err := expandConcat(e)
			if err != nil {
				return nil, err
			}
			v[k] = x
		}
	case []any:
		for i, e := range v {
			x, err := expandConcat(e)
			if err != nil {
				return nil, err
			}
			v[i] = x
		}
	}
	return v, nil
}

// TestValidationCorpus runs every case of the shared corpus through the very
// validator New builds for the server, and requires exactly the listed
// violations (field path, rule id and message, in order).
func TestValidationCorpus(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile(filepath.FromSlash(corpusFile))
	if err != nil {
		t.Fatal(err)
	}
	var corpus struct{ Cases []corpusCase }
	if err := json.Unmarshal(b, &corpus); err != nil {
		t.Fatalf("%s: %v", corpusFile, err)
	}
	if len(corpus.Cases) < 25 {
		t.Fatalf("%s holds %d cases, want at least 25", corpusFile, len(corpus.Cases))
	}
	authn, err := auth.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := New(Config{Users: file.Embedded(), Auth: authn, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range corpus.Cases {
		t.Run(c.Name, func(t *testing.T) {
			t.Parallel()
			req, err := corpusRequest(c)
			if err != nil {
				t.Fatal(err)
			}
			got := []corpusViolation{}
			if err := srv.validator.Validate(req); err != nil {
				var ve *protovalidate.ValidationError
				if !errors.As(err, &ve) {
					t.Fatalf("Validate: %v, want a ValidationError", err)
				}
				for _, v := range ve.ToProto().GetViolations() {
					got = append(got, corpusViolation{
						Field: fieldPathString(v.GetField().GetElements()), Rule: v.GetRuleId(), Message: v.GetMessage(),
					})
				}
			}
			want := c.Violations
			if want == nil {
				want = []corpusViolation{}
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("violations:\n got %+v\nwant %+v", got, want)
			}
		})
	}
}

// fieldPathString joins the field names of a violation's path with dots
// (the request has no nested or repeated fields).
func fieldPathString(els []*validate.FieldPathElement) string {
	names := make([]string, len(els))
	for i, e := range els {
		names[i] = e.GetFieldName()
	}
	return strings.Join(names, ".")
}
