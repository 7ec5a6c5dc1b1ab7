// Package cli holds the command-line conventions shared by the five nvae-*
// binaries: flag sets with the official underscore names (hyphenated
// spellings accepted), the official train.py options (RegisterStruct),
// --help (Parse), usage errors and exit codes (Usagef, Exit). Progress
// lines are internal/progress, which library code prints too. Library
// packages know nothing of this one: mains parse their flags here and call
// into pkg/.
package cli

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/pflag"
)

// Exit statuses of every binary.
const (
	ExitOK    = 0 // success, or --help
	ExitFail  = 1 // the command failed
	ExitUsage = 2 // bad flags or arguments
)

// ErrHelp is returned by Parse when --help was given and the help has been
// printed; Exit maps it to status 0.
var ErrHelp = pflag.ErrHelp

// NormalizeFlagName maps hyphenated spellings onto the official underscore
// names, so --num-channels-enc is accepted as --num_channels_enc. Use it with
// pflag.FlagSet.SetNormalizeFunc.
func NormalizeFlagName(_ *pflag.FlagSet, name string) pflag.NormalizedName {
	return pflag.NormalizedName(strings.ReplaceAll(name, "-", "_"))
}

// NewFlagSet returns a flag set that reports errors instead of exiting,
// prints nothing by itself and accepts hyphenated spellings.
func NewFlagSet(name string) *pflag.FlagSet {
	fs := pflag.NewFlagSet(name, pflag.ContinueOnError)
	fs.SetNormalizeFunc(NormalizeFlagName)
	fs.SetOutput(io.Discard)
	return fs
}

// UsageError marks bad flags or arguments (exit status 2).
type UsageError struct{ Err error }

func (e UsageError) Error() string { return e.Err.Error() }
func (e UsageError) Unwrap() error { return e.Err }

// Usagef returns a UsageError with a formatted message.
func Usagef(format string, a ...any) error { return UsageError{fmt.Errorf(format, a...)} }

// Usage marks err as a usage error (nil stays nil).
func Usage(err error) error {
	if err == nil {
		return nil
	}
	return UsageError{err}
}

// IsUsage reports whether err is (or wraps) a UsageError.
func IsUsage(err error) bool {
	var ue UsageError
	return errors.As(err, &ue)
}

// PrintDefaults writes a help header and the flags of fs to w.
func PrintDefaults(w io.Writer, fs *pflag.FlagSet, header string) {
	fmt.Fprint(w, header)
	fs.SetOutput(w)
	fs.PrintDefaults()
	fs.SetOutput(io.Discard)
}

// Exit reports err as one line "prefix: message" on stderr (line breaks
// in the message become "; ") and returns the exit status: 0 for nil and
// ErrHelp, 2 for usage errors, 1 for everything else.
func Exit(stderr io.Writer, prefix string, err error) int {
	if err == nil || errors.Is(err, ErrHelp) {
		return ExitOK
	}
	msg := strings.ReplaceAll(strings.TrimSpace(err.Error()), "\n", "; ")
	fmt.Fprintf(stderr, "%s: %s\n", prefix, msg)
	if IsUsage(err) {
		return ExitUsage
	}
	return ExitFail
}

// Parse parses args with a --help/-h switch (defined here when fs lacks
// one). Flag errors become usage errors "err (see --help)"; with --help it
// prints header and the flags on stdout and returns ErrHelp.
func Parse(fs *pflag.FlagSet, args []string, stdout io.Writer, header string) error {
	if fs.Lookup("help") == nil {
		fs.BoolP("help", "h", false, "show this help")
	}
	if err := fs.Parse(args); err != nil {
		return Usagef("%v (see --help)", err)
	}
	if help, _ := fs.GetBool("help"); help {
		PrintDefaults(stdout, fs, header)
		return ErrHelp
	}
	return nil
}
