package cuda

/*
#include "api.h"
NV_WRAP_ALL
#define P(p) ((void*)(uintptr_t)(p))
static int nccl_init(ncclComm_t* c, int n, const ncclUniqueId* id, int rank) {
	return call_ncclCommInitRank(c, n, *id, rank);
}
static int nccl_allreduce(CUdeviceptr s, CUdeviceptr r, size_t n, int dt, int op, ncclComm_t c, CUstream st) {
	return call_ncclAllReduce(P(s), P(r), n, dt, op, c, st);
}
static int nccl_bcast(CUdeviceptr s, CUdeviceptr r, size_t n, int dt, int root, ncclComm_t c, CUstream st) {
	return call_ncclBroadcast(P(s), P(r), n, dt, root, c, st);
}
static int nccl_allgather(CUdeviceptr s, CUdeviceptr r, size_t n, int dt, ncclComm_t c, CUstream st) {
	return call_ncclAllGather(P(s), P(r), n, dt, c, st);
}
*/
import "C"

import (
	"encoding/hex"
	"fmt"
	"unsafe"
)

// NCCLVersion is NCCL's major.minor.patch.
func NCCLVersion() (string, error) {
	if _, err := loadNccl(); err != nil {
		return "", err
	}
	var v C.int
	if err := checkNccl("ncclGetVersion", C.call_ncclGetVersion(&v)); err != nil {
		return "", err
	}
	return fmt.Sprintf("%d.%d.%d", int(v)/10000, int(v)%10000/100, int(v)%100), nil
}

// UniqueID names a communicator; rank 0 makes it and the others receive it.
type UniqueID [128]byte

// String is the hex form, for passing the id through the environment.
func (u UniqueID) String() string { return hex.EncodeToString(u[:]) }

// ParseUniqueID reads String's form.
func ParseUniqueID(s string) (UniqueID, error) {
	var u UniqueID
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != len(u) {
		return u, fmt.Errorf("nccl: bad unique id %q", s)
	}
	copy(u[:], b)
	return u, nil
}

// NewUniqueID asks NCCL for a fresh id.
func NewUniqueID() (UniqueID, error) {
	var u UniqueID
	if _, err := loadNccl(); err != nil {
		return u, err
	}
	var id C.ncclUniqueId
	if err := checkNccl("ncclGetUniqueId", C.call_ncclGetUniqueId(&id)); err != nil {
		return u, err
	}
	copy(u[:], unsafe.Slice((*byte)(unsafe.Pointer(&id)), len(u)))
	return u, nil
}

// Comm is one rank of an NCCL communicator.
type Comm struct {
	h          C.ncclComm_t
	Rank, Size int
}

// NCCL data types and reductions.
const (
	NCCLInt32   = 2
	NCCLInt64   = 4
	NCCLFloat32 = 7
	NCCLFloat64 = 8

	NCCLSum  = 0
	NCCLProd = 1
	NCCLMax  = 2
	NCCLMin  = 3
	NCCLAvg  = 4
)

// NewComm joins the communicator id as rank of size (blocks until all join).
func (c *Context) NewComm(id UniqueID, size, rank int) (*Comm, error) {
	if _, err := loadNccl(); err != nil {
		return nil, err
	}
	var cid C.ncclUniqueId
	copy(unsafe.Slice((*byte)(unsafe.Pointer(&cid)), len(id)), id[:])
	var h C.ncclComm_t
	if err := checkNccl("ncclCommInitRank", C.nccl_init(&h, C.int(size), &cid, C.int(rank))); err != nil {
		return nil, err
	}
	m := &Comm{h: h}
	var n, r C.int
	if err := checkNccl("ncclCommCount", C.call_ncclCommCount(h, &n)); err != nil {
		return nil, err
	}
	if err := checkNccl("ncclCommUserRank", C.call_ncclCommUserRank(h, &r)); err != nil {
		return nil, err
	}
	m.Size, m.Rank = int(n), int(r)
	return m, nil
}

// Destroy leaves the communicator.
func (m *Comm) Destroy() error { return checkNccl("ncclCommDestroy", C.call_ncclCommDestroy(m.h)) }

// AllReduce reduces count elements of type dt over all ranks into recv on every rank.
func (m *Comm) AllReduce(send, recv DevicePtr, count, dt, op int, s *Stream) error {
	return checkNccl("ncclAllReduce", C.nccl_allreduce(C.CUdeviceptr(send), C.CUdeviceptr(recv), C.size_t(count), C.int(dt), C.int(op), m.h, s.handle()))
}

// Broadcast copies root's send to every rank's recv.
func (m *Comm) Broadcast(send, recv DevicePtr, count, dt, root int, s *Stream) error {
	return checkNccl("ncclBroadcast", C.nccl_bcast(C.CUdeviceptr(send), C.CUdeviceptr(recv), C.size_t(count), C.int(dt), C.int(root), m.h, s.handle()))
}

// AllGather concatenates every rank's count elements, in rank order, into recv.
func (m *Comm) AllGather(send, recv DevicePtr, count, dt int, s *Stream) error {
	return checkNccl("ncclAllGather", C.nccl_allgather(C.CUdeviceptr(send), C.CUdeviceptr(recv), C.size_t(count), C.int(dt), m.h, s.handle()))
}

// GroupStart and GroupEnd bracket calls that NCCL issues together.
func GroupStart() error { return checkNccl("ncclGroupStart", C.call_ncclGroupStart()) }

// GroupEnd issues the calls since GroupStart.
func GroupEnd() error { return checkNccl("ncclGroupEnd", C.call_ncclGroupEnd()) }
