// Package torchpt reads PyTorch checkpoint files written by torch.save:
// the zip format (PyTorch >= 1.6: <dir>/data.pkl plus one <dir>/data/<key>
// record per storage) and the legacy pre-1.6 stream format (magic number,
// protocol version, sys_info, the object pickle, the storage key list, then
// the raw storages). Pickles are decoded with gopickle's Unpickler driven by
// this package's own class resolver and persistent-id loader, so arbitrary
// classes (argparse.Namespace, collections.OrderedDict with _metadata,
// optimizer state, ...) load without errors. Tensors are returned as
// contiguous row-major little-endian copies with storage offsets and
// strides applied; tensors sharing one storage load independently.
package torchpt

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"math/big"
	"path"
	"sort"
	"strconv"
	"strings"

	"github.com/nlpodyssey/gopickle/pickle"
	"github.com/nlpodyssey/gopickle/types"

	tc "github.com/nvaego/nvae/pkg/tensorcodec"
)

// Tensor is a dense tensor: DType uses the safetensors names ("F32", "F64",
// "F16", "BF16", "I64", "I32", "I16", "I8", "U8", "BOOL"); Data holds the
// contiguous row-major little-endian element bytes.
type Tensor struct {
	DType string
	Shape []int
	Data  []byte
}

// Checkpoint is the decoded content of a checkpoint file.
type Checkpoint struct {
	// StateDict holds obj["state_dict"] if present, otherwise the tensors
	// of the top-level dict itself.
	StateDict map[string]Tensor
	// StateDictOrder lists the StateDict keys in stored order.
	StateDictOrder []string
	// Args holds the fields of obj["args"] (an argparse.Namespace or a
	// dict) converted to Go values: bool, int64, float64, string, nil,
	// []any, map[string]any.
	Args map[string]any
	// Extra holds the other top-level entries (epoch, global_step,
	// optimizer, scheduler, ...) converted like Args; tensors inside them
	// become Tensor values.
	Extra map[string]any
}

// MaxPickleSize bounds the size of the object pickle of a zip checkpoint.
const MaxPickleSize = 1 << 30

const legacyMagic = "1950a86a20f9469cfc6c"
const legacyProtocol = 1001

// Load reads the checkpoint at path (zip or legacy format).
func Load(path string) (*Checkpoint, error) { return tc.ReadFile("torchpt", path, LoadReader) }

// LoadReader reads a checkpoint of the given size from r. Corrupt input
// gives an error, never a panic.
func LoadReader(r io.ReaderAt, size int64) (c *Checkpoint, err error) {
	defer func() {
		if p := recover(); p != nil {
			c, err = nil, fmt.Errorf("torchpt: corrupt checkpoint (decoder failed: %v)", p)
		}
	}()
	if size < 0 {
		return nil, errors.New("torchpt: negative size")
	}
	var head [512]byte
	n, _ := r.ReadAt(head[:], 0)
	var obj any
	switch {
	case n >= 4 && string(head[:4]) == "PK\x03\x04":
		obj, err = decodeZip(r, size)
	case n >= 262 && string(head[257:262]) == "ustar":
		return nil, errors.New("torchpt: tar-based legacy checkpoints (PyTorch < 0.4) are not supported")
	case n >= 2 && head[0] == 0x80:
		obj, err = decodeLegacy(r, size)
	default:
		return nil, errors.New("torchpt: not a PyTorch checkpoint (neither a zip archive nor a legacy pickle stream)")
	}
	if err != nil {
		return nil, fmt.Errorf("torchpt: %w", err)
	}
	c, err = build(obj)
	if err != nil {
		return nil, fmt.Errorf("torchpt: %w", err)
	}
	return c, nil
}

// readN reads n bytes from rd, growing the buffer as data arrives so that a
// corrupt size cannot force a huge allocation.
func readN(rd io.Reader, n int64) ([]byte, error) {
	var buf bytes.Buffer
	buf.Grow(int(min(n, 64<<20)))
	m, err := io.CopyN(&buf, rd, n)
	if m != n {
		if err == nil || err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	return buf.Bytes(), nil
}

func readRecord(f *zip.File, n int64) ([]byte, error) {
	rc, err := f.Open()
	if err != nil {
		return nil, fmt.Errorf("record %s: %w", f.Name, err)
	}
	defer rc.Close()
	b, err := readN(rc, n)
	if err == nil {
		// Read to the end so the archive's CRC-32 of the record is checked.
		_, err = io.Copy(io.Discard, rc)
	}
	if err != nil {
		return nil, fmt.Errorf("record %s: %w", f.Name, err)
	}
	return b, nil
}

// unpickle runs gopickle on one complete pickle held in b.
func unpickle(b []byte, persistentLoad func(any) (any, error)) (any, error) {
	u := pickle.NewUnpickler(bytes.NewReader(b))
	u.FindClass = findClass
	u.PersistentLoad = persistentLoad
	if persistentLoad == nil {
		u.PersistentLoad = func(id any) (any, error) {
			return nil, fmt.Errorf("unexpected persistent id %v", id)
		}
	}
	return u.Load()
}

func decodeZip(r io.ReaderAt, size int64) (any, error) {
	zr, err := zip.NewReader(r, size)
	if err != nil {
		return nil, fmt.Errorf("bad zip archive: %w", err)
	}
	records := make(map[string]*zip.File, len(zr.File))
	var pkl *zip.File
	for _, f := range zr.File {
		records[f.Name] = f
		if path.Base(f.Name) == "data.pkl" && strings.Count(f.Name, "/") == 1 && pkl == nil {
			pkl = f
		}
	}
	if pkl == nil {
		for name := range records {
			if path.Base(name) == "constants.pkl" {
				return nil, errors.New("TorchScript archives are not supported")
			}
		}
		return nil, errors.New("zip archive has no <dir>/data.pkl record")
	}
	prefix := path.Dir(pkl.Name)
	if bo, ok := records[prefix+"/byteorder"]; ok {
		b, err := readRecord(bo, int64(min(bo.UncompressedSize64, 16)))
		if err != nil {
			return nil, err
		}
		if s := strings.TrimSpace(string(b)); s != "little" {
			return nil, fmt.Errorf("byteorder %q is not supported", s)
		}
	}
	if pkl.UncompressedSize64 > MaxPickleSize {
		return nil, fmt.Errorf("record %s: %d bytes exceeds the %d-byte limit", pkl.Name, pkl.UncompressedSize64, MaxPickleSize)
	}
	pb, err := readRecord(pkl, int64(pkl.UncompressedSize64))
	if err != nil {
		return nil, err
	}
	n, err := pickleLength(pb)
	if err != nil {
		return nil, fmt.Errorf("record %s: %w", pkl.Name, err)
	}
	storages := map[string]*storage{}
	load := func(s *storage) error {
		rec, ok := records[prefix+"/data/"+s.key]
		if !ok {
			return fmt.Errorf("storage %q: no record %s/data/%s", s.key, prefix, s.key)
		}
		need := int64(s.numel) * int64(s.cls.size)
		if s.numel > math.MaxInt64/8 || uint64(need) > rec.UncompressedSize64 {
			return fmt.Errorf("storage %q: %d %s elements need %d bytes but record %s has %d", s.key, s.numel, s.cls.dtype, need, rec.Name, rec.UncompressedSize64)
		}
		if rec.Method == zip.Store && need > size {
			return fmt.Errorf("storage %q: %d bytes exceed the file size", s.key, need)
		}
		b, err := readRecord(rec, need)
		if err != nil {
			return fmt.Errorf("storage %q: %w", s.key, err)
		}
		s.data = b
		return nil
	}
	persistentLoad := func(id any) (any, error) {
		t, ok := id.(*types.Tuple)
		if !ok || t.Len() < 5 {
			return nil, fmt.Errorf("persistent id %v is not a 5-tuple", id)
		}
		if tn, _ := t.Get(0).(string); tn != "storage" {
			return nil, fmt.Errorf("persistent id type %v is not 'storage'", t.Get(0))
		}
		cls, ok := t.Get(1).(*storageClass)
		if !ok {
			return nil, fmt.Errorf("persistent id storage type %v is not supported", t.Get(1))
		}
		key, ok := t.Get(2).(string)
		if !ok {
			return nil, fmt.Errorf("persistent id key %v is not a string", t.Get(2))
		}
		numel, ok := t.Get(4).(int)
		if !ok || numel < 0 {
			return nil, fmt.Errorf("storage %q: bad element count %v", key, t.Get(4))
		}
		if s, ok := storages[key]; ok {
			if s.cls.dtype != cls.dtype || s.numel != numel {
				return nil, fmt.Errorf("storage %q used as both %s[%d] and %s[%d]", key, s.cls.dtype, s.numel, cls.dtype, numel)
			}
			return s, nil
		}
		s := &storage{cls: cls, key: key, numel: numel, load: load}
		storages[key] = s
		return s, nil
	}
	obj, err := unpickle(pb[:n], persistentLoad)
	if err != nil {
		return nil, fmt.Errorf("record %s: %w", pkl.Name, err)
	}
	return obj, nil
}

func decodeLegacy(r io.ReaderAt, size int64) (any, error) {
	if size > math.MaxInt32*int64(64) {
		return nil, fmt.Errorf("legacy checkpoint of %d bytes is too large", size)
	}
	buf := make([]byte, size)
	if _, err := r.ReadAt(buf, 0); err != nil && !(err == io.EOF) {
		return nil, fmt.Errorf("reading legacy checkpoint: %w", err)
	}
	pos := 0
	next := func(what string, pl func(any) (any, error)) (any, error) {
		n, err := pickleLength(buf[pos:])
		if err != nil {
			return nil, fmt.Errorf("legacy %s at byte %d: %w", what, pos, err)
		}
		v, err := unpickle(buf[pos:pos+n], pl)
		if err != nil {
			return nil, fmt.Errorf("legacy %s at byte %d: %w", what, pos, err)
		}
		pos += n
		return v, nil
	}
	m, err := next("magic number", nil)
	if err != nil {
		return nil, err
	}
	if bi, ok := m.(*big.Int); !ok || bi.Text(16) != legacyMagic {
		return nil, fmt.Errorf("bad legacy magic number %v", m)
	}
	proto, err := next("protocol version", nil)
	if err != nil {
		return nil, err
	}
	if p, ok := proto.(int); !ok || p != legacyProtocol {
		return nil, fmt.Errorf("unsupported legacy protocol version %v (want %d)", proto, legacyProtocol)
	}
	sys, err := next("sys_info", nil)
	if err != nil {
		return nil, err
	}
	if d, ok := sys.(*types.Dict); ok {
		if le, ok := d.Get("little_endian"); ok && le != true {
			return nil, errors.New("big-endian legacy checkpoints are not supported")
		}
	}
	storages := map[string]*storage{}
	views := map[string]*storage{}
	persistentLoad := func(id any) (any, error) {
		t, ok := id.(*types.Tuple)
		if !ok || t.Len() < 1 {
			return nil, fmt.Errorf("persistent id %v is not a tuple", id)
		}
		switch tn, _ := t.Get(0).(string); tn {
		case "module":
			if t.Len() < 2 {
				return nil, errors.New("module persistent id without a type")
			}
			return t.Get(1), nil
		case "storage":
		default:
			return nil, fmt.Errorf("persistent id type %v is not supported", t.Get(0))
		}
		if t.Len() < 6 {
			return nil, fmt.Errorf("storage persistent id %v is not a 6-tuple", id)
		}
		cls, ok := t.Get(1).(*storageClass)
		if !ok {
			return nil, fmt.Errorf("persistent id storage type %v is not supported", t.Get(1))
		}
		key, ok := t.Get(2).(string)
		if !ok {
			return nil, fmt.Errorf("persistent id key %v is not a string", t.Get(2))
		}
		numel, ok := t.Get(4).(int)
		if !ok || numel < 0 {
			return nil, fmt.Errorf("storage %q: bad element count %v", key, t.Get(4))
		}
		root, ok := storages[key]
		if !ok {
			root = &storage{cls: cls, key: key, numel: numel}
			storages[key] = root
		} else if root.cls.dtype != cls.dtype {
			return nil, fmt.Errorf("storage %q used as both %s and %s", key, root.cls.dtype, cls.dtype)
		}
		switch vm := t.Get(5).(type) {
		case nil:
			return root, nil
		case *types.Tuple:
			if vm.Len() != 3 {
				return nil, fmt.Errorf("storage %q: view metadata %v is not a 3-tuple", key, vm)
			}
			vkey, ok1 := vm.Get(0).(string)
			off, ok2 := vm.Get(1).(int)
			vsize, ok3 := vm.Get(2).(int)
			if !ok1 || !ok2 || !ok3 || off < 0 || vsize < 0 {
				return nil, fmt.Errorf("storage %q: bad view metadata %v", key, vm)
			}
			if v, ok := views[vkey]; ok {
				return v, nil
			}
			v := &storage{cls: cls, key: vkey, numel: vsize, root: root, offset: off}
			views[vkey] = v
			return v, nil
		default:
			return nil, fmt.Errorf("storage %q: bad view metadata %v", key, vm)
		}
	}
	obj, err := next("object pickle", persistentLoad)
	if err != nil {
		return nil, err
	}
	keysObj, err := next("storage key list", nil)
	if err != nil {
		return nil, err
	}
	kl, ok := keysObj.(*types.List)
	if !ok {
		return nil, fmt.Errorf("legacy storage key list is a %T, not a list", keysObj)
	}
	for _, k := range *kl {
		key, ok := k.(string)
		if !ok {
			return nil, fmt.Errorf("legacy storage key %v is not a string", k)
		}
		s, ok := storages[key]
		if !ok {
			return nil, fmt.Errorf("legacy storage %q is not referenced by the pickle", key)
		}
		if len(buf)-pos < 8 {
			return nil, fmt.Errorf("legacy storage %q: truncated size field at byte %d", key, pos)
		}
		cnt := int64(binary.LittleEndian.Uint64(buf[pos:]))
		pos += 8
		es := int64(s.cls.size)
		if cnt < 0 || cnt > int64(len(buf)-pos)/es {
			return nil, fmt.Errorf("legacy storage %q: %d %s elements exceed the %d bytes left in the file", key, cnt, s.cls.dtype, len(buf)-pos)
		}
		nb := int(cnt * es)
		s.data = buf[pos : pos+nb : pos+nb]
		s.loaded = true
		pos += nb
	}
	return obj, nil
}

// materialize returns the contiguous copy of a tensor view.
func materialize(lt *lazyTensor) (Tensor, error) {
	if lt.done != nil {
		return *lt.done, nil
	}
	cls := lt.st.cls
	es := cls.size
	sb, err := lt.st.bytes()
	if err != nil {
		return Tensor{}, err
	}
	selems := len(sb) / es
	n := 1
	for _, d := range lt.size {
		if d != 0 && n > (1<<40)/d {
			return Tensor{}, fmt.Errorf("tensor shape %v is too large", lt.size)
		}
		n *= d
	}
	shape := append([]int{}, lt.size...)
	if n == 0 {
		t := Tensor{DType: cls.dtype, Shape: shape, Data: []byte{}}
		lt.done = &t
		return t, nil
	}
	maxIdx := lt.offset
	for i, d := range lt.size {
		if lt.stride[i] > (1<<40)/max(d, 1) {
			return Tensor{}, fmt.Errorf("tensor stride %v is too large", lt.stride)
		}
		maxIdx += (d - 1) * lt.stride[i]
	}
	if maxIdx >= selems {
		return Tensor{}, fmt.Errorf("tensor (offset %d, shape %v, stride %v) reaches element %d of storage %q which has %d", lt.offset, lt.size, lt.stride, maxIdx, lt.st.key, selems)
	}
	if n > selems && n > 1<<28 {
		return Tensor{}, fmt.Errorf("broadcast tensor of %d elements over a %d-element storage is too large", n, selems)
	}
	out := make([]byte, n*es)
	contiguous := true
	want := 1
	for i := len(lt.size) - 1; i >= 0; i-- {
		if lt.size[i] != 1 && lt.stride[i] != want {
			contiguous = false
			break
		}
		want *= lt.size[i]
	}
	if contiguous {
		copy(out, sb[lt.offset*es:(lt.offset+n)*es])
	} else {
		nd := len(lt.size)
		idx := make([]int, nd)
		last := nd - 1
		inner, istride := lt.size[last], lt.stride[last]
		o := 0
		for {
			base := lt.offset
			for i := 0; i < last; i++ {
				base += idx[i] * lt.stride[i]
			}
			for j := 0; j < inner; j++ {
				src := (base + j*istride) * es
				copy(out[o:o+es], sb[src:src+es])
				o += es
			}
			i := last - 1
			for ; i >= 0; i-- {
				idx[i]++
				if idx[i] < lt.size[i] {
					break
				}
				idx[i] = 0
			}
			if i < 0 {
				break
			}
		}
	}
	t := Tensor{DType: cls.dtype, Shape: shape, Data: out}
	lt.done = &t
	return t, nil
}

type entry struct {
	key   string
	value any
}

// dictEntries lists a pickled dict's items in stored order (for plain dicts
// a repeated key keeps its first position and its last value). Non-string
// keys are formatted with fmt.
func dictEntries(v any) ([]entry, bool) {
	var out []entry
	index := map[string]int{}
	add := func(k, val any) {
		var ks string
		switch kk := k.(type) {
		case string:
			ks = kk
		case int:
			ks = strconv.Itoa(kk)
		default:
			ks = fmt.Sprint(kk)
		}
		if i, ok := index[ks]; ok {
			out[i].value = val
			return
		}
		index[ks] = len(out)
		out = append(out, entry{ks, val})
	}
	var od *types.OrderedDict
	switch d := v.(type) {
	case *types.Dict:
		for _, e := range *d {
			add(e.Key, e.Value)
		}
		return out, true
	case *types.OrderedDict:
		od = d
	case *pyObject:
		od = d.Dict
	default:
		return nil, false
	}
	for e := od.List.Front(); e != nil; e = e.Next() {
		ent := e.Value.(*types.OrderedDictEntry)
		add(ent.Key, ent.Value)
	}
	return out, true
}

// build turns the unpickled top-level object into a Checkpoint.
func build(obj any) (*Checkpoint, error) {
	top, ok := dictEntries(obj)
	if !ok {
		if _, isT := obj.(*lazyTensor); isT {
			return nil, errors.New("checkpoint holds a single tensor, not a dict")
		}
		return nil, fmt.Errorf("checkpoint top-level object is a %T, not a dict", obj)
	}
	c := &Checkpoint{StateDict: map[string]Tensor{}, Extra: map[string]any{}}
	addTensor := func(k string, lt *lazyTensor) error {
		t, err := materialize(lt)
		if err != nil {
			return fmt.Errorf("tensor %q: %w", k, err)
		}
		c.StateDict[k] = t
		c.StateDictOrder = append(c.StateDictOrder, k)
		return nil
	}
	var sdEntries []entry
	hasSD := false
	for _, e := range top {
		if e.key == "state_dict" {
			sdEntries, hasSD = dictEntries(e.value)
		}
	}
	for _, e := range top {
		switch {
		case hasSD && e.key == "state_dict":
			for _, se := range sdEntries {
				lt, ok := se.value.(*lazyTensor)
				if !ok {
					return nil, fmt.Errorf("state_dict entry %q is a %s, not a tensor", se.key, typeName(se.value))
				}
				if err := addTensor(se.key, lt); err != nil {
					return nil, fmt.Errorf("state_dict: %w", err)
				}
			}
		case e.key == "args":
			if fields, ok := dictEntries(e.value); ok {
				m, err := convertEntries(fields, 1)
				if err != nil {
					return nil, fmt.Errorf("args: %w", err)
				}
				c.Args = m
			} else {
				v, err := convert(e.value, 1)
				if err != nil {
					return nil, fmt.Errorf("args: %w", err)
				}
				c.Extra["args"] = v
			}
		default:
			if lt, ok := e.value.(*lazyTensor); ok && !hasSD {
				if err := addTensor(e.key, lt); err != nil {
					return nil, err
				}
				continue
			}
			v, err := convert(e.value, 1)
			if err != nil {
				return nil, fmt.Errorf("entry %q: %w", e.key, err)
			}
			c.Extra[e.key] = v
		}
	}
	return c, nil
}

func typeName(v any) string {
	switch t := v.(type) {
	case *pyObject:
		return t.Class.String()
	case nil:
		return "None"
	}
	return fmt.Sprintf("%T", v)
}

const maxDepth = 64

func convertEntries(es []entry, depth int) (map[string]any, error) {
	m := make(map[string]any, len(es))
	for _, e := range es {
		v, err := convert(e.value, depth+1)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", e.key, err)
		}
		m[e.key] = v
	}
	return m, nil
}

func convertList(items []any, depth int) ([]any, error) {
	out := make([]any, len(items))
	for i, x := range items {
		v, err := convert(x, depth+1)
		if err != nil {
			return nil, fmt.Errorf("[%d]: %w", i, err)
		}
		out[i] = v
	}
	return out, nil
}

// convert maps a pickled value to plain Go values.
func convert(v any, depth int) (any, error) {
	if depth > maxDepth {
		return nil, errors.New("value nested too deeply (or self-referential)")
	}
	switch t := v.(type) {
	case nil, bool, string, float64:
		return t, nil
	case int:
		return int64(t), nil
	case *big.Int:
		if t.IsInt64() {
			return t.Int64(), nil
		}
		f, _ := new(big.Float).SetInt(t).Float64()
		return f, nil
	case []byte:
		return append([]byte{}, t...), nil
	case *types.ByteArray:
		return append([]byte{}, (*t)...), nil
	case *types.List:
		return convertList(*t, depth)
	case *types.Tuple:
		return convertList(*t, depth)
	case *types.Set:
		return convertSet(func(f func(any)) {
			for k := range *t {
				f(k)
			}
		}, depth)
	case *types.FrozenSet:
		return convertSet(func(f func(any)) {
			for k := range *t {
				f(k)
			}
		}, depth)
	case *types.Dict, *types.OrderedDict:
		es, _ := dictEntries(t)
		return convertEntries(es, depth)
	case *pyObject:
		if t.Dict.Len() > 0 {
			es, _ := dictEntries(t)
			return convertEntries(es, depth)
		}
		if t.State != nil {
			return convert(t.State, depth+1)
		}
		if len(t.Items) > 0 {
			return convertList(t.Items, depth)
		}
		if len(t.Args) > 0 {
			return convertList(t.Args, depth)
		}
		return t.Class.String(), nil
	case *pyClass:
		return t.String(), nil
	case *lazyTensor:
		return materialize(t)
	case *storage:
		return nil, nil
	case *storageClass:
		return "storage:" + t.dtype, nil
	}
	return fmt.Sprintf("%v", v), nil
}

func convertSet(each func(func(any)), depth int) ([]any, error) {
	var items []any
	each(func(k any) { items = append(items, k) })
	out, err := convertList(items, depth)
	if err != nil {
		return nil, err
	}
	sort.Slice(out, func(i, j int) bool { return fmt.Sprint(out[i]) < fmt.Sprint(out[j]) })
	return out, nil
}
