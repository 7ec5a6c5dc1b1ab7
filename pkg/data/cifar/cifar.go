// Package cifar reads the CIFAR-10 binary distribution
// (cifar-10-binary.tar.gz, https://www.cs.toronto.edu/~kriz/cifar.html):
// files of 3073-byte records, one label byte followed by a 32x32 image
// stored as three 1024-byte planes (red, green, blue), rows top to bottom.
package cifar

import (
	"fmt"
	"os"
	"path/filepath"
)

// Image geometry of CIFAR-10.
const (
	H, W, C    = 32, 32, 3
	ImageBytes = H * W * C
	RecordSize = 1 + ImageBytes
)

// Dir is the folder the binary tarball unpacks to.
const Dir = "cifar-10-batches-bin"

// TrainFiles and TestFiles name the batch files of each split, in order.
var (
	TrainFiles = []string{"data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin", "data_batch_5.bin"}
	TestFiles  = []string{"test_batch.bin"}
)

// Set holds images as CHW planes (index i at Images[i*ImageBytes:]) and labels.
type Set struct {
	Images []byte
	Labels []byte
}

// Len returns the number of images.
func (s *Set) Len() int { return len(s.Labels) }

// Parse splits the records of one batch file held in b.
func Parse(b []byte) (*Set, error) {
	if len(b)%RecordSize != 0 {
		return nil, fmt.Errorf("size %d is not a multiple of the %d-byte record (record %d truncated)", len(b), RecordSize, len(b)/RecordSize)
	}
	n := len(b) / RecordSize
	s := &Set{Images: make([]byte, n*ImageBytes), Labels: make([]byte, n)}
	for i := range n {
		r := b[i*RecordSize:]
		if r[0] > 9 {
			return nil, fmt.Errorf("record %d: label %d out of range 0..9", i, r[0])
		}
		s.Labels[i] = r[0]
		copy(s.Images[i*ImageBytes:], r[1:RecordSize])
	}
	return s, nil
}

// Load reads the train (train=true) or test split from root, which is
// either the cifar-10-batches-bin folder itself or a folder containing it.
func Load(root string, train bool) (*Set, error) {
	dir := root
	if _, err := os.Stat(filepath.Join(root, Dir)); err == nil {
		dir = filepath.Join(root, Dir)
	}
	files := TestFiles
	if train {
		files = TrainFiles
	}
	all := &Set{}
	for _, f := range files {
		p := filepath.Join(dir, f)
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("cifar10: %w", err)
		}
		s, err := Parse(b)
		if err != nil {
			return nil, fmt.Errorf("cifar10: %s: %w", p, err)
		}
		all.Images = append(all.Images, s.Images...)
		all.Labels = append(all.Labels, s.Labels...)
	}
	return all, nil
}
