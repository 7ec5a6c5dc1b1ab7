package cuda

/*
#include <stdlib.h>
#include <string.h>
#include "api.h"
NV_WRAP_ALL
static void nv_set_ctx(CUcontext c) { nv_cur_ctx = c; }
*/
import "C"

import (
	"fmt"
	"math"
	"reflect"
	"sync"
	"unsafe"
)

// DevicePtr is a device address. Host code cannot dereference it; it is
// only passed to this package's calls and to kernels.
type DevicePtr uint64

// Props are the device properties the library uses.
type Props struct {
	Name                    string
	TotalMem                uint64
	Major, Minor            int
	SMs                     int
	MaxThreadsPerBlock      int
	MaxSharedPerBlock       int
	MaxSharedPerBlockOptin  int
	MaxGridX, MaxGridY      int
	WarpSize                int
	MaxThreadsPerSM         int
	MaxSharedPerSM          int
	DriverVersion           int
	Emulated                bool
	MaxBlockDimX, MaxBlockZ int
}

// Context is the primary context of device 0, made current around every
// call this package makes.
type Context struct {
	Dev   int
	Props Props
	ctx   C.CUcontext
}

var (
	ctxOnce sync.Once
	ctxVal  *Context
	ctxErr  error
)

// Init loads the driver (or the emulator), initialises it and retains the
// primary context of device 0. It is idempotent.
func Init() (*Context, error) {
	ctxOnce.Do(func() { ctxVal, ctxErr = initContext() })
	return ctxVal, ctxErr
}

func initContext() (*Context, error) {
	if _, err := loadDriver(); err != nil {
		return nil, err
	}
	if err := check("cuInit", C.call_cuInit(0)); err != nil {
		return nil, err
	}
	var n C.int
	if err := check("cuDeviceGetCount", C.call_cuDeviceGetCount(&n)); err != nil {
		return nil, err
	}
	if n < 1 {
		return nil, fmt.Errorf("cuda: the driver sees no device")
	}
	var dev C.CUdevice
	if err := check("cuDeviceGet", C.call_cuDeviceGet(&dev, 0)); err != nil {
		return nil, err
	}
	c := &Context{Dev: int(dev)}
	if err := check("cuDevicePrimaryCtxRetain", C.call_cuDevicePrimaryCtxRetain(&c.ctx, dev)); err != nil {
		return nil, err
	}
	C.nv_set_ctx(c.ctx)
	p, err := deviceProps(dev)
	if err != nil {
		return nil, err
	}
	c.Props = p
	return c, nil
}

func deviceProps(dev C.CUdevice) (Props, error) {
	var p Props
	buf := make([]byte, 256)
	if err := check("cuDeviceGetName", C.call_cuDeviceGetName((*C.char)(unsafe.Pointer(&buf[0])), C.int(len(buf)), dev)); err != nil {
		return p, err
	}
	p.Name = C.GoString((*C.char)(unsafe.Pointer(&buf[0])))
	var mem C.size_t
	if err := check("cuDeviceTotalMem", C.call_cuDeviceTotalMem(&mem, dev)); err != nil {
		return p, err
	}
	p.TotalMem = uint64(mem)
	attrs := []struct {
		id  int
		dst *int
	}{{75, &p.Major}, {76, &p.Minor}, {16, &p.SMs}, {1, &p.MaxThreadsPerBlock}, {8, &p.MaxSharedPerBlock},
		{97, &p.MaxSharedPerBlockOptin}, {5, &p.MaxGridX}, {6, &p.MaxGridY}, {10, &p.WarpSize}, {39, &p.MaxThreadsPerSM},
		{81, &p.MaxSharedPerSM}, {2, &p.MaxBlockDimX}, {4, &p.MaxBlockZ}}
	for _, a := range attrs {
		var v C.int
		if err := check("cuDeviceGetAttribute", C.call_cuDeviceGetAttribute(&v, C.int(a.id), dev)); err != nil {
			return p, err
		}
		*a.dst = int(v)
	}
	var v C.int
	if err := check("cuDriverGetVersion", C.call_cuDriverGetVersion(&v)); err != nil {
		return p, err
	}
	p.DriverVersion = int(v)
	p.Emulated = Emulated()
	return p, nil
}

// Arch is the NVRTC architecture of the device, e.g. "compute_90".
func (c *Context) Arch() string { return fmt.Sprintf("compute_%d%d", c.Props.Major, c.Props.Minor) }

// Synchronize waits for all work on the device.
func (c *Context) Synchronize() error { return check("cuCtxSynchronize", C.call_cuCtxSynchronize()) }

// MemInfo returns free and total device memory.
func (c *Context) MemInfo() (free, total uint64, err error) {
	var f, t C.size_t
	err = check("cuMemGetInfo", C.call_cuMemGetInfo(&f, &t))
	return uint64(f), uint64(t), err
}

// ---- memory

// Alloc allocates n bytes of device memory.
func (c *Context) Alloc(n int) (DevicePtr, error) {
	if n <= 0 {
		return 0, fmt.Errorf("cuda: Alloc(%d): size must be positive", n)
	}
	var p C.CUdeviceptr
	if err := check("cuMemAlloc", C.call_cuMemAlloc(&p, C.size_t(n))); err != nil {
		return 0, err
	}
	return DevicePtr(p), nil
}

// Free releases device memory.
func (c *Context) Free(p DevicePtr) error {
	return check("cuMemFree", C.call_cuMemFree(C.CUdeviceptr(p)))
}

// Memset8 sets n bytes to v; Memset32 sets n 32-bit words.
func (c *Context) Memset8(p DevicePtr, v byte, n int) error {
	return check("cuMemsetD8", C.call_cuMemsetD8(C.CUdeviceptr(p), C.uchar(v), C.size_t(n)))
}

func (c *Context) Memset32(p DevicePtr, v uint32, n int) error {
	return check("cuMemsetD32", C.call_cuMemsetD32(C.CUdeviceptr(p), C.uint(v), C.size_t(n)))
}

// Memset8Async and Memset32Async order the fill on s.
func (s *Stream) Memset8Async(p DevicePtr, v byte, n int) error {
	return check("cuMemsetD8Async", C.call_cuMemsetD8Async(C.CUdeviceptr(p), C.uchar(v), C.size_t(n), s.handle()))
}

func (s *Stream) Memset32Async(p DevicePtr, v uint32, n int) error {
	return check("cuMemsetD32Async", C.call_cuMemsetD32Async(C.CUdeviceptr(p), C.uint(v), C.size_t(n), s.handle()))
}

func bytesOf[T any](s []T) (unsafe.Pointer, int) {
	if len(s) == 0 {
		return nil, 0
	}
	var z T
	return unsafe.Pointer(&s[0]), len(s) * int(unsafe.Sizeof(z))
}

// CopyToDevice copies src to device memory at dst (synchronous).
func CopyToDevice[T any](dst DevicePtr, src []T) error {
	p, n := bytesOf(src)
	if n == 0 {
		return nil
	}
	return check("cuMemcpyHtoD", C.call_cuMemcpyHtoD(C.CUdeviceptr(dst), p, C.size_t(n)))
}

// CopyFromDevice fills dst from device memory at src (synchronous).
func CopyFromDevice[T any](dst []T, src DevicePtr) error {
	p, n := bytesOf(dst)
	if n == 0 {
		return nil
	}
	return check("cuMemcpyDtoH", C.call_cuMemcpyDtoH(p, C.CUdeviceptr(src), C.size_t(n)))
}

// CopyDtoD copies n bytes between device buffers (synchronous).
func CopyDtoD(dst, src DevicePtr, n int) error {
	return check("cuMemcpyDtoD", C.call_cuMemcpyDtoD(C.CUdeviceptr(dst), C.CUdeviceptr(src), C.size_t(n)))
}

// HostBuf is pinned (page-locked) host memory, outside the Go heap, so
// asynchronous copies may read or write it after the call returns.
type HostBuf struct {
	p unsafe.Pointer
	n int
}

// AllocHost allocates n bytes of pinned host memory.
func (c *Context) AllocHost(n int) (*HostBuf, error) {
	if n <= 0 {
		return nil, fmt.Errorf("cuda: AllocHost(%d): size must be positive", n)
	}
	var p unsafe.Pointer
	if err := check("cuMemHostAlloc", C.call_cuMemHostAlloc(&p, C.size_t(n), 0)); err != nil {
		return nil, err
	}
	return &HostBuf{p: p, n: n}, nil
}

// Bytes views the buffer.
func (h *HostBuf) Bytes() []byte { return unsafe.Slice((*byte)(h.p), h.n) }

// Float32s views the buffer as float32s.
func (h *HostBuf) Float32s() []float32 { return unsafe.Slice((*float32)(h.p), h.n/4) }

// Free releases the pinned memory.
func (h *HostBuf) Free() error {
	err := check("cuMemFreeHost", C.call_cuMemFreeHost(h.p))
	h.p, h.n = nil, 0
	return err
}

func (h *HostBuf) at(off, n int) (unsafe.Pointer, error) {
	if off < 0 || n < 0 || off+n > h.n {
		return nil, fmt.Errorf("cuda: host buffer range [%d,%d) outside its %d bytes", off, off+n, h.n)
	}
	return unsafe.Add(h.p, off), nil
}

// CopyHtoDAsync copies n bytes from h[off:] to dst, ordered on s.
func (s *Stream) CopyHtoDAsync(dst DevicePtr, h *HostBuf, off, n int) error {
	p, err := h.at(off, n)
	if err != nil {
		return err
	}
	return check("cuMemcpyHtoDAsync", C.call_cuMemcpyHtoDAsync(C.CUdeviceptr(dst), p, C.size_t(n), s.handle()))
}

// CopyDtoHAsync copies n bytes from src to h[off:], ordered on s.
func (s *Stream) CopyDtoHAsync(h *HostBuf, off int, src DevicePtr, n int) error {
	p, err := h.at(off, n)
	if err != nil {
		return err
	}
	return check("cuMemcpyDtoHAsync", C.call_cuMemcpyDtoHAsync(p, C.CUdeviceptr(src), C.size_t(n), s.handle()))
}

// CopyDtoDAsync copies n bytes between device buffers, ordered on s.
func (s *Stream) CopyDtoDAsync(dst, src DevicePtr, n int) error {
	return check("cuMemcpyDtoDAsync", C.call_cuMemcpyDtoDAsync(C.CUdeviceptr(dst), C.CUdeviceptr(src), C.size_t(n), s.handle()))
}

// ---- streams and events

// Stream orders work; a nil *Stream is the default (NULL) stream.
type Stream struct{ h C.CUstream }

func (s *Stream) handle() C.CUstream {
	if s == nil {
		return nil
	}
	return s.h
}

// NewStream creates a stream (non-blocking with respect to the NULL stream).
func (c *Context) NewStream() (*Stream, error) {
	var h C.CUstream
	if err := check("cuStreamCreate", C.call_cuStreamCreate(&h, 1)); err != nil {
		return nil, err
	}
	return &Stream{h: h}, nil
}

// Destroy releases the stream once its work is done.
func (s *Stream) Destroy() error { return check("cuStreamDestroy", C.call_cuStreamDestroy(s.h)) }

// Synchronize waits for the stream's work.
func (s *Stream) Synchronize() error {
	return check("cuStreamSynchronize", C.call_cuStreamSynchronize(s.handle()))
}

// Done reports whether all work on the stream has completed.
func (s *Stream) Done() (bool, error) {
	st := C.call_cuStreamQuery(s.handle())
	if st == 600 {
		return false, nil
	}
	return true, check("cuStreamQuery", st)
}

// WaitEvent makes later work on s wait for e's last record.
func (s *Stream) WaitEvent(e *Event) error {
	return check("cuStreamWaitEvent", C.call_cuStreamWaitEvent(s.handle(), e.h, 0))
}

// Event marks a point in a stream; with timing it records when it was reached.
type Event struct{ h C.CUevent }

// NewEvent creates an event (timing false: CU_EVENT_DISABLE_TIMING).
func (c *Context) NewEvent(timing bool) (*Event, error) {
	var h C.CUevent
	flags := C.uint(0)
	if !timing {
		flags = 2
	}
	if err := check("cuEventCreate", C.call_cuEventCreate(&h, flags)); err != nil {
		return nil, err
	}
	return &Event{h: h}, nil
}

// Record places the event on s.
func (e *Event) Record(s *Stream) error {
	return check("cuEventRecord", C.call_cuEventRecord(e.h, s.handle()))
}

// Synchronize waits for the event.
func (e *Event) Synchronize() error {
	return check("cuEventSynchronize", C.call_cuEventSynchronize(e.h))
}

// Done reports whether the event has been reached.
func (e *Event) Done() (bool, error) {
	st := C.call_cuEventQuery(e.h)
	if st == 600 {
		return false, nil
	}
	return true, check("cuEventQuery", st)
}

// Destroy releases the event.
func (e *Event) Destroy() error { return check("cuEventDestroy", C.call_cuEventDestroy(e.h)) }

// Elapsed returns the milliseconds between two recorded events.
func Elapsed(start, end *Event) (float32, error) {
	var ms C.float
	err := check("cuEventElapsedTime", C.call_cuEventElapsedTime(&ms, start.h, end.h))
	return float32(ms), err
}

// ---- modules and launches

// Module is loaded code (PTX from NVRTC, or the emulator's image).
type Module struct {
	h     C.CUmodule
	Name  string
	mu    sync.Mutex
	funcs map[string]*Function
}

// LoadModule loads an image from NVRTC.
func (c *Context) LoadModule(name string, image []byte) (*Module, error) {
	if len(image) == 0 {
		return nil, fmt.Errorf("cuda: empty module image %s", name)
	}
	img := C.CBytes(append(image[:len(image):len(image)], 0))
	defer C.free(img)
	var h C.CUmodule
	if err := check("cuModuleLoadData", C.call_cuModuleLoadData(&h, img)); err != nil {
		return nil, fmt.Errorf("module %s: %w", name, err)
	}
	return &Module{h: h, Name: name, funcs: map[string]*Function{}}, nil
}

// Unload releases the module.
func (m *Module) Unload() error { return check("cuModuleUnload", C.call_cuModuleUnload(m.h)) }

// Function is a kernel of a module.
type Function struct {
	h    C.CUfunction
	Name string
}

// Function looks up a kernel by its (lowered) name.
func (m *Module) Function(name string) (*Function, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if f, ok := m.funcs[name]; ok {
		return f, nil
	}
	cs := C.CString(name)
	defer C.free(unsafe.Pointer(cs))
	var h C.CUfunction
	if err := check("cuModuleGetFunction", C.call_cuModuleGetFunction(&h, m.h, cs)); err != nil {
		return nil, fmt.Errorf("kernel %s in %s: %w", name, m.Name, err)
	}
	f := &Function{h: h, Name: name}
	m.funcs[name] = f
	return f, nil
}

// Function attributes (CUfunction_attribute).
const (
	FuncMaxThreadsPerBlock  = 0
	FuncSharedSizeBytes     = 1
	FuncNumRegs             = 4
	FuncMaxDynamicSharedMem = 8
)

// Attribute reads a function attribute.
func (f *Function) Attribute(attr int) (int, error) {
	var v C.int
	err := check("cuFuncGetAttribute", C.call_cuFuncGetAttribute(&v, C.int(attr), f.h))
	return int(v), err
}

// SetMaxDynamicShared opts the kernel in to n bytes of dynamic shared
// memory (above 48 KiB needs this, up to the device's opt-in limit).
func (f *Function) SetMaxDynamicShared(n int) error {
	return check("cuFuncSetAttribute", C.call_cuFuncSetAttribute(f.h, FuncMaxDynamicSharedMem, C.int(n)))
}

// MaxActiveBlocksPerSM is the occupancy for a block size and dynamic shared memory.
func (f *Function) MaxActiveBlocksPerSM(block, smem int) (int, error) {
	var n C.int
	err := check("cuOccupancyMaxActiveBlocksPerMultiprocessor", C.call_cuOccupancyMaxActiveBlocksPerMultiprocessor(&n, f.h, C.int(block), C.size_t(smem)))
	return int(n), err
}

// Dim3 is a grid or block shape.
type Dim3 struct{ X, Y, Z int }

func (d Dim3) norm() (C.uint, C.uint, C.uint, error) {
	x, y, z := d.X, d.Y, d.Z
	if y == 0 {
		y = 1
	}
	if z == 0 {
		z = 1
	}
	if x <= 0 || y <= 0 || z <= 0 || x > math.MaxUint32 || y > math.MaxUint32 || z > math.MaxUint32 {
		return 0, 0, 0, fmt.Errorf("cuda: bad dimensions %+v", d)
	}
	return C.uint(x), C.uint(y), C.uint(z), nil
}

// packArgs lays the kernel arguments out in C memory: DevicePtr, int32,
// uint32, int64, uint64, float32, float64, bool, and structs of those
// (pointer-free, C layout). A Go int is refused: say int32 or int64.
func packArgs(args []any) (unsafe.Pointer, error) {
	size := 0
	type slot struct {
		off int
		b   []byte
	}
	slots := make([]slot, len(args))
	for i, a := range args {
		var b []byte
		switch v := a.(type) {
		case DevicePtr:
			b = le64(uint64(v))
		case int32:
			b = le32(uint32(v))
		case uint32:
			b = le32(v)
		case int64:
			b = le64(uint64(v))
		case uint64:
			b = le64(v)
		case float32:
			b = le32(math.Float32bits(v))
		case float64:
			b = le64(math.Float64bits(v))
		case bool:
			b = []byte{0}
			if v {
				b[0] = 1
			}
		case int, uint, uintptr:
			return nil, fmt.Errorf("cuda: kernel argument %d is a Go %T: use int32 or int64 to match the kernel", i, a)
		default:
			rv := reflect.ValueOf(a)
			if rv.Kind() != reflect.Struct || !pointerFree(rv.Type()) {
				return nil, fmt.Errorf("cuda: kernel argument %d: unsupported type %T", i, a)
			}
			p := reflect.New(rv.Type())
			p.Elem().Set(rv)
			b = append([]byte(nil), unsafe.Slice((*byte)(p.UnsafePointer()), rv.Type().Size())...)
		}
		size = (size + 15) &^ 15
		slots[i] = slot{size, b}
		size += len(b)
	}
	n := len(args)
	mem := C.malloc(C.size_t(8*n + size + 16))
	base := unsafe.Add(mem, 8*n)
	base = unsafe.Pointer((uintptr(base) + 15) &^ 15)
	ptrs := unsafe.Slice((*unsafe.Pointer)(mem), n)
	for i, s := range slots {
		dst := unsafe.Add(base, s.off)
		if len(s.b) > 0 {
			C.memcpy(dst, unsafe.Pointer(&s.b[0]), C.size_t(len(s.b)))
		}
		ptrs[i] = dst
	}
	return mem, nil
}

func pointerFree(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Bool, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64, reflect.Uint8, reflect.Uint16,
		reflect.Uint32, reflect.Uint64, reflect.Float32, reflect.Float64:
		return true
	case reflect.Array:
		return pointerFree(t.Elem())
	case reflect.Struct:
		for i := 0; i < t.NumField(); i++ {
			if !pointerFree(t.Field(i).Type) {
				return false
			}
		}
		return true
	}
	return false
}

func le32(v uint32) []byte {
	return []byte{byte(v), byte(v >> 8), byte(v >> 16), byte(v >> 24)}
}

func le64(v uint64) []byte { return append(le32(uint32(v)), le32(uint32(v>>32))...) }

// Launch runs f on a grid of blocks with smem bytes of dynamic shared
// memory, ordered on s. In debug mode it waits and checks, naming the kernel.
func (f *Function) Launch(grid, block Dim3, smem int, s *Stream, args ...any) error {
	gx, gy, gz, err := grid.norm()
	if err != nil {
		return err
	}
	bx, by, bz, err := block.norm()
	if err != nil {
		return err
	}
	if smem < 0 {
		return fmt.Errorf("cuda: negative shared memory %d", smem)
	}
	mem, err := packArgs(args)
	if err != nil {
		return fmt.Errorf("kernel %s: %w", f.Name, err)
	}
	defer C.free(mem)
	var params *unsafe.Pointer
	if len(args) > 0 {
		params = (*unsafe.Pointer)(mem)
	}
	if err := check("cuLaunchKernel", C.call_cuLaunchKernel(f.h, gx, gy, gz, bx, by, bz, C.uint(smem), s.handle(), params, nil)); err != nil {
		return fmt.Errorf("kernel %s: %w", f.Name, err)
	}
	if Debug() {
		if err := s.Synchronize(); err != nil {
			return fmt.Errorf("kernel %s (debug check after launch): %w", f.Name, err)
		}
	}
	return nil
}

// ---- graphs

// Graph is a captured sequence of stream work.
type Graph struct{ h C.CUgraph }

// GraphExec is an instantiated graph, launched as one unit.
type GraphExec struct{ h C.CUgraphExec }

// Capture modes (CUstreamCaptureMode).
const (
	CaptureGlobal      = 0
	CaptureThreadLocal = 1
	CaptureRelaxed     = 2
)

// BeginCapture starts recording s's work into a graph instead of running it.
func (s *Stream) BeginCapture(mode int) error {
	return check("cuStreamBeginCapture", C.call_cuStreamBeginCapture(s.handle(), C.int(mode)))
}

// EndCapture ends the recording and returns the graph.
func (s *Stream) EndCapture() (*Graph, error) {
	var g C.CUgraph
	if err := check("cuStreamEndCapture", C.call_cuStreamEndCapture(s.handle(), &g)); err != nil {
		return nil, err
	}
	return &Graph{h: g}, nil
}

// Instantiate prepares the graph for launching.
func (g *Graph) Instantiate() (*GraphExec, error) {
	var e C.CUgraphExec
	if err := check("cuGraphInstantiateWithFlags", C.call_cuGraphInstantiateWithFlags(&e, g.h, 0)); err != nil {
		return nil, err
	}
	return &GraphExec{h: e}, nil
}

// Destroy releases the graph.
func (g *Graph) Destroy() error { return check("cuGraphDestroy", C.call_cuGraphDestroy(g.h)) }

// Launch runs the whole graph on s.
func (e *GraphExec) Launch(s *Stream) error {
	return check("cuGraphLaunch", C.call_cuGraphLaunch(e.h, s.handle()))
}

// Destroy releases the executable graph.
func (e *GraphExec) Destroy() error {
	return check("cuGraphExecDestroy", C.call_cuGraphExecDestroy(e.h))
}

// SuggestBlockSize is the block size (a multiple of the warp size) that
// maximises resident threads per SM for smemPerThread bytes of dynamic
// shared memory per thread, as cuOccupancyMaxPotentialBlockSize does
// (computed here from the occupancy call, so it needs no callback).
func (f *Function) SuggestBlockSize(c *Context, smemPerThread int) (block, blocksPerSM int, err error) {
	maxT := c.Props.MaxThreadsPerBlock
	if v, err := f.Attribute(FuncMaxThreadsPerBlock); err == nil && v > 0 && v < maxT {
		maxT = v
	}
	limit, _ := f.Attribute(FuncMaxDynamicSharedMem)
	best := -1
	for bs := 32; bs <= maxT; bs += 32 {
		if smemPerThread*bs > limit {
			break
		}
		n, err := f.MaxActiveBlocksPerSM(bs, smemPerThread*bs)
		if err != nil {
			return 0, 0, err
		}
		if n*bs >= best && n > 0 {
			best, block, blocksPerSM = n*bs, bs, n
		}
	}
	if block == 0 {
		return 0, 0, fmt.Errorf("cuda: kernel %s: no block size fits %d bytes of shared memory per thread", f.Name, smemPerThread)
	}
	return block, blocksPerSM, nil
}
