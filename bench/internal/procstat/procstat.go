// Package procstat reads a process's CPU time, memory and thread count from
// Linux /proc, so benchmarks can measure a server from the outside without
// instrumenting it.
package procstat

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// userHZ is the unit of the utime/stime fields of /proc/PID/stat. Linux
// fixes it at 100 for user space regardless of the kernel's CONFIG_HZ.
const userHZ = 100

// CPU returns the user plus system CPU time the process has used so far,
// summed over all its threads (10 ms resolution).
func CPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	return parseStat(b)
}

func parseStat(b []byte) (time.Duration, error) {
	// The command name (field 2) is in parentheses and may contain spaces
	// or parentheses itself: the fields that follow start after the last ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("procstat: malformed stat line %q", b)
	}
	f := strings.Fields(string(b[i+1:]))
	// f[0] is field 3 (state); utime and stime are fields 14 and 15.
	if len(f) < 13 {
		return 0, fmt.Errorf("procstat: stat line has %d fields after the name, want at least 13", len(f))
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("procstat: bad utime/stime %q %q", f[11], f[12])
	}
	return time.Duration(utime+stime) * time.Second / userHZ, nil
}

// Status is the part of /proc/PID/status a soak test watches.
type Status struct {
	RSSKiB  int64 // VmRSS: resident set size
	Threads int   // OS threads
	// PeakRSSKiB is VmHWM: the highest RSS since the process started or
	// last exec'd (0 if the kernel does not say). Unlike a child's
	// getrusage ru_maxrss, it does not count the parent's memory that a
	// vfork-style start (Go's os/exec) shares with the child before exec.
	PeakRSSKiB int64
}

// ReadStatus reads /proc/PID/status.
func ReadStatus(pid int) (Status, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return Status{}, err
	}
	return parseStatus(b)
}

func parseStatus(b []byte) (Status, error) {
	var st Status
	var haveRSS, haveThreads bool
	for line := range strings.Lines(string(b)) {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		f := strings.Fields(v)
		if len(f) == 0 {
			continue
		}
		switch k {
		case "VmRSS":
			n, err := strconv.ParseInt(f[0], 10, 64)
			if err != nil {
				return Status{}, fmt.Errorf("procstat: bad VmRSS %q", v)
			}
			st.RSSKiB, haveRSS = n, true
		case "VmHWM":
			n, err := strconv.ParseInt(f[0], 10, 64)
			if err != nil {
				return Status{}, fmt.Errorf("procstat: bad VmHWM %q", v)
			}
			st.PeakRSSKiB = n
		case "Threads":
			n, err := strconv.Atoi(f[0])
			if err != nil {
				return Status{}, fmt.Errorf("procstat: bad Threads %q", v)
			}
			st.Threads, haveThreads = n, true
		}
	}
	if !haveRSS || !haveThreads {
		return Status{}, fmt.Errorf("procstat: status lacks VmRSS or Threads")
	}
	return st, nil
}
