package nn

import (
	"sync"
	"sync/atomic"
	"testing"

	"github.com/nvaego/nvae/pkg/tensor"
)

// fakeDeviceSync runs the device path of synchronized batch norm on the CPU
// backend: its tensor collectives reduce the CPU tensors' memory in place
// (what the NCCL engine does to device memory), through the test's group.
type fakeDeviceSync struct {
	fakeSync
	calls *atomic.Int32 // tensor collectives made
}

func (fakeDeviceSync) OnDevice(*tensor.Tensor) bool { return true }

func (f fakeDeviceSync) AllGatherTensor(send, recv *tensor.Tensor) error {
	f.calls.Add(1)
	r := make([]float64, recv.Len())
	if err := f.AllGather(send.Float64s(), r); err != nil {
		return err
	}
	copy(recv.F64(), r)
	return nil
}

func (f fakeDeviceSync) AllReduceSumTensor(t *tensor.Tensor) error {
	f.calls.Add(1)
	v := t.Float64s()
	if err := f.AllReduceSum(v); err != nil {
		return err
	}
	copy(t.F64(), v)
	return nil
}

// TestSyncBatchNormDevice: the device path (statistics as tensors,
// collectives on tensors) with two ranks holding unequal parts of a batch
// (2 and 4 samples) gives the one-process batch norm of the whole batch:
// outputs, dx, the summed dgamma/dbeta and the running statistics after two
// steps (float64, 1e-12); the host path is not taken.
func TestSyncBatchNormDevice(t *testing.T) {
	ref := runSyncBN(nil, 0, syncBNSamples)
	g := newGroup(2)
	var parts [2]syncBNOut
	var wg sync.WaitGroup
	cut := []int{0, 2, syncBNSamples}
	var calls atomic.Int32
	for r := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			parts[r] = runSyncBN(fakeDeviceSync{fakeSync{r, g}, &calls}, cut[r], cut[r+1])
		}()
	}
	wg.Wait()
	checkSyncBN(t, parts, ref)
	if calls.Load() != 2*2*2 { // 2 ranks × 2 steps × (forward all-gather, backward all-reduce)
		t.Fatalf("%d tensor collectives, want 8", calls.Load())
	}
	if deviceSync(fakeSync{0, g}, nil) != nil {
		t.Fatal("a host-only StatSync took the device path")
	}
}
