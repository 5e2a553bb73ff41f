package config

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
)

// EnvPrefix starts every environment fallback.
const EnvPrefix = "USER_SERVER_"

// EnvName returns the environment fallback of a flag.
func EnvName(flagName string) string {
	return EnvPrefix + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// flagSet is a command's flags with what all of the server's commands
// share: every flag falls back to its environment variable (EnvName) when
// not given on the command line, the usage shows the variable, and a
// renamed flag keeps its old name, as a flag and as a variable, hidden
// from the usage but listed after it.
type flagSet struct {
	fs *flag.FlagSet
	// help is the command that prints the usage, for error messages.
	help    string
	renamed []rename // in the order declared
}

// rename is a flag's deprecated name and its current one.
type rename struct{ old, name string }

func newFlagSet(name string) *flagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return &flagSet{fs: fs, help: "--help"}
}

// renamedFrom makes old a deprecated name of the flag name, already
// defined: both set the same value.
func (f *flagSet) renamedFrom(name, old string) {
	f.fs.Var(f.fs.Lookup(name).Value, old, "deprecated name of --"+name)
	f.renamed = append(f.renamed, rename{old: old, name: name})
}

// oldName returns the deprecated name that maps to name, if any.
func (f *flagSet) oldName(name string) (string, bool) {
	for _, r := range f.renamed {
		if r.name == name {
			return r.old, true
		}
	}
	return "", false
}

func (f *flagSet) isOldName(name string) bool {
	for _, r := range f.renamed {
		if r.old == name {
			return true
		}
	}
	return false
}

// parsed is what parse learnt besides the values.
type parsed struct {
	// given holds the (current) names of the flags set on the command
	// line, by either name.
	given map[string]bool
	// deprecated says which deprecated names were used, one line each.
	deprecated []string
}

// parse parses args, then sets every flag not given on the command line
// from its environment variable, if set (so a flag wins even over a
// malformed variable). flag.ErrHelp is returned as is.
func (f *flagSet) parse(args []string, getenv func(string) string) (parsed, error) {
	p := parsed{given: map[string]bool{}}
	if err := f.fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return p, err
		}
		return p, fmt.Errorf("%v (see %s)", err, f.help)
	}
	if f.fs.NArg() > 0 {
		return p, fmt.Errorf("unexpected argument %q (see %s)", f.fs.Arg(0), f.help)
	}
	f.fs.Visit(func(fl *flag.Flag) { p.given[fl.Name] = true })
	for _, r := range f.renamed {
		if p.given[r.old] && p.given[r.name] {
			return p, fmt.Errorf("--%s and --%s are the same flag; give --%s only (--%s is deprecated)", r.old, r.name, r.name, r.old)
		}
		if p.given[r.old] {
			p.given[r.name] = true
			p.deprecated = append(p.deprecated, fmt.Sprintf("--%s is deprecated: use --%s", r.old, r.name))
		}
	}
	var err error
	f.fs.VisitAll(func(fl *flag.Flag) {
		if err != nil || p.given[fl.Name] || f.isOldName(fl.Name) {
			return
		}
		env, v := EnvName(fl.Name), getenv(EnvName(fl.Name))
		if old, ok := f.oldName(fl.Name); ok {
			oldEnv, oldV := EnvName(old), getenv(EnvName(old))
			switch {
			case oldV != "" && v != "":
				err = fmt.Errorf("%s and %s are the same setting; set %s only (%s is deprecated)", oldEnv, env, env, oldEnv)
				return
			case oldV != "":
				env, v = oldEnv, oldV
				p.deprecated = append(p.deprecated, fmt.Sprintf("%s is deprecated: use %s", oldEnv, EnvName(fl.Name)))
			}
		}
		if v == "" {
			return
		}
		if serr := f.fs.Set(fl.Name, v); serr != nil {
			err = fmt.Errorf("%s=%q: %v", env, v, serr)
		}
	})
	return p, err
}

// printDefaults writes the flags as the flag package does, each with its
// environment variable, then the deprecated names.
func (f *flagSet) printDefaults(w io.Writer) {
	shown := flag.NewFlagSet(f.fs.Name(), flag.ContinueOnError)
	f.fs.VisitAll(func(fl *flag.Flag) {
		if f.isOldName(fl.Name) {
			return
		}
		shown.Var(fl.Value, fl.Name, fl.Usage+" (env "+EnvName(fl.Name)+")")
		// The default, not whatever the command line set before --help.
		shown.Lookup(fl.Name).DefValue = fl.DefValue
	})
	shown.SetOutput(w)
	shown.PrintDefaults()
	if len(f.renamed) == 0 {
		return
	}
	fmt.Fprintln(w, "\nDeprecated names, still accepted as flags and environment variables:")
	for _, r := range f.renamed {
		fmt.Fprintf(w, "  -%s (env %s): use -%s\n", r.old, EnvName(r.old), r.name)
	}
}
