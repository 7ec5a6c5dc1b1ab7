package torchpt

import (
	"fmt"
	"strings"

	"github.com/nlpodyssey/gopickle/types"

	tc "github.com/nvaego/nvae/pkg/tensorcodec"
)

// storageClass is a torch.<Type>Storage global.
type storageClass struct {
	dtype string
	size  int // bytes per element
}

// storageClassFor maps a storage class name to its dtype.
func storageClassFor(module, name string) (*storageClass, bool) {
	if module != "torch" && module != "torch.cuda" {
		return nil, false
	}
	dt, ok := storageDTypes[name]
	if !ok {
		return nil, false
	}
	return &storageClass{dt, tc.DType(dt).Size()}, true
}

// storageDTypes maps the storage classes to their dtypes.
var storageDTypes = map[string]string{
	"DoubleStorage": "F64", "FloatStorage": "F32", "HalfStorage": "F16", "BFloat16Storage": "BF16",
	"LongStorage": "I64", "IntStorage": "I32", "ShortStorage": "I16", "CharStorage": "I8",
	"ByteStorage": "U8", "BoolStorage": "BOOL",
}

// storage is a typed PyTorch storage. Its bytes are filled in after
// unpickling (legacy files) or lazily from the zip record (zip files). A
// legacy view storage refers to a root storage with an element offset.
type storage struct {
	cls    *storageClass
	key    string
	numel  int // declared element count
	data   []byte
	loaded bool
	load   func(*storage) error // zip: reads the record on first use

	root   *storage // legacy views
	offset int      // in elements, for views
}

// bytes returns the storage's bytes, loading them if needed.
func (s *storage) bytes() ([]byte, error) {
	if s.root != nil {
		rb, err := s.root.bytes()
		if err != nil {
			return nil, err
		}
		es := s.cls.size
		lo, hi := s.offset*es, (s.offset+s.numel)*es
		if s.offset < 0 || s.numel < 0 || hi > len(rb) || lo > hi {
			return nil, fmt.Errorf("storage view %q [%d, %d) outside its root storage %q of %d bytes", s.key, lo, hi, s.root.key, len(rb))
		}
		return rb[lo:hi], nil
	}
	if !s.loaded {
		if s.load == nil {
			return nil, fmt.Errorf("storage %q has no data", s.key)
		}
		if err := s.load(s); err != nil {
			return nil, err
		}
		s.loaded = true
	}
	return s.data, nil
}

// lazyTensor is the result of torch._utils._rebuild_tensor(_v2): a view
// into a storage, materialised after the storages are available.
type lazyTensor struct {
	st     *storage
	offset int
	size   []int
	stride []int
	done   *Tensor
}

// rebuildTensor implements torch._utils._rebuild_tensor and _v2:
// (storage, storage_offset, size, stride[, requires_grad, hooks, ...]).
type rebuildTensor struct{}

func (rebuildTensor) Call(args ...any) (any, error) {
	if len(args) < 4 {
		return nil, fmt.Errorf("_rebuild_tensor: %d arguments, want at least 4", len(args))
	}
	st, ok := args[0].(*storage)
	if !ok {
		return nil, fmt.Errorf("_rebuild_tensor: first argument is %T, not a storage", args[0])
	}
	off, ok := args[1].(int)
	if !ok || off < 0 {
		return nil, fmt.Errorf("_rebuild_tensor: bad storage offset %v", args[1])
	}
	size, err := intTuple(args[2])
	if err != nil {
		return nil, fmt.Errorf("_rebuild_tensor: size: %w", err)
	}
	stride, err := intTuple(args[3])
	if err != nil {
		return nil, fmt.Errorf("_rebuild_tensor: stride: %w", err)
	}
	if len(size) != len(stride) {
		return nil, fmt.Errorf("_rebuild_tensor: size %v and stride %v differ in length", size, stride)
	}
	return &lazyTensor{st: st, offset: off, size: size, stride: stride}, nil
}

func intTuple(v any) ([]int, error) {
	var items []any
	switch t := v.(type) {
	case *types.Tuple:
		items = *t
	case *types.List:
		items = *t
	case int: // a 1-d size written as a bare int
		return []int{t}, nil
	default:
		return nil, fmt.Errorf("%T is not a tuple", v)
	}
	out := make([]int, len(items))
	for i, x := range items {
		n, ok := x.(int)
		if !ok || n < 0 {
			return nil, fmt.Errorf("entry %v is not a non-negative int", x)
		}
		out[i] = n
	}
	return out, nil
}

// rebuildParameter implements torch._utils._rebuild_parameter(data,
// requires_grad, backward_hooks) and _rebuild_parameter_with_state: the
// parameter is just its data tensor here.
type rebuildParameter struct{}

func (rebuildParameter) Call(args ...any) (any, error) {
	if len(args) < 1 {
		return nil, fmt.Errorf("_rebuild_parameter: no arguments")
	}
	return args[0], nil
}

// rebuildFromType implements torch._tensor._rebuild_from_type(_v2)(func,
// type, args, state): it calls func(*args) and ignores the subclass.
type rebuildFromType struct{}

func (rebuildFromType) Call(args ...any) (any, error) {
	if len(args) < 3 {
		return nil, fmt.Errorf("_rebuild_from_type: %d arguments, want at least 3", len(args))
	}
	fn, ok := args[0].(types.Callable)
	if !ok {
		return nil, fmt.Errorf("_rebuild_from_type: %T is not callable", args[0])
	}
	inner, ok := args[2].(*types.Tuple)
	if !ok {
		return nil, fmt.Errorf("_rebuild_from_type: arguments are %T, not a tuple", args[2])
	}
	return fn.Call(*inner...)
}

// identity returns its single argument (torch.Size(tuple) and similar).
type identity struct{}

func (identity) Call(args ...any) (any, error) {
	if len(args) != 1 {
		return types.NewTupleFromSlice(args), nil
	}
	return args[0], nil
}

// pyClass stands for any other Python global (class or function). Calling or
// instantiating it gives a pyObject that records the arguments and accepts
// any state, so arbitrary classes (argparse.Namespace, torch.device, ...)
// load without knowing their semantics.
type pyClass struct {
	Module, Name string
}

func (c *pyClass) String() string { return c.Module + "." + c.Name }

func (c *pyClass) Call(args ...any) (any, error) {
	return &pyObject{Class: c, Args: args, Dict: types.NewOrderedDict()}, nil
}

func (c *pyClass) PyNew(args ...any) (any, error) { return c.Call(args...) }

// pyObject is an instance of a pyClass; Dict holds its __dict__ (from
// BUILD) and any dict items set on it.
type pyObject struct {
	Class *pyClass
	Args  []any
	Dict  *types.OrderedDict
	State any // a non-dict state passed to __setstate__
	Items []any
}

func (o *pyObject) PySetState(state any) error {
	switch s := state.(type) {
	case *types.Dict:
		for _, e := range *s {
			o.Dict.Set(e.Key, e.Value)
		}
	case *types.OrderedDict:
		for e := s.List.Front(); e != nil; e = e.Next() {
			ent := e.Value.(*types.OrderedDictEntry)
			o.Dict.Set(ent.Key, ent.Value)
		}
	case *types.Tuple:
		// (state, slotstate)
		if s.Len() == 2 {
			if s.Get(0) != nil {
				if err := o.PySetState(s.Get(0)); err != nil {
					return err
				}
			}
			if s.Get(1) != nil {
				return o.PySetState(s.Get(1))
			}
			return nil
		}
		o.State = state
	default:
		o.State = state
	}
	return nil
}

func (o *pyObject) PyDictSet(key, value any) error {
	o.Dict.Set(key, value)
	return nil
}

func (o *pyObject) PySetAttr(key string, value any) error {
	o.Dict.Set(key, value)
	return nil
}

// Set lets dict subclasses receive SETITEM(S).
func (o *pyObject) Set(key, value any) { o.Dict.Set(key, value) }

// Append lets list subclasses receive APPEND(S).
func (o *pyObject) Append(v any) { o.Items = append(o.Items, v) }

// findClass resolves pickle globals for PyTorch checkpoints.
func findClass(module, name string) (any, error) {
	if c, ok := storageClassFor(module, name); ok {
		return c, nil
	}
	switch module + "." + name {
	case "torch._utils._rebuild_tensor", "torch._utils._rebuild_tensor_v2":
		return rebuildTensor{}, nil
	case "torch._utils._rebuild_parameter", "torch._utils._rebuild_parameter_with_state":
		return rebuildParameter{}, nil
	case "torch._tensor._rebuild_from_type", "torch._tensor._rebuild_from_type_v2":
		return rebuildFromType{}, nil
	case "torch.Size":
		return identity{}, nil
	case "torch._utils._rebuild_tensor_v3", "torch._utils._rebuild_qtensor", "torch._utils._rebuild_sparse_tensor",
		"torch._utils._rebuild_wrapper_subclass", "torch._utils._rebuild_meta_tensor_no_storage":
		return nil, fmt.Errorf("unsupported tensor kind %s.%s", module, name)
	}
	if strings.HasPrefix(module, "torch") && strings.HasSuffix(name, "Storage") {
		return nil, fmt.Errorf("unsupported storage type %s.%s", module, name)
	}
	return &pyClass{Module: module, Name: name}, nil
}
