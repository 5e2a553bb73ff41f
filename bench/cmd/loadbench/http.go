package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/acme/user-service/bench/internal/reference"
	userv1 "github.com/acme/user-service/gen/go/user/v1"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

// httpCall is one HTTP request of an HTTP load, as h2load sends it.
type httpCall struct {
	path        string   // after the base URL
	contentType string   // "" without a body
	body        []byte   // nil: a GET
	headers     []string // "name: value"
	json        bool     // the reply is JSON (else binary protobuf)
}

// newHTTPCall is load's request for user with token.
func newHTTPCall(load, user, token string) (httpCall, error) {
	req := &userv1.GetUserDetailsRequest{UserId: user, AuthToken: token}
	switch load {
	case connectProto:
		body, err := proto.Marshal(req)
		return httpCall{path: method, contentType: "application/proto", body: body, headers: []string{"connect-protocol-version: 1"}}, err
	case connectJSON:
		body, err := protojson.Marshal(req)
		return httpCall{path: method, contentType: "application/json", body: body, headers: []string{"connect-protocol-version: 1"}, json: true}, err
	case restJSON:
		// The token never travels in the URL.
		return httpCall{path: "/v1/users/" + url.PathEscape(user), headers: []string{"authorization: Bearer " + token}, json: true}, nil
	}
	return httpCall{}, fmt.Errorf("unknown HTTP load %q", load)
}

// do sends c to base over HTTP/1.1 and returns the status and body.
func (c httpCall) do(ctx context.Context, client *http.Client, base string) (int, []byte, error) {
	httpMethod, body := http.MethodGet, io.Reader(nil)
	if c.body != nil {
		httpMethod, body = http.MethodPost, bytes.NewReader(c.body)
	}
	req, err := http.NewRequestWithContext(ctx, httpMethod, base+c.path, body)
	if err != nil {
		return 0, nil, err
	}
	if c.contentType != "" {
		req.Header.Set("Content-Type", c.contentType)
	}
	for _, h := range c.headers {
		k, v, _ := strings.Cut(h, ":")
		req.Header.Set(k, strings.TrimSpace(v))
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

// checkHTTP makes load's reference call against base and its two failing
// calls (a wrong token, an unknown user), as check does over gRPC: the
// calls h2load repeats must get the reference reply, and errors must not
// be 2xx, since the HTTP status is how the run counts them.
func checkHTTP(ctx context.Context, load, base, token string) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	for _, tc := range []struct {
		user, token string
		want        int
	}{
		{reference.UserID, token, http.StatusOK},
		{reference.UserID, token + "x", http.StatusUnauthorized},
		{"nobody", token, http.StatusNotFound},
	} {
		call, err := newHTTPCall(load, tc.user, tc.token)
		if err != nil {
			return err
		}
		code, body, err := call.do(ctx, client, base)
		if err != nil {
			return fmt.Errorf("%s %s: %w", load, call.path, err)
		}
		if code != tc.want {
			return fmt.Errorf("%s %s (user %s): HTTP %d, want %d: %s", load, call.path, tc.user, code, tc.want, body)
		}
		if code != http.StatusOK {
			continue
		}
		got := &userv1.GetUserDetailsResponse{}
		if call.json {
			err = protojson.Unmarshal(body, got)
		} else {
			err = proto.Unmarshal(body, got)
		}
		if err != nil {
			return fmt.Errorf("%s reference reply %q: %w", load, body, err)
		}
		if !proto.Equal(got, reference.Response) {
			return fmt.Errorf("%s reference call returned %v, want %v", load, got, reference.Response)
		}
	}
	return nil
}

// urlWatcher passes a server's stdout through and reports the rest of the
// first line that starts with prefix (the user-server's "http on URL").
// Writes come from one goroutine.
type urlWatcher struct {
	prefix string
	found  chan string // buffered, 1
	line   []byte
	done   bool
}

func (w *urlWatcher) Write(p []byte) (int, error) {
	if w.done {
		return len(p), nil
	}
	w.line = append(w.line, p...)
	for {
		i := bytes.IndexByte(w.line, '\n')
		if i < 0 {
			break
		}
		line := strings.TrimSpace(string(w.line[:i]))
		w.line = w.line[i+1:]
		if u, ok := strings.CutPrefix(line, w.prefix); ok {
			w.found <- u
			w.done, w.line = true, nil
			break
		}
	}
	return len(p), nil
}
