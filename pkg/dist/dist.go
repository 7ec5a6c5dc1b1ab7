// Package dist is the communicator of data-parallel training: rank, size,
// local rank and the collectives the training loop needs (all-reduce,
// broadcast, barrier, all-gather). It implements no collective algorithm of
// its own: every collective is handed to an engine loaded at run time.
//
// Engines:
//   - "single": one process (size 1); every collective is the identity.
//   - "mpi": Open MPI's libmpi.so.40 through dlopen, for host buffers (the
//     CPU backend) and for bootstrap. Only the Open MPI ABI is supported
//     (handles are addresses of ompi_mpi_* symbols); an MPICH-ABI library
//     (libmpi.so.12: MPICH, Intel MPI, MVAPICH, Cray MPICH) or any other
//     ABI is refused with one line.
//   - "nccl": NCCL's libnccl.so.2 (2.10 or later, through pkg/cuda's
//     dlopen; the emulated NCCL of --device cuda-emu), one communicator per
//     process on the process's GPU (nccl.go). It reduces device tensors in
//     place (DeviceComm: the CUDA backend's storage) and host buffers by
//     staging them through device memory, so it needs no MPI. Bootstrap:
//     rank 0 makes the NCCL unique id and hands it to every rank over the
//     TCP Rendezvous (launch.go) for the official --num_process_per_node
//     launch, or over MPI's Broadcast under mpirun/srun (over the TCP
//     rendezvous at $MASTER_ADDR:$MASTER_PORT instead when srun runs
//     without MPI and MASTER_ADDR is set). A missing libnccl or GPU is one
//     line.
//
// Engine choice (OpenTraining): --dist_engine wins; "auto" takes nccl for a
// GPU backend (--device cuda, cuda-emu, or auto with a GPU) and mpi for the
// CPU backend; the official launcher's workers are GPU workers (nccl).
// --dist_engine nccl in a single process gives a one-rank NCCL communicator,
// and training then takes its data-parallel path over it (gpu-check's
// one-GPU run of the NCCL code).
//
// GPU binding: a process started by a launcher with several ranks sees only
// its node-local GPU. Package initialisation (before any CUDA call) sets
// CUDA_VISIBLE_DEVICES from the local rank: to the local rank when unset,
// to the local rank's entry when it lists several devices; a single entry
// (Slurm's --gpu-bind, a site's own binding) is left as it is.
package dist

import (
	"errors"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/nvaego/nvae/pkg/par"
	"github.com/nvaego/nvae/pkg/tensor"
)

// Op is a reduction.
type Op int

const (
	// Sum adds the buffers of all ranks.
	Sum Op = iota
	// Mean is Sum divided by Size (the division is done here, after the
	// engine's sum, in the buffer's precision).
	Mean
	// Max takes the element-wise maximum.
	Max
)

func (o Op) String() string {
	switch o {
	case Sum:
		return "sum"
	case Mean:
		return "mean"
	case Max:
		return "max"
	}
	return fmt.Sprintf("Op(%d)", int(o))
}

// Comm is a communicator over all ranks of a run. Buffers are []float32 or
// []float64 (Broadcast also takes []byte); every rank must call every
// collective in the same order with buffers of the same length and type.
type Comm interface {
	Rank() int
	Size() int
	// LocalRank is the rank among the processes of this node.
	LocalRank() int
	// Engine names the engine ("single", "mpi", ...) and its library.
	Engine() string
	// AllReduce reduces buf in place over all ranks.
	AllReduce(buf any, op Op) error
	// Broadcast copies root's buf into every rank's buf.
	Broadcast(buf any, root int) error
	// Barrier returns once every rank has entered it.
	Barrier() error
	// AllGather concatenates every rank's send, in rank order, into recv
	// (len(recv) = Size·len(send)).
	AllGather(send, recv any) error
	// Close ends the engine (MPI_Finalize); the Comm is unusable after.
	Close() error
}

// DeviceComm is implemented by engines that reduce device memory (NCCL):
// the collectives below take tensors of the CUDA backend, float32 or
// float64, and work in place in their device memory, ordered with the
// backend's kernels on its stream (the legacy default stream): they return
// once the work is queued, without waiting for it. Every rank must call
// them in the same order with tensors of the same length and type.
type DeviceComm interface {
	Comm
	// OnDevice reports whether t's memory is memory this engine reduces
	// in place (a tensor of the GPU backend); host tensors are not.
	OnDevice(t *tensor.Tensor) bool
	// AllReduceTensor reduces t in place over all ranks. Mean is NCCL's
	// ncclAvg (for floating point, each rank's values are multiplied by
	// 1/Size before the sum).
	AllReduceTensor(t *tensor.Tensor, op Op) error
	// BroadcastTensor copies root's t into every rank's t.
	BroadcastTensor(t *tensor.Tensor, root int) error
	// AllGatherTensor concatenates every rank's send, in rank order, into
	// recv (recv.Len() = Size·send.Len(), same dtype).
	AllGatherTensor(send, recv *tensor.Tensor) error
}

// Single is the engine of a one-process run.
type Single struct{}

func (Single) Rank() int      { return 0 }
func (Single) Size() int      { return 1 }
func (Single) LocalRank() int { return 0 }
func (Single) Engine() string { return "single" }

// AllReduce of one rank leaves buf as it is (a mean over one rank too).
func (Single) AllReduce(buf any, op Op) error { _, err := bufLen(buf); return err }

// Broadcast from rank 0 to itself.
func (Single) Broadcast(buf any, root int) error {
	if root != 0 {
		return fmt.Errorf("dist: broadcast root %d out of range for size 1", root)
	}
	return nil
}
func (Single) Barrier() error { return nil }

// AllGather copies send into recv.
func (Single) AllGather(send, recv any) error {
	switch s := send.(type) {
	case []float32:
		r, ok := recv.([]float32)
		if !ok || len(r) != len(s) {
			return errors.New("dist: all-gather buffers differ in type or length")
		}
		copy(r, s)
	case []float64:
		r, ok := recv.([]float64)
		if !ok || len(r) != len(s) {
			return errors.New("dist: all-gather buffers differ in type or length")
		}
		copy(r, s)
	default:
		return fmt.Errorf("dist: unsupported buffer type %T", send)
	}
	return nil
}
func (Single) Close() error { return nil }

func bufLen(buf any) (int, error) {
	switch b := buf.(type) {
	case []float32:
		return len(b), nil
	case []float64:
		return len(b), nil
	case []byte:
		return len(b), nil
	}
	return 0, fmt.Errorf("dist: unsupported buffer type %T (want []float32 or []float64)", buf)
}

// divide finishes a Mean.
func divide(buf any, n int) {
	switch b := buf.(type) {
	case []float32:
		for i := range b {
			b[i] /= float32(n)
		}
	case []float64:
		for i := range b {
			b[i] /= float64(n)
		}
	}
}

// Launch is what the launcher's environment says about this process.
type Launch struct {
	// Launcher is "mpirun" (Open MPI's OMPI_COMM_WORLD_*), "srun"
	// (SLURM_PROCID/LOCALID/NTASKS), "nvae" (a worker of SpawnLocal,
	// NVAE_DIST_*) or "" (a plain process).
	Launcher              string
	Rank, Size, LocalRank int
	// Master is host:port of the rendezvous (SpawnLocal's workers).
	Master string
}

// FromEnv reads the launcher's environment. SpawnLocal's variables win,
// then Open MPI's over Slurm's (mpirun inside an allocation sets both).
func FromEnv() (Launch, error) {
	get := func(name string) (int, bool, error) {
		v, ok := os.LookupEnv(name)
		if !ok || v == "" {
			return 0, false, nil
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return 0, true, fmt.Errorf("dist: %s=%q is not a non-negative integer", name, v)
		}
		return n, true, nil
	}
	for _, l := range []struct{ name, rank, size, local string }{
		{"nvae", EnvRank, EnvSize, EnvLocalRank},
		{"mpirun", "OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_LOCAL_RANK"},
		{"srun", "SLURM_PROCID", "SLURM_NTASKS", "SLURM_LOCALID"},
	} {
		size, ok, err := get(l.size)
		if err != nil {
			return Launch{}, err
		}
		if !ok {
			continue
		}
		rank, _, err := get(l.rank)
		if err != nil {
			return Launch{}, err
		}
		local, _, err := get(l.local)
		if err != nil {
			return Launch{}, err
		}
		if size < 1 || rank >= size {
			return Launch{}, fmt.Errorf("dist: %s gives rank %d of size %d", l.name, rank, size)
		}
		out := Launch{Launcher: l.name, Rank: rank, Size: size, LocalRank: local}
		if l.name == "nvae" {
			out.Master = os.Getenv(EnvMaster)
		}
		return out, nil
	}
	return Launch{Size: 1}, nil
}

// Factory opens an engine for the given launch.
type Factory func(l Launch) (Comm, error)

var (
	regMu    sync.Mutex
	registry = map[string]Factory{
		"single": func(l Launch) (Comm, error) {
			if l.Size > 1 {
				return nil, fmt.Errorf("dist: the single-process engine cannot run %d ranks", l.Size)
			}
			return Single{}, nil
		},
		"mpi":  OpenMPI,
		"nccl": OpenNCCL,
	}
)

// Register adds an engine (or replaces one: tests, other builds).
func Register(name string, f Factory) {
	regMu.Lock()
	defer regMu.Unlock()
	registry[name] = f
}

// Engines lists the registered engine names.
func Engines() []string {
	regMu.Lock()
	defer regMu.Unlock()
	var n []string
	for k := range registry {
		n = append(n, k)
	}
	sort.Strings(n)
	return n
}

// Has reports whether an engine is registered.
func Has(engine string) bool {
	regMu.Lock()
	defer regMu.Unlock()
	_, ok := registry[engine]
	return ok
}

// Open returns a communicator from the named engine ("auto": "single" for
// a one-process launch, "nccl" for SpawnLocal's workers, "mpi" otherwise).
func Open(engine string, l Launch) (Comm, error) {
	if l.Size > 1 {
		// Ranks may share a node's cores: workers polling for work would
		// take them from the other ranks (measured: 2 ranks on 2 cores
		// trained about 15% slower).
		par.SetSpin(0)
	}
	if engine == "" || engine == "auto" {
		switch {
		case l.Size == 1:
			engine = "single"
		case l.Launcher == "nvae":
			engine = "nccl"
		default:
			engine = "mpi"
		}
	}
	regMu.Lock()
	f, ok := registry[engine]
	regMu.Unlock()
	if !ok {
		return nil, fmt.Errorf("dist: unknown engine %q (have %s)", engine, strings.Join(Engines(), ", "))
	}
	return f(l)
}
