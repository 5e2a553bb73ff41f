package server

import (
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"buf.build/gen/go/bufbuild/protovalidate/protocolbuffers/go/buf/validate"
	"buf.build/go/protovalidate"
	userv1 "github.com/acme/user-service/gen/go/user/v1"
	"github.com/acme/user-service/services/user-server/internal/auth"
	"github.com/acme/user-service/services/user-server/internal/directory/file"
)

// corpusFile is the validation corpus shared with the Node client's test
// (services/user-client-node): one file, two validators, the same answers.
const corpusFile = "../../../../testdata/validation/cases.json"

type corpusViolation struct {
	Field   string `json:"field"`
	Rule    string `json:"rule"`
	Message string `json:"message"`
}

type corpusCase struct {
	Name    string `json:"name"`
	Request struct {
		UserID    corpusValue `json:"user_id"`
		AuthToken corpusValue `json:"auth_token"`
	} `json:"request"`
	Violations []corpusViolation `json:"violations"`
}

// corpusValue is a string, or a list of parts (strings or
// {"repeat": S, "times": N}) concatenated, so long values stay readable.
type corpusValue string

func (v *corpusValue) UnmarshalJSON(b []byte) error {
	var s string
	if json.Unmarshal(b, &s) == nil {
		*v = corpusValue(s)
		return nil
	}
	var parts []json.RawMessage
	if err := json.Unmarshal(b, &parts); err != nil {
		return err
	}
	var out strings.Builder
	for _, p := range parts {
		var rep struct {
			Repeat *string `json:"repeat"`
			Times  int     `json:"times"`
		}
		if json.Unmarshal(p, &s) == nil {
			out.WriteString(s)
		} else if err := json.Unmarshal(p, &rep); err == nil && rep.Repeat != nil {
			out.WriteString(strings.Repeat(*rep.Repeat, rep.Times))
		} else {
			return errors.New("corpus value part must be a string or {\"repeat\", \"times\"}: " + string(p))
		}
	}
	*v = corpusValue(out.String())
	return nil
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
			req := &userv1.GetUserDetailsRequest{UserId: string(c.Request.UserID), AuthToken: string(c.Request.AuthToken)}
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
