package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/acme/user-service/tools/internal/testrepo"
)

// openAPIDoc is the part of an OpenAPI document the tests read.
type openAPIDoc struct {
	Paths map[string]map[string]struct {
		Parameters []struct{ Name, In string }
		Security   []map[string][]string
		Responses  map[string]any
	}
	Components struct {
		Schemas         map[string]any
		SecuritySchemes map[string]struct{ Type, Scheme, Description string } `yaml:"securitySchemes"`
	}
}

func parseOpenAPI(t *testing.T, data []byte) openAPIDoc {
	t.Helper()
	var doc openAPIDoc
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatalf("%v:\n%s", err, data)
	}
	return doc
}

// checkSecured: no operation takes the token in its query, every one
// requires the bearer scheme, which the components declare.
func checkSecured(t *testing.T, doc openAPIDoc) (ops int) {
	t.Helper()
	for path, item := range doc.Paths {
		for method, op := range item {
			ops++
			for _, p := range op.Parameters {
				if p.Name == "authToken" || p.Name == "auth_token" {
					t.Errorf("%s %s: parameter %s in %s: the token must never be in a URL", method, path, p.Name, p.In)
				}
			}
			if len(op.Security) != 1 || op.Security[0][bearerScheme] == nil {
				t.Errorf("%s %s: security %v, want [{%s: []}]", method, path, op.Security, bearerScheme)
			}
		}
	}
	if s := doc.Components.SecuritySchemes[bearerScheme]; s.Type != "http" || s.Scheme != "bearer" || s.Description == "" {
		t.Errorf("securitySchemes.%s = %+v, want an http bearer scheme", bearerScheme, s)
	}
	return ops
}

func TestSecureOpenAPI(t *testing.T) {
	t.Parallel()
	const in = `# Generated with protoc-gen-openapi
# https://github.com/google/gnostic/tree/master/cmd/protoc-gen-openapi

openapi: 3.0.3
info:
    title: t
    version: v1
paths:
    /v1/users/{userId}:
        get:
            operationId: Get
            parameters:
                - name: userId
                  in: path
                  required: true
                  schema:
                    type: string
                - name: authToken
                  in: query
                  schema:
                    type: string
            responses:
                "200":
                    description: OK
    /v1/tokens:
        get:
            operationId: List
            parameters:
                - name: auth_token
                  in: query
                  schema:
                    type: string
            responses:
                "200":
                    description: OK
        post:
            operationId: Post
            responses:
                "200":
                    description: OK
components:
    schemas:
        Status:
            type: object
tags:
    - name: UserService
`
	out, err := secureOpenAPI([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	doc := parseOpenAPI(t, out)
	if ops := checkSecured(t, doc); ops != 3 {
		t.Errorf("%d operations, want 3:\n%s", ops, out)
	}
	// Everything else stays: the path parameter, the schemas, the
	// generator's header; security comes before the responses.
	get := doc.Paths["/v1/users/{userId}"]["get"]
	if len(get.Parameters) != 1 || get.Parameters[0].Name != "userId" || get.Parameters[0].In != "path" {
		t.Errorf("parameters %v, want the path's userId only", get.Parameters)
	}
	if doc.Paths["/v1/tokens"]["get"].Parameters != nil {
		t.Errorf("an operation left with no parameters keeps an empty list:\n%s", out)
	}
	if doc.Components.Schemas["Status"] == nil {
		t.Errorf("schemas lost:\n%s", out)
	}
	for _, want := range []string{
		"# Generated with protoc-gen-openapi\n",
		"                  required: true\n",
		"            security:\n                - bearerAuth: []\n            responses:\n",
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	// Applied to its own output, it changes nothing.
	again, err := secureOpenAPI(out)
	if err != nil || string(again) != string(out) {
		t.Errorf("second pass: %v, changed:\n%s", err, again)
	}

	for _, bad := range []string{"", "openapi: [", "a: b\n", "openapi: 3.0.3\n", "openapi: 3.0.3\npaths:\n    /x: {}\n"} {
		if _, err := secureOpenAPI([]byte(bad)); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

// TestCommittedOpenAPISecured: the committed document is the rewritten
// one (make check-generated keeps it the output of make generate).
func TestCommittedOpenAPISecured(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile(filepath.Join(testrepo.Root(t), "gen", "openapi", "openapi.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if ops := checkSecured(t, parseOpenAPI(t, data)); ops == 0 {
		t.Error("gen/openapi/openapi.yaml has no operations")
	}
}
