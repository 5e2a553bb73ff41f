package main

import (
	"slices"
	"testing"
)

func TestParseDepsAndCompare(t *testing.T) {
	t.Parallel()
	workspace := parseDeps([]byte("/tmp/x: go1.26.8\n\tpath\texample.com/svc\n\tmod\texample.com/svc\t(devel)\t\n" +
		"\tdep\texample.com/gen\t(devel)\t\n" +
		"\tdep\tgoogle.golang.org/grpc\tv1.85.0\th1:aaa=\n" +
		"\tdep\tgolang.org/x/net\tv0.61.0\th1:new=\n"))
	standalone := parseDeps([]byte("/tmp/y: go1.26.8\n" +
		"\tdep\texample.com/gen\tv0.0.0\t\n\t=>\t../../gen\t(devel)\t\n" +
		"\tdep\tgoogle.golang.org/grpc\tv1.85.0\th1:aaa=\n" +
		"\tdep\tgolang.org/x/net\tv0.60.0\th1:old=\n" +
		"\tdep\tgolang.org/x/text\tv0.42.0\th1:t=\n"))
	if got := workspace["example.com/gen"]; got != "local" {
		t.Errorf("workspace module recorded as %q, want local", got)
	}
	if got := standalone["example.com/gen"]; got != "local" {
		t.Errorf("locally replaced module recorded as %q, want local", got)
	}
	got := compare(workspace, standalone)
	want := []string{
		"golang.org/x/net: v0.61.0 h1:new= in the workspace, v0.60.0 h1:old= standalone",
		"golang.org/x/text: absent in the workspace, v0.42.0 h1:t= standalone",
	}
	if !slices.Equal(got, want) {
		t.Errorf("compare() =\n%q\nwant\n%q", got, want)
	}
	if d := compare(workspace, workspace); len(d) != 0 {
		t.Errorf("compare(same) = %q, want none", d)
	}
}
