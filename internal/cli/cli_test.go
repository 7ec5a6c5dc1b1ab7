package cli

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestExitAndParse(t *testing.T) {
	var stderr bytes.Buffer
	for _, c := range []struct {
		err  error
		code int
		line string
	}{
		{nil, 0, ""},
		{ErrHelp, 0, ""},
		{fmt.Errorf("wrapped: %w", Usagef("bad --x")), 2, "p: wrapped: bad --x\n"},
		{errors.New("two\nlines"), 1, "p: two; lines\n"},
	} {
		stderr.Reset()
		if code := Exit(&stderr, "p", c.err); code != c.code || stderr.String() != c.line {
			t.Errorf("Exit(%v) = %d %q, want %d %q", c.err, code, stderr.String(), c.code, c.line)
		}
	}
	fs := NewFlagSet("t")
	n := fs.Int("num_x", 1, "a number")
	var stdout bytes.Buffer
	if err := Parse(fs, []string{"--num-x", "3"}, &stdout, "usage\n"); err != nil || *n != 3 {
		t.Fatalf("hyphenated flag: %v %d", err, *n)
	}
	if err := Parse(NewFlagSet("t"), []string{"--nope"}, &stdout, ""); !IsUsage(err) || !strings.Contains(err.Error(), "see --help") {
		t.Errorf("unknown flag: %v", err)
	}
	fs = NewFlagSet("t")
	fs.Int("num_x", 1, "a number")
	if err := Parse(fs, []string{"-h"}, &stdout, "usage: t\n"); !errors.Is(err, ErrHelp) ||
		!strings.HasPrefix(stdout.String(), "usage: t\n") || !strings.Contains(stdout.String(), "--num_x") {
		t.Errorf("help: %v %q", err, stdout.String())
	}
}
