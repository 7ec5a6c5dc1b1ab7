// Package cuda is the GPU backend: every kernel of backend.Backend on an
// NVIDIA device through pkg/cuda (the driver API loaded at run time, NVRTC
// for the embedded kernels, cuBLAS for GEMMs, cuDNN for convolutions), or
// on the emulated GPU of pkg/cuda (--device cuda-emu), which runs the same
// kernel sources on the CPU.
//
// Tensors live in device memory (Buf) for their whole life; host copies
// happen only in FromHost and ToHost. The backend computes in float32 (the
// official code's dtype; float64 stays a CPU-backend feature). All work is
// issued on the legacy default stream, so kernels, library calls and the
// synchronous copies of ToHost are ordered without events, and memory
// returned to the caching allocator may be handed out at once: a later
// kernel cannot run before an earlier one that still reads it.
//
// Memory lifetime (Go's collector cannot see device memory): see alloc.go.
package cuda

import (
	"fmt"
	"os"
	"strings"
	"sync"

	"github.com/nvaego/nvae/pkg/backend"
	cu "github.com/nvaego/nvae/pkg/cuda"
	"github.com/nvaego/nvae/pkg/tensor"
)

// Backend is the CUDA backend. Use New or Open.
type Backend struct {
	ctx  *cu.Context
	blas *cu.Blas
	dnn  *cu.DNN
	mem  *allocator
	name string // "cuda" or "cuda-emu"
	tf32 bool

	mu    sync.Mutex
	fns   map[string]*cu.Function
	convs map[convKey]*cu.Conv
	ws    wsBuf // cuDNN workspace, grown on demand
}

var _ backend.Backend = (*Backend)(nil)
var _ backend.Releaser = (*Backend)(nil)

var (
	openMu   sync.Mutex
	opened   *Backend
	openErr  error
	openName string
)

// Open returns the process's CUDA backend on device ("cuda" for the real
// GPU, "cuda-emu" for the emulated one); the first call decides, later
// calls with the other name fail. Errors are one line that says what is
// missing (no driver, no GPU, no cuBLAS or cuDNN).
func Open(device string) (*Backend, error) {
	openMu.Lock()
	defer openMu.Unlock()
	if opened != nil || openErr != nil {
		if device != openName {
			return nil, fmt.Errorf("--device %s: this process already uses %s", device, openName)
		}
		return opened, openErr
	}
	openName = device
	opened, openErr = open(device)
	return opened, openErr
}

func open(device string) (*Backend, error) {
	if err := cu.Select(device); err != nil {
		return nil, err
	}
	ctx, err := cu.Init()
	if err != nil {
		return nil, fmt.Errorf("--device %s: %v", device, err)
	}
	blas, err := ctx.NewBlas()
	if err != nil {
		return nil, fmt.Errorf("--device %s: cuBLAS: %v", device, err)
	}
	dnn, err := ctx.NewDNN()
	if err != nil {
		return nil, fmt.Errorf("--device %s: cuDNN: %v", device, err)
	}
	b := &Backend{ctx: ctx, blas: blas, dnn: dnn, name: device, fns: map[string]*cu.Function{}, convs: map[convKey]*cu.Conv{}}
	b.mem = newAllocator(ctx)
	// TF32 is opt-in (--tf32): off, cuBLAS and cuDNN compute in full float32.
	if err := b.SetTF32(os.Getenv("NVAE_TF32") == "1"); err != nil {
		return nil, err
	}
	return b, nil
}

// Name implements backend.Backend: "cuda" or "cuda-emu".
func (b *Backend) Name() string { return b.name }

// DeviceName is the GPU's name (the emulated one says so).
func (b *Backend) DeviceName() string { return b.ctx.Props.Name }

// SetTF32 switches TF32 tensor-core math for GEMMs and convolutions.
func (b *Backend) SetTF32(on bool) error {
	if err := b.blas.SetTF32(on); err != nil {
		return fmt.Errorf("cuBLAS TF32 mode: %v", err)
	}
	b.mu.Lock()
	b.tf32 = on
	for k, c := range b.convs { // descriptors carry the math mode
		c.Destroy()
		delete(b.convs, k)
	}
	b.mu.Unlock()
	return nil
}

// Synchronize waits for all queued work (benchmarks, timing).
func (b *Backend) Synchronize() {
	if err := b.ctx.Synchronize(); err != nil {
		panic(fmt.Sprintf("cuda: %v", err))
	}
}

// convKey identifies a cached cuDNN convolution plan.
type convKey struct {
	s    cu.ConvShape
	tf32 bool
}

// wsBuf is the cuDNN workspace, one buffer grown to the largest request.
type wsBuf struct {
	p cu.DevicePtr
	n int
}

// workspace returns at least n bytes of scratch device memory, valid
// until the next call (all work is on one stream).
func (b *Backend) workspace(n int) cu.DevicePtr {
	b.mu.Lock()
	defer b.mu.Unlock()
	if n <= b.ws.n {
		return b.ws.p
	}
	if b.ws.n > 0 {
		b.Synchronize()
		b.mem.freeRaw(b.ws.p, b.ws.n)
	}
	b.ws.n = sizeClass(n)
	b.ws.p = b.mem.allocRaw(b.ws.n)
	return b.ws.p
}

// ---- storage

// Buf is device storage: n elements in a block of the caching allocator.
// A reshaped view shares the Buf (and its block). Kernels take float32;
// float64 buffers exist only for FromHost, ToHost, Copy and Cast.
type Buf struct {
	blk *block
	n   int
	dt  tensor.DType
}

// DType implements tensor.Storage.
func (s *Buf) DType() tensor.DType { return s.dt }

// Len implements tensor.Storage.
func (s *Buf) Len() int { return s.n }

// OnHost implements tensor.Storage.
func (*Buf) OnHost() bool { return false }

// Ptr is the device address of the elements.
func (s *Buf) Ptr() cu.DevicePtr { return s.blk.ptr }

// buf returns t's device storage; it panics on a host tensor, a tensor of
// another device, or one whose memory was released (a use after free is
// a bug in the caller, reported where it happens).
func buf(t *tensor.Tensor) *Buf {
	s, ok := t.Storage().(*Buf)
	if !ok {
		panic(fmt.Sprintf("cuda backend: tensor %v is not in device memory (FromHost it first)", t.Shape()))
	}
	if s.blk.freed.Load() {
		panic(fmt.Sprintf("cuda backend: tensor %v used after its memory was released (%s)", t.Shape(), s.blk.why()))
	}
	return s
}

// ptr is the device address of float32 tensor t (checked as buf does).
func ptr(t *tensor.Tensor) cu.DevicePtr {
	s := buf(t)
	if s.dt != tensor.Float32 {
		panic(fmt.Sprintf("cuda backend: tensor %v holds %v; the CUDA backend computes in float32 (use --dtype float32, or --device cpu for float64)", t.Shape(), s.dt))
	}
	return s.blk.ptr
}

// alloc returns an uninitialised float32 tensor of shape.
func (b *Backend) alloc(shape ...int) *tensor.Tensor {
	sh := tensor.Shape(shape).Clone()
	n := sh.NumElements()
	return tensor.New(sh, b.mem.newBuf(n, tensor.Float32))
}

// zeros returns a zero-filled float32 tensor.
func (b *Backend) zeros(shape ...int) *tensor.Tensor {
	t := b.alloc(shape...)
	if n := t.Len(); n > 0 {
		if err := b.ctx.Memset32(ptr(t), 0, n); err != nil {
			panic(fmt.Sprintf("cuda: memset: %v", err))
		}
	}
	return t
}

// f32 panics unless every non-nil tensor is float32 device data.
func f32(op string, ts ...*tensor.Tensor) {
	for _, t := range ts {
		if t != nil && t.DType() != tensor.Float32 {
			panic(fmt.Sprintf("cuda backend: %s: %v data; the CUDA backend computes in float32 (use --dtype float32, or --device cpu for float64)", op, t.DType()))
		}
	}
}

// ---- kernels

// kernel returns the function name of the embedded source file (compiled
// by NVRTC, or the emulator, on first use and cached on disk).
func (b *Backend) kernel(file, name string) *cu.Function {
	key := file + ":" + name
	b.mu.Lock()
	defer b.mu.Unlock()
	if f, ok := b.fns[key]; ok {
		return f
	}
	m, err := b.ctx.Kernels(file)
	if err != nil {
		panic(fmt.Sprintf("cuda backend: %v", err))
	}
	f, err := m.Function(name)
	if err != nil {
		panic(fmt.Sprintf("cuda backend: %s: %v", file, err))
	}
	b.fns[key] = f
	return f
}

// threads is the block size of the element-wise kernels.
const threads = 256

// launch1D runs a grid-stride kernel over n elements.
func (b *Backend) launch1D(file, name string, n int, args ...any) {
	if n <= 0 {
		return
	}
	blocks := (n + threads - 1) / threads
	if lim := 32 * max(1, b.ctx.Props.SMs); blocks > lim {
		blocks = lim
	}
	b.launch(file, name, cu.Dim3{X: blocks, Y: 1, Z: 1}, cu.Dim3{X: threads, Y: 1, Z: 1}, 0, args...)
}

// launch runs a kernel on the default stream; a launch error is a bug or a
// lost device and panics with the kernel's name.
func (b *Backend) launch(file, name string, grid, block cu.Dim3, smem int, args ...any) {
	if err := b.kernel(file, name).Launch(grid, block, smem, nil, args...); err != nil {
		panic(fmt.Sprintf("cuda backend: %s: %v", name, err))
	}
}

// ---- strided views

// maxDims mirrors NVAE_MAX_DIMS of kernels/nvae_common.cuh.
const maxDims = 8

// dims mirrors struct nvae_dims: a logical shape and per-axis element
// strides into a buffer (0 on broadcast axes).
type dims struct {
	Rank   int32
	_      int32
	Shape  [maxDims]int64
	Stride [maxDims]int64
}

// newDims is shape with the given strides.
func newDims(shape tensor.Shape, strides []int) dims {
	if len(shape) > maxDims {
		panic(fmt.Sprintf("cuda backend: rank %d above %d", len(shape), maxDims))
	}
	var d dims
	d.Rank = int32(len(shape))
	for i := range shape {
		d.Shape[i] = int64(shape[i])
		d.Stride[i] = int64(strides[i])
	}
	return d
}

// broadcastDims views a tensor of shape src as the broadcast shape out
// (row-major strides, 0 on the axes where src has size 1 or is missing).
func broadcastDims(src, out tensor.Shape) dims {
	st := make([]int, len(out))
	ss := src.Strides()
	off := len(out) - len(src)
	for i := range out {
		if j := i - off; j >= 0 && src[j] != 1 {
			st[i] = ss[j]
		}
	}
	return newDims(out, st)
}

// shapeString is for error messages.
func shapeString(ts ...*tensor.Tensor) string {
	parts := make([]string, len(ts))
	for i, t := range ts {
		parts[i] = t.Shape().String()
	}
	return strings.Join(parts, ", ")
}
