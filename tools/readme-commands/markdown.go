package main

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// A block is a fenced code block a README marks for checking.
type block struct {
	file string
	line int // the line of the opening fence
	kind string
	// needs: what the commands expect to be running ("user-server").
	needs string
	// fromRoot: the commands run at the repository root (from=root), as a
	// README that says "from the repository root" tells its reader, not in
	// the README's own directory.
	fromRoot bool
	// commands (kind commands) or the expected output lines (kind output).
	commands []command
	output   string
}

// A command is one command line of a block (continuation lines joined).
type command struct {
	line int
	text string
	// exit is the status the README says the command ends with: 0 unless
	// its trailing comment says "(exit N)".
	exit int
}

const (
	kindCommands = "readme-commands"
	kindOutput   = "readme-output"
)

// checkedElsewhere: marker kinds another test owns, which this one leaves
// alone (http-curl: TestDocsCurl in services/user-server runs those
// commands against a server with its HTTP listener on).
var checkedElsewhere = map[string]bool{"http-curl": true, "http-curl-output": true}

var (
	markerRE = regexp.MustCompile(`^<!--\s*checked:\s*(\S+)((?:\s+[a-z-]+=[a-z-]+)*)\s*-->$`)
	// The README's own convention for a command that fails on purpose:
	// `go run ./services/user-client --user nobody   # ... (exit 4)`.
	exitRE  = regexp.MustCompile(`#.*\(exit (\d+)\)\s*$`)
	fenceRE = regexp.MustCompile("^(`{3,}|~{3,})")
)

// parse returns the checked blocks of a Markdown file, in order. A marker
// is an HTML comment on the line before a fenced block (blank lines may
// come between); anything else there, an unknown kind or attribute, or a
// file with no checked block at all, is an error: a marker that silently
// stopped applying would leave its commands unchecked.
func parse(file, text string) ([]block, error) {
	var (
		blocks  []block
		pending *block // a marker waiting for its fence
		open    *block // the checked block being read
		fence   string // the opening fence of the block being read, checked or not
		indent  int
		body    []string
		bodyAt  []int
	)
	lines := strings.Split(text, "\n")
	for i, raw := range lines {
		n := i + 1
		trimmed := strings.TrimSpace(raw)
		if fence != "" {
			if strings.HasPrefix(trimmed, fence[:1]) && strings.Trim(trimmed, fence[:1]) == "" && len(trimmed) >= len(fence) {
				if open != nil {
					if err := open.fill(body, bodyAt); err != nil {
						return nil, err
					}
					blocks = append(blocks, *open)
				}
				fence, open, body, bodyAt = "", nil, nil, nil
				continue
			}
			if open != nil {
				body = append(body, strip(raw, indent))
				bodyAt = append(bodyAt, n)
			}
			continue
		}
		if m := fenceRE.FindString(trimmed); m != "" {
			fence, indent = m, len(raw)-len(strings.TrimLeft(raw, " \t"))
			if pending != nil {
				pending.line = n
				open, pending = pending, nil
			}
			continue
		}
		if strings.HasPrefix(trimmed, "<!--") && strings.Contains(trimmed, "checked:") {
			if m := markerRE.FindStringSubmatch(trimmed); m != nil && checkedElsewhere[m[1]] {
				continue
			}
			if pending != nil {
				return nil, fmt.Errorf("%s:%d: marker not followed by a fenced block", file, pending.line)
			}
			b, err := marker(file, n, trimmed)
			if err != nil {
				return nil, err
			}
			pending = &b
			continue
		}
		if pending != nil && trimmed != "" {
			return nil, fmt.Errorf("%s:%d: marker not followed by a fenced block", file, pending.line)
		}
	}
	if pending != nil {
		return nil, fmt.Errorf("%s:%d: marker not followed by a fenced block", file, pending.line)
	}
	if open != nil {
		return nil, fmt.Errorf("%s:%d: fenced block never closed", file, open.line)
	}
	if len(blocks) == 0 {
		return nil, fmt.Errorf("%s: no block marked <!-- checked: %s -->", file, kindCommands)
	}
	return blocks, nil
}

func marker(file string, n int, text string) (block, error) {
	m := markerRE.FindStringSubmatch(text)
	if m == nil {
		return block{}, fmt.Errorf("%s:%d: malformed marker %q (want <!-- checked: %s [needs=user-server] [from=root] --> or <!-- checked: %s -->)",
			file, n, text, kindCommands, kindOutput)
	}
	b := block{file: file, line: n, kind: m[1]}
	if b.kind != kindCommands && b.kind != kindOutput {
		return block{}, fmt.Errorf("%s:%d: unknown marker kind %q (want %s or %s)", file, n, b.kind, kindCommands, kindOutput)
	}
	for _, attr := range strings.Fields(m[2]) {
		key, value, _ := strings.Cut(attr, "=")
		switch {
		case b.kind == kindCommands && key == "needs" && value == "user-server":
			b.needs = value
		case b.kind == kindCommands && key == "from" && value == "root":
			b.fromRoot = true
		default:
			return block{}, fmt.Errorf("%s:%d: unknown attribute %q for %s", file, n, attr, b.kind)
		}
	}
	return b, nil
}

// fill sets the block's commands or output from its body lines.
func (b *block) fill(body []string, at []int) error {
	if b.kind == kindOutput {
		b.output = strings.Join(body, "\n") + "\n"
		return nil
	}
	for i := 0; i < len(body); i++ {
		text, line := body[i], at[i]
		for strings.HasSuffix(text, "\\") && i+1 < len(body) {
			i++
			text += "\n" + body[i] // bash joins them, as at a prompt
		}
		trimmed := strings.TrimSpace(text)
		if trimmed == "" || strings.HasPrefix(trimmed, "#") {
			continue
		}
		c := command{line: line, text: text}
		if m := exitRE.FindStringSubmatch(text); m != nil {
			exit, err := strconv.Atoi(m[1])
			if err != nil || exit > 255 {
				return fmt.Errorf("%s:%d: bad exit status in %q", b.file, line, text)
			}
			c.exit = exit
		}
		b.commands = append(b.commands, c)
	}
	if len(b.commands) == 0 {
		return errors.New(b.file + ":" + strconv.Itoa(b.line) + ": checked block holds no command")
	}
	return nil
}

// strip removes up to n leading spaces or tabs (the fence's indentation).
func strip(s string, n int) string {
	for n > 0 && s != "" && (s[0] == ' ' || s[0] == '\t') {
		s, n = s[1:], n-1
	}
	return s
}
