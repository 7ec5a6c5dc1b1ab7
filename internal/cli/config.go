package cli

import (
	"fmt"
	"io"
	"reflect"
	"strconv"
	"strings"

	"github.com/spf13/pflag"
)

// pyIntValue is a pflag.Value that parses integers the way Python's int()
// does for argparse's type=int: decimal only (pflag's own int flags would
// read "010" as octal 8), surrounding white space and digit-separating
// underscores allowed.
type pyIntValue struct{ p *int }

func (v pyIntValue) String() string {
	if v.p == nil {
		return "0"
	}
	return strconv.Itoa(*v.p)
}

func (v pyIntValue) Set(s string) error {
	n, err := parsePyInt(s)
	if err != nil {
		return err
	}
	*v.p = n
	return nil
}

func (v pyIntValue) Type() string { return "int" }

// parsePyInt parses a decimal integer like Python's int(str).
func parsePyInt(s string) (int, error) {
	t := strings.TrimSpace(s)
	body := strings.TrimLeft(t, "+-")
	if len(t)-len(body) > 1 || body == "" || strings.HasPrefix(body, "_") ||
		strings.HasSuffix(body, "_") || strings.Contains(body, "__") {
		return 0, fmt.Errorf("invalid int value: %q", s)
	}
	t = strings.ReplaceAll(t, "_", "")
	n, err := strconv.ParseInt(t, 10, strconv.IntSize)
	if err != nil {
		return 0, fmt.Errorf("invalid int value: %q", s)
	}
	return int(n), nil
}

// pyFloatValue is a pflag.Value that parses floats like Python's float()
// ("1.", "1e-2", "inf", surrounding white space).
type pyFloatValue struct{ p *float64 }

func (v pyFloatValue) String() string {
	if v.p == nil {
		return "0"
	}
	return strconv.FormatFloat(*v.p, 'g', -1, 64)
}

func (v pyFloatValue) Set(s string) error {
	f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil {
		return fmt.Errorf("invalid float value: %q", s)
	}
	*v.p = f
	return nil
}

// Type is "float64" so that pflag's FlagSet.GetFloat64 works on these flags.
func (v pyFloatValue) Type() string { return "float64" }

// RegisterStruct registers one flag per field of the struct *cfg, the way
// argparse declares the options of the official train.py: the `flag` tag is
// the option name, `help` its help text (plus helpSuffix[name], if any);
// fields without a flag tag or tagged `derived:"true"` are skipped (uint64
// fields are plain pflag flags). Ints parse like Python's
// int(), floats like float(), bools are store_true switches. Like pflag's
// XxxVar functions it first sets every registered field of *cfg to its value
// in def (a struct of the same type: the defaults). It also installs
// NormalizeFlagName so hyphenated spellings are accepted. For nvae.Config:
// RegisterStruct(fs, &cfg, nvae.DefaultConfig(), ...).
func RegisterStruct(fs *pflag.FlagSet, cfg, def any, helpSuffix map[string]string) {
	cv := reflect.ValueOf(cfg).Elem()
	dv := reflect.ValueOf(def)
	if cv.Type() != dv.Type() {
		panic("cli: RegisterStruct: cfg and def have different types")
	}
	t := cv.Type()
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name := f.Tag.Get("flag")
		if name == "" || f.Tag.Get("derived") == "true" {
			continue
		}
		field := cv.Field(i)
		field.Set(dv.Field(i))
		help := f.Tag.Get("help") + helpSuffix[name]
		switch f.Type.Kind() {
		case reflect.Int:
			fs.Var(pyIntValue{field.Addr().Interface().(*int)}, name, help)
		case reflect.Float64:
			fs.Var(pyFloatValue{field.Addr().Interface().(*float64)}, name, help)
		case reflect.Bool:
			fs.BoolVar(field.Addr().Interface().(*bool), name, field.Bool(), help)
		case reflect.String:
			fs.StringVar(field.Addr().Interface().(*string), name, field.String(), help)
		case reflect.Uint64:
			fs.Uint64Var(field.Addr().Interface().(*uint64), name, field.Uint(), help)
		default:
			panic("cli: field " + f.Name + " has an unsupported type")
		}
	}
	fs.SetNormalizeFunc(NormalizeFlagName)
}

// ParseStruct parses a train.py argument list (without the program name)
// into a struct of def's type that starts from def (see RegisterStruct;
// derived fields stay zero). Positional arguments are an error, as in the
// official parser. For nvae.Config, cli.ParseStruct(args,
// nvae.DefaultConfig()) replaces the former nvae.ParseArgs; the result is
// not validated: call Validate.
func ParseStruct[T any](args []string, def T) (T, error) {
	fs := pflag.NewFlagSet("train", pflag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var c, zero T
	RegisterStruct(fs, &c, def, nil)
	if err := fs.Parse(args); err != nil {
		return zero, err
	}
	if fs.NArg() > 0 {
		return zero, fmt.Errorf("unrecognized arguments: %s", strings.Join(fs.Args(), " "))
	}
	return c, nil
}
