package dist

// The NCCL engine: one NCCL communicator per process, on the process's GPU
// (device 0 of what CUDA_VISIBLE_DEVICES leaves it; see bindLocalGPU).
// Device tensors are reduced in place; host buffers go through a device
// staging buffer. Every NCCL call is issued on the legacy default stream,
// the CUDA backend's stream, so collectives are ordered with the kernels
// that produce and consume their tensors without events or host waits.

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
	"unsafe"

	cu "github.com/nvaego/nvae/pkg/cuda"
	"github.com/nvaego/nvae/pkg/tensor"
)

// RendezvousTimeout bounds how long the NCCL bootstrap waits for every rank
// at the TCP rendezvous.
const RendezvousTimeout = 10 * time.Minute

// NCCL is the NCCL engine (see the package doc).
type NCCL struct {
	ctx                   *cu.Context
	comm                  *cu.Comm
	rank, size, localRank int
	version, boot         string
	bootComm              Comm // the MPI communicator that carried the id, if any

	mu     sync.Mutex // guards the staging buffer and closed
	stage  cu.DevicePtr
	stageN int
	closed bool
}

var (
	_ Comm       = (*NCCL)(nil)
	_ DeviceComm = (*NCCL)(nil)
)

// OpenNCCL joins the NCCL communicator of launch l (see the package doc for
// the bootstrap). Every rank loads libnccl and the GPU before the
// rendezvous, so a missing library or GPU is reported by every rank at
// once, in one line, instead of a rendezvous timeout.
func OpenNCCL(l Launch) (Comm, error) {
	ctx, err := cu.Init()
	if err != nil {
		return nil, fmt.Errorf("dist: the NCCL engine needs a GPU (on CPU train under mpirun with --device cpu, the MPI engine): %v", oneLine(err))
	}
	ver, err := cu.NCCLVersion()
	if err != nil {
		return nil, fmt.Errorf("dist: the NCCL engine needs NCCL's libnccl.so.2 (pip's nvidia-nccl-cu12, or the system's libnccl2; set NVAE_CUDA_LIB_PATH to its folder): %v", oneLine(err))
	}
	if l.Size < 1 {
		l.Size = 1
	}
	n := &NCCL{ctx: ctx, rank: l.Rank, size: l.Size, localRank: l.LocalRank, version: ver}
	var id cu.UniqueID
	if l.Rank == 0 {
		if id, err = cu.NewUniqueID(); err != nil {
			return nil, fmt.Errorf("dist: NCCL unique id: %v", oneLine(err))
		}
	}
	switch master := ncclMaster(l); {
	case l.Size == 1:
		n.boot = "none"
	case master != "":
		n.boot = "tcp " + master
		got, err := Rendezvous(master, l.Rank, l.Size, id[:], RendezvousTimeout)
		if err != nil {
			return nil, err
		}
		if len(got) != len(id) {
			return nil, fmt.Errorf("dist: rendezvous at %s handed out %d bytes, not an NCCL id", master, len(got))
		}
		copy(id[:], got)
	default:
		n.boot = "mpi"
		m, err := OpenMPI(l)
		if err != nil {
			return nil, fmt.Errorf("dist: the NCCL engine's bootstrap under %s uses MPI (or set MASTER_ADDR for a TCP rendezvous): %v", l.Launcher, err)
		}
		buf := id[:]
		if err := m.Broadcast(buf, 0); err != nil {
			m.Close()
			return nil, fmt.Errorf("dist: NCCL bootstrap over MPI: %v", err)
		}
		n.bootComm = m
	}
	if n.comm, err = ctx.NewComm(id, l.Size, l.Rank); err != nil {
		if n.bootComm != nil {
			n.bootComm.Close()
		}
		return nil, fmt.Errorf("dist: NCCL rank %d of %d: %v", l.Rank, l.Size, oneLine(err))
	}
	return n, nil
}

// ncclMaster is the TCP rendezvous of launch l: SpawnLocal's master for its
// workers, $MASTER_ADDR:$MASTER_PORT under srun when MASTER_ADDR is set,
// else "" (bootstrap over MPI).
func ncclMaster(l Launch) string {
	switch {
	case l.Launcher == "nvae" && l.Master != "":
		return l.Master
	case l.Launcher == "srun" && os.Getenv("MASTER_ADDR") != "":
		return MasterAddr(os.Getenv("MASTER_ADDR"))
	}
	return ""
}

func oneLine(err error) string { return strings.Join(strings.Fields(err.Error()), " ") }

func (n *NCCL) Rank() int      { return n.rank }
func (n *NCCL) Size() int      { return n.size }
func (n *NCCL) LocalRank() int { return n.localRank }

// Engine names NCCL's version, the device and the bootstrap.
func (n *NCCL) Engine() string {
	return fmt.Sprintf("nccl (NCCL %s on %s, bootstrap %s)", n.version, n.ctx.Props.Name, n.boot)
}

// ncclType is the NCCL data type and element size of a host buffer.
func ncclType(buf any) (p unsafe.Pointer, count, dt, size int, err error) {
	switch b := buf.(type) {
	case []float32:
		if len(b) > 0 {
			p = unsafe.Pointer(&b[0])
		}
		return p, len(b), cu.NCCLFloat32, 4, nil
	case []float64:
		if len(b) > 0 {
			p = unsafe.Pointer(&b[0])
		}
		return p, len(b), cu.NCCLFloat64, 8, nil
	case []byte:
		if len(b) > 0 {
			p = unsafe.Pointer(&b[0])
		}
		return p, len(b), ncclUint8, 1, nil
	}
	return nil, 0, 0, 0, fmt.Errorf("dist: unsupported buffer type %T (want []float32, []float64 or []byte)", buf)
}

// ncclUint8 is NCCL's ncclUint8.
const ncclUint8 = 1

func ncclOp(op Op) (int, error) {
	switch op {
	case Sum:
		return cu.NCCLSum, nil
	case Mean:
		return cu.NCCLAvg, nil
	case Max:
		return cu.NCCLMax, nil
	}
	return 0, fmt.Errorf("dist: unknown reduction %v", op)
}

// staging returns a device buffer of at least bytes bytes (n.mu held).
func (n *NCCL) staging(bytes int) (cu.DevicePtr, error) {
	if n.closed {
		return 0, errors.New("dist: NCCL communicator used after Close")
	}
	if bytes <= n.stageN {
		return n.stage, nil
	}
	if n.stageN > 0 {
		if err := n.ctx.Synchronize(); err != nil {
			return 0, err
		}
		n.ctx.Free(n.stage)
		n.stage, n.stageN = 0, 0
	}
	size := max(bytes, 4096)
	p, err := n.ctx.Alloc(size)
	if err != nil {
		return 0, fmt.Errorf("dist: NCCL staging buffer of %d bytes: %v", size, err)
	}
	n.stage, n.stageN = p, size
	return p, nil
}

// staged runs a collective on host memory through the staging buffer:
// in (if not nil) is copied to the buffer at byte offset at, f runs the
// collective on the buffer, and the buffer's first len(out) bytes are
// copied to out (which waits for the collective).
func (n *NCCL) staged(bytes int, in []byte, at int, out []byte, f func(d cu.DevicePtr) error) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	d, err := n.staging(bytes)
	if err != nil {
		return err
	}
	if in != nil {
		if err := cu.CopyToDevice(d+cu.DevicePtr(at), in); err != nil {
			return err
		}
	}
	if err := f(d); err != nil {
		return err
	}
	return cu.CopyFromDevice(out, d)
}

// hostBytes views a host buffer's memory.
func hostBytes(p unsafe.Pointer, n int) []byte {
	if n == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(p), n)
}

// AllReduce reduces a host buffer: it is copied to device memory, reduced
// by NCCL (Mean as Sum, divided here in the buffer's precision like the MPI
// engine) and copied back.
func (n *NCCL) AllReduce(buf any, op Op) error {
	p, count, dt, size, err := ncclType(buf)
	if err != nil {
		return err
	}
	if size == 1 {
		return errors.New("dist: all-reduce of bytes")
	}
	nop, err := ncclOp(op)
	if err != nil {
		return err
	}
	if op == Mean {
		nop = cu.NCCLSum
	}
	if count == 0 {
		return nil
	}
	host := hostBytes(p, count*size)
	if err := n.staged(count*size, host, 0, host, func(d cu.DevicePtr) error {
		return n.comm.AllReduce(d, d, count, dt, nop, nil)
	}); err != nil {
		return err
	}
	if op == Mean {
		divide(buf, n.size)
	}
	return nil
}

// Broadcast copies root's host buffer to every rank through device memory.
func (n *NCCL) Broadcast(buf any, root int) error {
	if root < 0 || root >= n.size {
		return fmt.Errorf("dist: broadcast root %d out of range for size %d", root, n.size)
	}
	p, count, dt, size, err := ncclType(buf)
	if err != nil || count == 0 {
		return err
	}
	host := hostBytes(p, count*size)
	in := host
	if n.rank != root {
		in = nil
	}
	return n.staged(count*size, in, 0, host, func(d cu.DevicePtr) error {
		return n.comm.Broadcast(d, d, count, dt, root, nil)
	})
}

// Barrier is an all-reduce of one value, waited for.
func (n *NCCL) Barrier() error { return n.AllReduce([]float32{0}, Sum) }

// AllGather gathers host buffers through device memory (in place: this
// rank's part is copied to its slot of the received buffer).
func (n *NCCL) AllGather(send, recv any) error {
	sp, count, dt, size, err := ncclType(send)
	if err != nil {
		return err
	}
	rp, rcount, rdt, _, err := ncclType(recv)
	if err != nil {
		return err
	}
	if rdt != dt || rcount != count*n.size {
		return fmt.Errorf("dist: all-gather of %d elements into %d (want %d of the same type)", count, rcount, count*n.size)
	}
	if count == 0 {
		return nil
	}
	at := n.rank * count * size
	return n.staged(rcount*size, hostBytes(sp, count*size), at, hostBytes(rp, rcount*size), func(d cu.DevicePtr) error {
		return n.comm.AllGather(d+cu.DevicePtr(at), d, count, dt, nil)
	})
}

// devicePtr is the storage of a device tensor (the CUDA backend's *Buf).
type devicePtr interface {
	tensor.Storage
	Ptr() cu.DevicePtr
}

// OnDevice implements DeviceComm.
func (n *NCCL) OnDevice(t *tensor.Tensor) bool {
	_, ok := t.Storage().(devicePtr)
	return ok && !t.OnHost()
}

// device returns t's device address, NCCL type and length.
func (n *NCCL) device(t *tensor.Tensor) (cu.DevicePtr, int, int, error) {
	s, ok := t.Storage().(devicePtr)
	if !ok || t.OnHost() {
		return 0, 0, 0, fmt.Errorf("dist: tensor %v is not in device memory (the NCCL engine's tensor collectives take the GPU backend's tensors)", t.Shape())
	}
	if n.closed {
		return 0, 0, 0, errors.New("dist: NCCL communicator used after Close")
	}
	switch t.DType() {
	case tensor.Float32:
		return s.Ptr(), cu.NCCLFloat32, t.Len(), nil
	case tensor.Float64:
		return s.Ptr(), cu.NCCLFloat64, t.Len(), nil
	}
	return 0, 0, 0, fmt.Errorf("dist: tensor of %v", t.DType())
}

// AllReduceTensor implements DeviceComm.
func (n *NCCL) AllReduceTensor(t *tensor.Tensor, op Op) error {
	p, dt, count, err := n.device(t)
	if err != nil || count == 0 {
		return err
	}
	nop, err := ncclOp(op)
	if err != nil {
		return err
	}
	return n.comm.AllReduce(p, p, count, dt, nop, nil)
}

// BroadcastTensor implements DeviceComm.
func (n *NCCL) BroadcastTensor(t *tensor.Tensor, root int) error {
	if root < 0 || root >= n.size {
		return fmt.Errorf("dist: broadcast root %d out of range for size %d", root, n.size)
	}
	p, dt, count, err := n.device(t)
	if err != nil || count == 0 {
		return err
	}
	return n.comm.Broadcast(p, p, count, dt, root, nil)
}

// AllGatherTensor implements DeviceComm.
func (n *NCCL) AllGatherTensor(send, recv *tensor.Tensor) error {
	sp, dt, count, err := n.device(send)
	if err != nil {
		return err
	}
	rp, rdt, rcount, err := n.device(recv)
	if err != nil {
		return err
	}
	if rdt != dt || rcount != count*n.size {
		return fmt.Errorf("dist: all-gather of %d elements into %d (want %d of the same type)", count, rcount, count*n.size)
	}
	if count == 0 {
		return nil
	}
	return n.comm.AllGather(sp, rp, count, dt, nil)
}

// Close waits for the queued work, leaves the NCCL communicator and frees
// the staging buffer (and finalises MPI when it carried the id).
func (n *NCCL) Close() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return nil
	}
	n.closed = true
	errs := []error{n.ctx.Synchronize(), n.comm.Destroy()}
	if n.stageN > 0 {
		errs = append(errs, n.ctx.Free(n.stage))
		n.stage, n.stageN = 0, 0
	}
	if n.bootComm != nil {
		errs = append(errs, n.bootComm.Close())
	}
	return errors.Join(errs...)
}

// ---- GPU binding

func init() { bindLocalGPU() }

// bindLocalGPU makes a rank of a multi-rank launch see only its node-local
// GPU (see the package doc). It runs at package initialisation, before
// anything opens the CUDA driver (which reads CUDA_VISIBLE_DEVICES once).
func bindLocalGPU() {
	l, err := FromEnv()
	if err != nil || l.Size < 2 {
		return
	}
	cur, set := os.LookupEnv("CUDA_VISIBLE_DEVICES")
	if v := VisibleDevice(cur, set, l.LocalRank); v != "" {
		os.Setenv("CUDA_VISIBLE_DEVICES", v)
	}
}

// VisibleDevice is the CUDA_VISIBLE_DEVICES of local rank local, given the
// current value (set says whether the variable is set at all): the local
// rank when unset, the local rank's entry (modulo their number) when it
// lists several devices, and "" (leave it) when it names one device or none.
func VisibleDevice(cur string, set bool, local int) string {
	if !set {
		return strconv.Itoa(local)
	}
	var ids []string
	for _, f := range strings.Split(cur, ",") {
		if f = strings.TrimSpace(f); f != "" {
			ids = append(ids, f)
		}
	}
	if len(ids) < 2 {
		return ""
	}
	return ids[local%len(ids)]
}
