package main

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"buf.build/gen/go/bufbuild/protovalidate/protocolbuffers/go/buf/validate"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	userv1 "github.com/acme/user-service/gen/go/user/v1"
)

// cliCasesFile is the command-line behaviour table both clients run: this
// test, and services/user-client-node's test/cli-cases.test.ts.
const cliCasesFile = "../../testdata/cli/cases.json"

// cliText is a string, or {"hex": "..."} for bytes that are not UTF-8.
type cliText string

func (t *cliText) UnmarshalJSON(b []byte) error {
	var s string
	if json.Unmarshal(b, &s) == nil {
		*t = cliText(s)
		return nil
	}
	var h struct {
		Hex *string `json:"hex"`
	}
	if err := json.Unmarshal(b, &h); err != nil || h.Hex == nil {
		return errors.New(`want a string or {"hex": "..."}: ` + string(b))
	}
	raw, err := hex.DecodeString(*h.Hex)
	*t = cliText(raw)
	return err
}

type cliAnswer struct {
	Response *struct{ Name, Email, Status string } `json:"response"`
	Error    *struct {
		Code       string `json:"code"`
		Message    string `json:"message"`
		Violations []struct {
			Field, Rule, Message string
		} `json:"violations"`
	} `json:"error"`
}

type cliCase struct {
	Name   string             `json:"name"`
	Args   []cliText          `json:"args"`
	Env    map[string]cliText `json:"env"`
	Server *cliAnswer         `json:"server"`
	Exit   int                `json:"exit"`
	Stdout string             `json:"stdout"`
	Stderr string             `json:"stderr"`
}

// scriptedUsers answers every GetUserDetails call as a case says, "{token}"
// replaced by the request's auth_token.
type scriptedUsers struct {
	userv1.UnimplementedUserServiceServer
	answer cliAnswer
}

func (s *scriptedUsers) GetUserDetails(_ context.Context, req *userv1.GetUserDetailsRequest) (*userv1.GetUserDetailsResponse, error) {
	echo := func(t string) string { return strings.ReplaceAll(t, "{token}", req.GetAuthToken()) }
	if e := s.answer.Error; e != nil {
		code, ok := grpcCode(e.Code)
		if !ok {
			return nil, status.Errorf(codes.Internal, "test case names unknown code %q", e.Code)
		}
		st := status.New(code, echo(e.Message))
		if len(e.Violations) > 0 {
			var vs []*validate.Violation
			for _, v := range e.Violations {
				vs = append(vs, validate.Violation_builder{
					Field: validate.FieldPath_builder{Elements: []*validate.FieldPathElement{
						validate.FieldPathElement_builder{FieldName: proto.String(v.Field)}.Build(),
					}}.Build(),
					RuleId:  proto.String(echo(v.Rule)),
					Message: proto.String(echo(v.Message)),
				}.Build())
			}
			var err error
			if st, err = st.WithDetails(validate.Violations_builder{Violations: vs}.Build()); err != nil {
				return nil, err
			}
		}
		return nil, st.Err()
	}
	r := s.answer.Response
	if r == nil {
		return &userv1.GetUserDetailsResponse{}, nil
	}
	return &userv1.GetUserDetailsResponse{Name: echo(r.Name), Email: echo(r.Email), Status: echo(r.Status)}, nil
}

// grpcCode reads a code name as the table writes it ("not_found").
func grpcCode(name string) (codes.Code, bool) {
	for c := codes.OK; c <= codes.Unauthenticated; c++ {
		if strings.EqualFold(strings.ReplaceAll(c.String(), "_", ""), strings.ReplaceAll(name, "_", "")) {
			return c, true
		}
	}
	return 0, false
}

// TestCLICases runs the command-line table the Node client runs too: the
// same arguments and environment must give the same exit code and the
// same bytes on stdout and stderr.
func TestCLICases(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile(filepath.FromSlash(cliCasesFile))
	if err != nil {
		t.Fatal(err)
	}
	var table struct{ Cases []cliCase }
	if err := json.Unmarshal(b, &table); err != nil {
		t.Fatalf("%s: %v", cliCasesFile, err)
	}
	if len(table.Cases) < 50 {
		t.Fatalf("%s holds %d cases, want at least 50", cliCasesFile, len(table.Cases))
	}
	for _, c := range table.Cases {
		t.Run(c.Name, func(t *testing.T) {
			t.Parallel()
			addr := closedAddr(t)
			if c.Server != nil {
				addr = startFake(t, &fakeUsers{script: &scriptedUsers{answer: *c.Server}}, nil).addr
			}
			sub := func(s cliText) string { return strings.ReplaceAll(string(s), "{addr}", addr) }
			env := map[string]string{"USER_CLIENT_ADDR": addr}
			for k, v := range c.Env {
				env[k] = sub(v)
			}
			args := make([]string, len(c.Args))
			for i, a := range c.Args {
				args[i] = sub(a)
			}
			r := runCLI(t.Context(), env, args...)
			if r.code != c.Exit || r.stdout != c.Stdout || r.stderr != c.Stderr {
				t.Errorf("args %q env %q:\n got exit %d, stdout %q, stderr %q\nwant exit %d, stdout %q, stderr %q",
					args, env, r.code, r.stdout, r.stderr, c.Exit, c.Stdout, c.Stderr)
			}
		})
	}
}
