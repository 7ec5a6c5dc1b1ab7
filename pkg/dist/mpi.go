package dist

/*
#include <stdlib.h>
#include <stdint.h>

// Open MPI ABI: MPI_Comm, MPI_Datatype and MPI_Op are pointers to global
// objects (ompi_mpi_comm_world, ompi_mpi_double, ompi_mpi_op_sum, ...);
// MPI_IN_PLACE is (void*)1.
typedef int (*mpi_initialized_t)(int*);
typedef int (*mpi_init_thread_t)(int*, char***, int, int*);
typedef int (*mpi_finalize_t)(void);
typedef int (*mpi_comm_int_t)(void*, int*);
typedef int (*mpi_barrier_t)(void*);
typedef int (*mpi_allreduce_t)(const void*, void*, int, void*, void*, void*);
typedef int (*mpi_bcast_t)(void*, int, void*, int, void*);
typedef int (*mpi_allgather_t)(const void*, int, void*, void*, int, void*, void*);
typedef int (*mpi_libver_t)(char*, int*);

static int c_initialized(void* f, int* flag) { return ((mpi_initialized_t)f)(flag); }
static int c_init_thread(void* f, int req, int* prov) { return ((mpi_init_thread_t)f)(NULL, NULL, req, prov); }
static int c_finalize(void* f) { return ((mpi_finalize_t)f)(); }
static int c_comm_int(void* f, void* comm, int* out) { return ((mpi_comm_int_t)f)(comm, out); }
static int c_barrier(void* f, void* comm) { return ((mpi_barrier_t)f)(comm); }
static int c_allreduce_inplace(void* f, void* buf, int n, void* dt, void* op, void* comm) {
	return ((mpi_allreduce_t)f)((const void*)(uintptr_t)1, buf, n, dt, op, comm);
}
static int c_bcast(void* f, void* buf, int n, void* dt, int root, void* comm) { return ((mpi_bcast_t)f)(buf, n, dt, root, comm); }
static int c_allgather(void* f, const void* s, int n, void* dt, void* r, void* comm) {
	return ((mpi_allgather_t)f)(s, n, dt, r, n, dt, comm);
}
static int c_libver(void* f, char* s, int* n) { return ((mpi_libver_t)f)(s, n); }
*/
import "C"

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"unsafe"

	"github.com/nvaego/nvae/internal/dl"
)

// MPILibEnv names a libmpi.so to load instead of the loader's libmpi.so.40.
const MPILibEnv = "NVAE_MPI_LIB"

// MPI is the Open MPI engine. Every MPI call runs on one goroutine locked to
// one OS thread (the thread that called MPI_Init), so MPI_THREAD_FUNNELED
// suffices whatever goroutine calls the Comm.
type MPI struct {
	path, version         string
	rank, size, localRank int
	fn                    map[string]unsafe.Pointer
	world                 unsafe.Pointer
	dtFloat, dtDouble     unsafe.Pointer
	dtByte                unsafe.Pointer
	opSum, opMax          unsafe.Pointer
	calls                 chan func()
	closed                bool
}

// loadOpenMPI finds libmpi and checks that it has Open MPI's ABI.
func loadOpenMPI() (h *dl.Lib, path string, err error) {
	cands := []string{"libmpi.so.40", "/usr/lib/x86_64-linux-gnu/libmpi.so.40", "/usr/lib/aarch64-linux-gnu/libmpi.so.40",
		"/usr/lib64/openmpi/lib/libmpi.so.40", "/opt/openmpi/lib/libmpi.so.40", "/usr/local/lib/libmpi.so.40"}
	if p := os.Getenv(MPILibEnv); p != "" {
		cands = []string{p}
	}
	var why []string
	for _, p := range cands {
		h, err := dl.Open(p, true) // global: Open MPI's plugins resolve libmpi's symbols
		if err != nil {
			why = append(why, err.Error())
			continue
		}
		if h.Sym("ompi_mpi_comm_world") == nil {
			abi := "an unknown MPI ABI"
			if h.Sym("MPIR_Dataloop_pool") != nil || h.Sym("MPIR_Process") != nil || strings.Contains(filepath.Base(p), ".so.12") {
				abi = "the MPICH ABI (integer handles: MPICH, Intel MPI, MVAPICH, Cray MPICH)"
			}
			return nil, "", fmt.Errorf("dist: %s has %s; only Open MPI's ABI (libmpi.so.40, handles are ompi_mpi_* symbols) is supported", p, abi)
		}
		return h, p, nil
	}
	// a lone MPICH-ABI library: say which ABI it is, in one line
	for _, p := range []string{"libmpi.so.12", "libmpich.so.12"} {
		if h, err := dl.Open(p, true); err == nil && h.Sym("ompi_mpi_comm_world") == nil {
			return nil, "", fmt.Errorf("dist: only %s (the MPICH ABI: MPICH, Intel MPI, MVAPICH, Cray MPICH) was found; the MPI engine supports Open MPI's ABI only (libmpi.so.40: Debian/Ubuntu openmpi-bin)", p)
		}
	}
	return nil, "", fmt.Errorf("dist: Open MPI's libmpi.so.40 not found (install openmpi-bin, or set %s): %s", MPILibEnv, strings.Join(why[:1], ""))
}

// OpenMPI initialises MPI (MPI_Init_thread, FUNNELED) and returns the
// world communicator. l supplies the local rank (MPI has none of its own).
func OpenMPI(l Launch) (Comm, error) {
	h, path, err := loadOpenMPI()
	if err != nil {
		return nil, err
	}
	m := &MPI{path: path, fn: map[string]unsafe.Pointer{}, localRank: l.LocalRank, calls: make(chan func())}
	for _, name := range []string{"MPI_Initialized", "MPI_Init_thread", "MPI_Finalize", "MPI_Comm_rank", "MPI_Comm_size",
		"MPI_Barrier", "MPI_Allreduce", "MPI_Bcast", "MPI_Allgather", "MPI_Get_library_version"} {
		p := h.Sym(name)
		if p == nil {
			return nil, fmt.Errorf("dist: %s: symbol %s not found", path, name)
		}
		m.fn[name] = p
	}
	for _, s := range []struct {
		dst  *unsafe.Pointer
		name string
	}{{&m.world, "ompi_mpi_comm_world"}, {&m.dtFloat, "ompi_mpi_float"}, {&m.dtDouble, "ompi_mpi_double"},
		{&m.dtByte, "ompi_mpi_byte"}, {&m.opSum, "ompi_mpi_op_sum"}, {&m.opMax, "ompi_mpi_op_max"}} {
		if *s.dst = h.Sym(s.name); *s.dst == nil {
			return nil, fmt.Errorf("dist: %s: Open MPI handle %s not found", path, s.name)
		}
	}
	// Open MPI would install SIGSEGV/SIGBUS/SIGFPE/SIGABRT handlers over the
	// Go runtime's (nil-pointer panics, preemption); leave signals to Go.
	if _, set := os.LookupEnv("OMPI_MCA_opal_signal"); !set {
		os.Setenv("OMPI_MCA_opal_signal", "")
	}
	started := make(chan error)
	go func() {
		runtime.LockOSThread() // never unlocked: this thread owns MPI
		var flag, prov C.int
		C.c_initialized(m.fn["MPI_Initialized"], &flag)
		if flag == 0 {
			// MPI_THREAD_FUNNELED = 1 in Open MPI
			if rc := C.c_init_thread(m.fn["MPI_Init_thread"], 1, &prov); rc != 0 {
				started <- fmt.Errorf("dist: MPI_Init_thread failed (error %d)", int(rc))
				return
			}
		}
		var r, s C.int
		C.c_comm_int(m.fn["MPI_Comm_rank"], m.world, &r)
		C.c_comm_int(m.fn["MPI_Comm_size"], m.world, &s)
		m.rank, m.size = int(r), int(s)
		buf := make([]byte, 4096)
		var n C.int
		if C.c_libver(m.fn["MPI_Get_library_version"], (*C.char)(unsafe.Pointer(&buf[0])), &n) == 0 {
			m.version = strings.TrimSpace(strings.SplitN(string(buf[:n]), ",", 2)[0])
		}
		started <- nil
		for f := range m.calls {
			f()
		}
	}()
	if err := <-started; err != nil {
		return nil, err
	}
	if l.Size > 1 && (m.size != l.Size || m.rank != l.Rank) {
		return nil, fmt.Errorf("dist: MPI says rank %d of %d, the launcher's environment %d of %d", m.rank, m.size, l.Rank, l.Size)
	}
	return m, nil
}

// do runs f on the MPI thread.
func (m *MPI) do(f func() C.int) error {
	if m.closed {
		return errors.New("dist: MPI communicator used after Close")
	}
	done := make(chan C.int)
	m.calls <- func() { done <- f() }
	if rc := <-done; rc != 0 {
		return fmt.Errorf("dist: MPI error %d", int(rc))
	}
	return nil
}

func (m *MPI) Rank() int      { return m.rank }
func (m *MPI) Size() int      { return m.size }
func (m *MPI) LocalRank() int { return m.localRank }
func (m *MPI) Engine() string { return fmt.Sprintf("mpi (%s, %s)", m.version, m.path) }

// chunk is the largest element count per MPI call (counts are C ints).
const chunk = 1 << 28

func (m *MPI) typed(buf any) (p unsafe.Pointer, n int, dt unsafe.Pointer, size int, err error) {
	switch b := buf.(type) {
	case []float32:
		if len(b) > 0 {
			p = unsafe.Pointer(&b[0])
		}
		return p, len(b), m.dtFloat, 4, nil
	case []float64:
		if len(b) > 0 {
			p = unsafe.Pointer(&b[0])
		}
		return p, len(b), m.dtDouble, 8, nil
	case []byte:
		if len(b) > 0 {
			p = unsafe.Pointer(&b[0])
		}
		return p, len(b), m.dtByte, 1, nil
	}
	return nil, 0, nil, 0, fmt.Errorf("dist: unsupported buffer type %T", buf)
}

// AllReduce is MPI_Allreduce in place (MPI_SUM or MPI_MAX; Mean divides
// the sum by Size).
func (m *MPI) AllReduce(buf any, op Op) error {
	p, n, dt, size, err := m.typed(buf)
	if err != nil {
		return err
	}
	if size == 1 {
		return errors.New("dist: all-reduce of bytes")
	}
	mop := m.opSum
	if op == Max {
		mop = m.opMax
	}
	for off := 0; off < n; off += chunk {
		k := min(chunk, n-off)
		q := unsafe.Add(p, off*size)
		if err := m.do(func() C.int { return C.c_allreduce_inplace(m.fn["MPI_Allreduce"], q, C.int(k), dt, mop, m.world) }); err != nil {
			return err
		}
	}
	runtime.KeepAlive(buf)
	if op == Mean {
		divide(buf, m.size)
	}
	return nil
}

// Broadcast is MPI_Bcast.
func (m *MPI) Broadcast(buf any, root int) error {
	if root < 0 || root >= m.size {
		return fmt.Errorf("dist: broadcast root %d out of range for size %d", root, m.size)
	}
	p, n, dt, size, err := m.typed(buf)
	if err != nil {
		return err
	}
	for off := 0; off < n; off += chunk {
		k := min(chunk, n-off)
		q := unsafe.Add(p, off*size)
		if err := m.do(func() C.int { return C.c_bcast(m.fn["MPI_Bcast"], q, C.int(k), dt, C.int(root), m.world) }); err != nil {
			return err
		}
	}
	runtime.KeepAlive(buf)
	return nil
}

// Barrier is MPI_Barrier.
func (m *MPI) Barrier() error {
	return m.do(func() C.int { return C.c_barrier(m.fn["MPI_Barrier"], m.world) })
}

// AllGather is MPI_Allgather.
func (m *MPI) AllGather(send, recv any) error {
	sp, n, dt, _, err := m.typed(send)
	if err != nil {
		return err
	}
	rp, rn, rdt, _, err := m.typed(recv)
	if err != nil {
		return err
	}
	if rdt != dt || rn != n*m.size {
		return fmt.Errorf("dist: all-gather of %d elements into %d (want %d of the same type)", n, rn, n*m.size)
	}
	if n > chunk {
		return fmt.Errorf("dist: all-gather of %d elements: more than %d", n, chunk)
	}
	err = m.do(func() C.int { return C.c_allgather(m.fn["MPI_Allgather"], sp, C.int(n), dt, rp, m.world) })
	runtime.KeepAlive(send)
	runtime.KeepAlive(recv)
	return err
}

// Close is MPI_Finalize.
func (m *MPI) Close() error {
	if m.closed {
		return nil
	}
	err := m.do(func() C.int { return C.c_finalize(m.fn["MPI_Finalize"]) })
	m.closed = true
	close(m.calls)
	return err
}
