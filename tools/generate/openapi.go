package main

import (
	"bytes"
	"errors"
	"fmt"
	"slices"

	"go.yaml.in/yaml/v3"
)

// protoc-gen-openapi turns every request field that is not in the route's
// path into a query parameter, the auth token included: the document would
// invite REST callers to put their token in a URL (where proxies and
// access logs keep it), which the contract forbids and the server refuses.
// secureOpenAPI rewrites what it wrote: the token's query parameter is
// dropped and every operation requires the bearer scheme instead, the way
// the contract says a REST caller passes the token.

// tokenParams are the names protoc-gen-openapi gives the auth_token field
// (its JSON name, or the proto name with naming=proto).
var tokenParams = []string{"authToken", "auth_token"}

// Security scheme of the document.
const (
	bearerScheme      = "bearerAuth"
	bearerDescription = "The auth token, as `Authorization: Bearer <token>`; never in a URL (a query parameter carrying one is refused)."
)

// operationKeys are the keys of an OpenAPI path item that hold operations.
var operationKeys = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

// secureOpenAPI drops the auth token's query parameters from an OpenAPI 3
// document and declares the bearer scheme on every operation. It keeps the
// document's order, comments and layout (yaml.v3, which protoc-gen-openapi
// writes with), and applied to its own output it changes nothing.
func secureOpenAPI(data []byte) ([]byte, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("openapi: %w", err)
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode || get(doc.Content[0], "openapi") == nil {
		return nil, errors.New("openapi: not an OpenAPI document")
	}
	root := doc.Content[0]
	paths := get(root, "paths")
	if paths == nil || paths.Kind != yaml.MappingNode {
		return nil, errors.New("openapi: the document has no paths")
	}
	ops := 0
	for i := 1; i < len(paths.Content); i += 2 {
		item := paths.Content[i]
		for _, key := range operationKeys {
			op := get(item, key)
			if op == nil || op.Kind != yaml.MappingNode {
				continue
			}
			ops++
			secureOperation(op)
		}
	}
	if ops == 0 {
		return nil, errors.New("openapi: the document has no operations")
	}
	components := get(root, "components")
	if components == nil {
		components = &yaml.Node{Kind: yaml.MappingNode}
		set(root, "components", components, "tags")
	}
	schemes := get(components, "securitySchemes")
	if schemes == nil {
		schemes = &yaml.Node{Kind: yaml.MappingNode}
		set(components, "securitySchemes", schemes, "")
	}
	set(schemes, bearerScheme, mapping(
		"type", scalar("http"),
		"scheme", scalar("bearer"),
		"description", scalar(bearerDescription),
	), "")

	var out bytes.Buffer
	enc := yaml.NewEncoder(&out)
	enc.SetIndent(4) // protoc-gen-openapi's (yaml.Marshal's) indentation
	if err := enc.Encode(&doc); err != nil {
		return nil, fmt.Errorf("openapi: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("openapi: %w", err)
	}
	return out.Bytes(), nil
}

// secureOperation drops op's token query parameters and requires the
// bearer scheme.
func secureOperation(op *yaml.Node) {
	if params := get(op, "parameters"); params != nil && params.Kind == yaml.SequenceNode {
		params.Content = slices.DeleteFunc(params.Content, func(p *yaml.Node) bool {
			name, in := get(p, "name"), get(p, "in")
			return name != nil && in != nil && in.Value == "query" && slices.Contains(tokenParams, name.Value)
		})
		if len(params.Content) == 0 {
			del(op, "parameters")
		}
	}
	requirement := &yaml.Node{Kind: yaml.SequenceNode, Content: []*yaml.Node{
		mapping(bearerScheme, &yaml.Node{Kind: yaml.SequenceNode, Style: yaml.FlowStyle}),
	}}
	set(op, "security", requirement, "responses")
}

// get returns the value of key in the mapping m, or nil.
func get(m *yaml.Node, key string) *yaml.Node {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

// set replaces the value of key in the mapping m or, when m lacks key,
// inserts it before the key before (at the end when m lacks that too).
func set(m *yaml.Node, key string, v *yaml.Node, before string) {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			m.Content[i+1] = v
			return
		}
	}
	at := len(m.Content)
	for i := 0; i+1 < len(m.Content); i += 2 {
		if before != "" && m.Content[i].Value == before {
			at = i
			break
		}
	}
	m.Content = slices.Insert(m.Content, at, scalar(key), v)
}

// del removes key from the mapping m.
func del(m *yaml.Node, key string) {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			m.Content = slices.Delete(m.Content, i, i+2)
			return
		}
	}
}

func scalar(s string) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s}
}

// mapping builds a mapping from key, value pairs.
func mapping(kv ...any) *yaml.Node {
	m := &yaml.Node{Kind: yaml.MappingNode}
	for i := 0; i < len(kv); i += 2 {
		m.Content = append(m.Content, scalar(kv[i].(string)), kv[i+1].(*yaml.Node))
	}
	return m
}
