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
// not given on the command line, and the usage shows the variable.
type flagSet struct {
	fs *flag.FlagSet
	// help is the command that prints the usage, for error messages.
	help string
}

func newFlagSet(name string) *flagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return &flagSet{fs: fs, help: "--help"}
}

// parsed is what parse learnt besides the values.
type parsed struct {
	// given holds the names of the flags set on the command line.
	given map[string]bool
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
	var err error
	f.fs.VisitAll(func(fl *flag.Flag) {
		if err != nil || p.given[fl.Name] {
			return
		}
		env, v := EnvName(fl.Name), getenv(EnvName(fl.Name))
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
// environment variable.
func (f *flagSet) printDefaults(w io.Writer) {
	shown := flag.NewFlagSet(f.fs.Name(), flag.ContinueOnError)
	f.fs.VisitAll(func(fl *flag.Flag) {
		shown.Var(fl.Value, fl.Name, fl.Usage+" (env "+EnvName(fl.Name)+")")
		// The default, not whatever the command line set before --help.
		shown.Lookup(fl.Name).DefValue = fl.DefValue
	})
	shown.SetOutput(w)
	shown.PrintDefaults()
}
