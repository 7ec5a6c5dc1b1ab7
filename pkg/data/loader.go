package data

import (
	"errors"
	"fmt"
	"io"
	"runtime"
	"sync"
)

// Batch is one mini-batch of images as float32 NCHW in [0, 1],
// independent of any tensor package.
type Batch struct {
	X          []float32
	N, C, H, W int
	// Indices are the dataset indices of the N samples, in order.
	Indices []int
	// Epoch and Step (batch number within the epoch for this rank) say
	// where the batch came from.
	Epoch, Step int
}

// Options configures a Loader.
type Options struct {
	BatchSize int
	Shuffle   bool // seeded permutation per epoch
	DropLast  bool // drop the last incomplete batch (training)
	Seed      uint64
	// Rank and World shard every epoch's order for data-parallel
	// training: rank r takes positions r, r+World, r+2*World, ...
	Rank, World int
	// Workers is the number of decode goroutines (default GOMAXPROCS).
	Workers int
	// Prefetch is the number of batches decoded ahead (default 2*Workers).
	Prefetch int
}

// Loader produces batches from a Dataset. Given (Seed, epoch, step) its
// output is fully determined, whatever the number of workers.
type Loader struct {
	ds  Dataset
	opt Options
}

// NewLoader validates opt and returns a Loader over ds.
func NewLoader(ds Dataset, opt Options) (*Loader, error) {
	if opt.BatchSize <= 0 {
		return nil, fmt.Errorf("data: batch size %d must be positive", opt.BatchSize)
	}
	if opt.World == 0 {
		opt.World = 1
	}
	if opt.World < 0 || opt.Rank < 0 || opt.Rank >= opt.World {
		return nil, fmt.Errorf("data: rank %d out of range for world size %d", opt.Rank, opt.World)
	}
	if opt.Workers <= 0 {
		opt.Workers = runtime.GOMAXPROCS(0)
	}
	if opt.Prefetch <= 0 {
		opt.Prefetch = 2 * opt.Workers
	}
	if ds.Len() == 0 {
		return nil, errors.New("data: empty dataset")
	}
	return &Loader{ds: ds, opt: opt}, nil
}

// Dataset returns the loader's dataset.
func (l *Loader) Dataset() Dataset { return l.ds }

// Options returns the effective options.
func (l *Loader) Options() Options { return l.opt }

// Indices returns this rank's sample order for the epoch. Across ranks
// the shards are disjoint and together cover every index exactly once.
func (l *Loader) Indices(epoch int) []int {
	n := l.ds.Len()
	var order []int
	if l.opt.Shuffle {
		order = Permutation(l.opt.Seed, epoch, n)
	} else {
		order = make([]int, n)
		for i := range order {
			order[i] = i
		}
	}
	shard := make([]int, 0, n/l.opt.World+1)
	for i := l.opt.Rank; i < n; i += l.opt.World {
		shard = append(shard, order[i])
	}
	return shard
}

// NumBatches returns the number of batches per epoch on this rank. With
// DropLast every rank gets the same count, floor(floor(n/World)/BatchSize),
// so collective operations stay in step.
func (l *Loader) NumBatches() int {
	n, b, w := l.ds.Len(), l.opt.BatchSize, l.opt.World
	if l.opt.DropLast {
		return (n / w) / b
	}
	mine := (n - l.opt.Rank + w - 1) / w
	return (mine + b - 1) / b
}

// Iter yields the batches of one epoch in order.
type Iter struct {
	order  chan chan result
	done   chan struct{}
	once   sync.Once
	wg     sync.WaitGroup
	pool   sync.Pool
	closed bool
}

type result struct {
	b   *Batch
	err error
}

type job struct {
	step int
	idx  []int
	out  chan result
}

// Epoch starts decoding the epoch's batches from batch startBatch on
// (startBatch > 0 resumes mid-epoch). Call Close when done.
func (l *Loader) Epoch(epoch, startBatch int) *Iter {
	idx := l.Indices(epoch)
	nb := l.NumBatches()
	c, h, w := l.ds.Shape()
	it := &Iter{order: make(chan chan result, l.opt.Prefetch), done: make(chan struct{})}
	jobs := make(chan job, l.opt.Prefetch)
	// Producer: hands out jobs in order and records their result slots.
	it.wg.Add(1)
	go func() {
		defer it.wg.Done()
		defer close(jobs)
		defer close(it.order)
		for s := max(startBatch, 0); s < nb; s++ {
			lo, hi := s*l.opt.BatchSize, min((s+1)*l.opt.BatchSize, len(idx))
			j := job{step: s, idx: idx[lo:hi], out: make(chan result, 1)}
			select {
			case it.order <- j.out:
			case <-it.done:
				return
			}
			select {
			case jobs <- j:
			case <-it.done:
				return
			}
		}
	}()
	per := c * h * w
	for range l.opt.Workers {
		it.wg.Add(1)
		go func() {
			defer it.wg.Done()
			var r Rand
			for j := range jobs {
				select {
				case <-it.done:
					return
				default:
				}
				n := len(j.idx)
				var b *Batch
				if v, ok := it.pool.Get().(*Batch); ok && cap(v.X) >= n*per {
					b = v
				} else {
					b = &Batch{X: make([]float32, l.opt.BatchSize*per)}
				}
				b.X = b.X[:n*per]
				b.N, b.C, b.H, b.W = n, c, h, w
				b.Indices = append(b.Indices[:0], j.idx...)
				b.Epoch, b.Step = epoch, j.step
				var err error
				for k, i := range j.idx {
					r.Reset(l.opt.Seed, epoch, i)
					if err = l.ds.Load(i, &r, b.X[k*per:(k+1)*per]); err != nil {
						break
					}
				}
				if err != nil {
					j.out <- result{err: err}
				} else {
					j.out <- result{b: b}
				}
			}
		}()
	}
	return it
}

// Next returns the next batch, or io.EOF after the last one. The first
// load error ends the iteration and is returned.
func (it *Iter) Next() (*Batch, error) {
	if it.closed {
		return nil, io.EOF
	}
	slot, ok := <-it.order
	if !ok {
		return nil, io.EOF
	}
	res := <-slot
	if res.err != nil {
		it.Close()
		return nil, res.err
	}
	return res.b, nil
}

// Recycle hands a batch's memory back for reuse by later batches; the
// caller must not touch b afterwards.
func (it *Iter) Recycle(b *Batch) {
	if b != nil {
		it.pool.Put(b)
	}
}

// Close stops the workers; it is safe to call more than once.
func (it *Iter) Close() {
	it.once.Do(func() {
		it.closed = true
		close(it.done)
		// Result slots are buffered, so no worker blocks on a send.
		it.wg.Wait()
	})
}
