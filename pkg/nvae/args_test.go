package nvae

import "github.com/nvaego/nvae/internal/cli"

// ParseArgs parses a train.py argument list into a Config through the
// binaries' flag parser (internal/cli), for the tests of this package.
func ParseArgs(args []string) (Config, error) { return cli.ParseStruct(args, DefaultConfig()) }
