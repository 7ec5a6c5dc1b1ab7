// Package convert turns the datasets of the NVAE paper into the files the
// training and evaluation tools read (the work of nvae-prep): downloads of
// MNIST and CIFAR-10 with verified checksums, and CelebA, FFHQ, GLOW
// tfrecords and image folders into LMDB environments keyed "0", "1", ...
// like the official scripts, each split with a manifest.json; LSUN checks
// and a dataset inspector. nvae-prep (prep/) parses the flags and calls
// these.
package convert

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"sync"
	"time"

	"github.com/nvaego/nvae/pkg/data/lmdbio"
	"github.com/nvaego/nvae/pkg/fsutil"
)

// Version is the tool version recorded in manifests.
const Version = "0.1.0"

// Env carries the streams of one invocation and what the manifests record
// of it: the subcommand and its arguments.
type Env struct {
	Stdout, Stderr io.Writer
	Cmd            string
	Args           []string
}

// OptionError is an option value a converter does not accept (nvae-prep
// reports it as a usage error).
type OptionError struct{ error }

func optionf(format string, a ...any) error { return OptionError{fmt.Errorf(format, a...)} }

// Source is one input file recorded in a manifest.
type Source struct {
	Path   string `json:"path"`
	SHA256 string `json:"sha256"`
	Bytes  int64  `json:"bytes"`
}

// Manifest describes one output (an LMDB split or a download folder).
type Manifest struct {
	Tool      string         `json:"tool"`
	Version   string         `json:"version"`
	Command   string         `json:"command"`
	Args      []string       `json:"args"`
	Dataset   string         `json:"dataset"`
	Split     string         `json:"split,omitempty"`
	Count     int            `json:"count"`
	Counts    map[string]int `json:"counts,omitempty"`
	Format    string         `json:"format"`
	ImageSize []int          `json:"image_size,omitempty"` // H, W, C
	Sources   []Source       `json:"sources"`
	Created   string         `json:"created"`
	Seconds   float64        `json:"seconds"`
}

func newManifest(e *Env, dataset string) *Manifest {
	return &Manifest{Tool: "nvae-prep", Version: Version, Command: e.Cmd, Args: e.Args, Dataset: dataset,
		Created: time.Now().UTC().Format(time.RFC3339)}
}

func (m *Manifest) sortSources() {
	sort.Slice(m.Sources, func(i, j int) bool { return m.Sources[i].Path < m.Sources[j].Path })
}

// writeJSON writes v as indented JSON atomically.
func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return fsutil.WriteFileAtomic(path, append(b, '\n'), 0o644)
}

// mergeTopManifest records a split's manifest in dir/manifest.json, a map
// from split name to manifest shared by all splits of a dataset folder.
func mergeTopManifest(dir, split string, m *Manifest) error {
	p := filepath.Join(dir, "manifest.json")
	top := map[string]json.RawMessage{}
	if b, err := os.ReadFile(p); err == nil {
		var old struct {
			Splits map[string]json.RawMessage `json:"splits"`
		}
		if json.Unmarshal(b, &old) == nil && old.Splits != nil {
			top = old.Splits
		}
	}
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	top[split] = b
	return writeJSON(p, map[string]any{"tool": "nvae-prep", "version": Version, "splits": top})
}

// hashFile returns the SHA-256 and size of a file.
func hashFile(path string) (Source, error) {
	sum, n, err := fsutil.SHA256File(path)
	if err != nil {
		return Source{}, err
	}
	return Source{Path: path, SHA256: sum, Bytes: n}, nil
}

func hashBytes(path string, b []byte) Source {
	s := sha256.Sum256(b)
	return Source{Path: path, SHA256: hex.EncodeToString(s[:]), Bytes: int64(len(b))}
}

// outDir creates dir (and parents) if needed and returns a cleanup that,
// on failure, removes it again when this run created it, so a failed
// conversion leaves no output directory behind.
func outDir(dir string) (cleanup func(failed bool), err error) {
	if dir == "" {
		return nil, optionf("output path is empty")
	}
	// Find the topmost missing ancestor: that is what we create.
	top := ""
	for d := filepath.Clean(dir); ; d = filepath.Dir(d) {
		if _, err := os.Stat(d); err == nil {
			break
		} else if !errors.Is(err, os.ErrNotExist) {
			return nil, err
		}
		top = d
		if filepath.Dir(d) == d {
			break
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	return func(failed bool) {
		if failed && top != "" {
			os.RemoveAll(top)
		}
	}, nil
}

// Workers is the number of parallel decode goroutines.
var Workers = runtime.GOMAXPROCS(0)

// ordered runs work(i) for i in [0, n) on all workers and calls sink in
// index order with the results; at most a bounded number of results are
// held in memory. The first error stops everything and is returned.
func ordered[T any](n int, work func(i int) (T, error), sink func(i int, v T) error) error {
	type res struct {
		v   T
		err error
	}
	type job struct {
		i   int
		out chan res
	}
	window := 4 * Workers
	slots := make(chan chan res, window)
	jobs := make(chan job, window)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	defer wg.Wait()
	defer close(stop)
	go func() {
		defer close(slots)
		defer close(jobs)
		for i := range n {
			j := job{i, make(chan res, 1)}
			select {
			case slots <- j.out:
			case <-stop:
				return
			}
			select {
			case jobs <- j:
			case <-stop:
				return
			}
		}
	}()
	for range Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				select {
				case <-stop:
					return
				default:
				}
				v, err := work(j.i)
				j.out <- res{v, err}
			}
		}()
	}
	i := 0
	for c := range slots {
		r := <-c
		if r.err != nil {
			return r.err
		}
		if err := sink(i, r.v); err != nil {
			return err
		}
		i++
	}
	return nil
}

// writeSplit writes dir/<split>.lmdb through fill: the environment is
// built under a temporary name, gets its manifest.json, and is renamed
// into place only when complete; the manifest is also merged into
// dir/manifest.json. On failure nothing is left behind (dir itself is
// removed if this run created it).
func writeSplit(e *Env, dir, split, dataset string, fill func(w *lmdbio.Writer, m *Manifest) error) (err error) {
	cleanup, err := outDir(dir)
	if err != nil {
		return err
	}
	w, err := lmdbio.Create(filepath.Join(dir, split+".lmdb"))
	if err != nil {
		cleanup(true)
		return err
	}
	defer func() {
		if err != nil {
			w.Abort()
			cleanup(true)
		}
	}()
	m := newManifest(e, dataset)
	if m.Split == "" {
		m.Split = split
	}
	if err = fill(w, m); err != nil {
		return err
	}
	m.Count = w.Count()
	if m.Count == 0 {
		return fmt.Errorf("no images for split %s", split)
	}
	m.sortSources()
	if err = writeJSON(filepath.Join(w.TempDir(), "manifest.json"), m); err != nil {
		return err
	}
	if err = w.Commit(); err != nil {
		return err
	}
	if err = mergeTopManifest(dir, split, m); err != nil {
		return err
	}
	fmt.Fprintf(e.Stdout, "%s: added %d items to %s\n", dataset, m.Count, filepath.Join(dir, split+".lmdb"))
	return nil
}
