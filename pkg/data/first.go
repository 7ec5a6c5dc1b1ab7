package data

import "fmt"

// FirstBatch opens a dataset split and returns its first batch of up to n
// images in the loader's order (not shuffled; seed seeds any random
// transform).
func FirstBatch(name, dir string, split Split, n int, seed uint64) (*Batch, error) {
	ds, err := Open(name, dir, split)
	if err != nil {
		return nil, err
	}
	l, err := NewLoader(ds, Options{BatchSize: n, Seed: seed})
	if err != nil {
		return nil, err
	}
	it := l.Epoch(0, 0)
	defer it.Close()
	b, err := it.Next()
	if err != nil {
		return nil, fmt.Errorf("reading %s: %v", dir, err)
	}
	return b, nil
}
