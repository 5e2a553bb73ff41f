package procstat

import (
	"os"
	"testing"
	"time"
)

func TestParseStat(t *testing.T) {
	t.Parallel()
	// A command name with spaces and a ')' must not shift the fields.
	line := "4242 (user) server) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 75 0 0 20 0 8 0 12345 1000000 500 18446744073709551615\n"
	got, err := parseStat([]byte(line))
	if err != nil {
		t.Fatal(err)
	}
	if want := 3250 * time.Millisecond; got != want {
		t.Fatalf("CPU = %v, want %v", got, want)
	}
	if _, err := parseStat([]byte("4242 no parenthesis")); err == nil {
		t.Fatal("malformed line: want an error")
	}
}

func TestParseStatus(t *testing.T) {
	t.Parallel()
	in := "Name:\tuser-server\nVmPeak:\t  999 kB\nVmHWM:\t   23456 kB\nVmRSS:\t   12345 kB\nThreads:\t7\n"
	got, err := parseStatus([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	if got != (Status{RSSKiB: 12345, Threads: 7, PeakRSSKiB: 23456}) {
		t.Fatalf("got %+v", got)
	}
	if _, err := parseStatus([]byte("Name:\tx\n")); err == nil {
		t.Fatal("missing fields: want an error")
	}
}

func TestSelf(t *testing.T) {
	t.Parallel()
	if _, err := CPU(os.Getpid()); err != nil {
		t.Fatal(err)
	}
	st, err := ReadStatus(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if st.RSSKiB <= 0 || st.Threads <= 0 {
		t.Fatalf("implausible status of this process: %+v", st)
	}
}
