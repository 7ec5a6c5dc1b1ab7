package convert

import (
	"archive/tar"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"github.com/nvaego/nvae/pkg/data"
	"github.com/nvaego/nvae/pkg/data/cifar"
	"github.com/nvaego/nvae/pkg/data/idx"
	"github.com/nvaego/nvae/pkg/fetch"
	"github.com/nvaego/nvae/pkg/fsutil"
)

// httpClient performs all downloads; tests replace it or point --url at
// an httptest server.
var httpClient = http.DefaultClient

var (
	mnistMirrors = []string{"https://ossci-datasets.s3.amazonaws.com/mnist/", "http://yann.lecun.com/exdb/mnist/"}
	mnistFiles   = []fetch.File{
		{Name: "train-images-idx3-ubyte.gz", MD5: "f68b3c2dcbeaaa9fbdd348bbdeb94873"},
		{Name: "train-labels-idx1-ubyte.gz", MD5: "d53e105ee54ea40749a09fcbcd1e9432"},
		{Name: "t10k-images-idx3-ubyte.gz", MD5: "9fb629c4189551a2d022fa330f9573f3"},
		{Name: "t10k-labels-idx1-ubyte.gz", MD5: "ec29112dd5afa0611ce80d1b7f02629c"},
	}
	cifarMirrors = []string{"https://www.cs.toronto.edu/~kriz/"}
	// CIFARFile is the CIFAR-10 binary tarball (tests replace its MD5).
	CIFARFile = fetch.File{Name: "cifar-10-binary.tar.gz", MD5: "c32a1d4ab5d03f1284b67883e8d87530"}
)

// fetchFile places a verified copy of f at dst (see fetch.Fetcher.Get),
// from srcDirs or else from the first mirror that answers, and returns the
// manifest entry of dst.
func fetchFile(e *Env, f fetch.File, dst string, srcDirs, mirrors []string) (Source, error) {
	fsutil.RemoveStaleTemps(filepath.Dir(dst), []string{"*.gz"}, fsutil.StaleAge) // left by killed downloads
	urls := make([]string, len(mirrors))
	for i, m := range mirrors {
		urls[i] = strings.TrimSuffix(m, "/") + "/" + f.Name
	}
	r, err := fetch.Fetcher{Client: httpClient, Log: e.Stderr}.Get(f, dst, srcDirs, urls)
	return Source{Path: r.Path, SHA256: r.SHA256, Bytes: r.Bytes}, err
}

// DownloadOptions are the settings of MNIST: the target data directory, an
// offline source folder, a base URL replacing the mirrors (the tags name
// nvae-prep's flags).
type DownloadOptions struct {
	Data   string `flag:"data" help:"target data directory (required)"`
	Source string `flag:"source" help:"offline source folder holding the .gz files (searched also in its MNIST/raw/)"`
	URL    string `flag:"url" help:"download base URL overriding the default mirrors"`
}

// CIFAR10Options are DownloadOptions with the help texts of CIFAR10.
type CIFAR10Options struct {
	Data   string `flag:"data" help:"target data directory (required)"`
	Source string `flag:"source" help:"offline source folder holding cifar-10-binary.tar.gz"`
	URL    string `flag:"url" help:"download base URL overriding the default mirror"`
}

// MNIST places the four MNIST idx gz files in Data/MNIST/raw/, verifying
// the published MD5 checksums.
func MNIST(e *Env, o DownloadOptions) error {
	if o.Data == "" {
		return optionf("--data is required")
	}
	raw := filepath.Join(o.Data, data.MNISTRawDir)
	cleanup, err := outDir(raw)
	if err != nil {
		return err
	}
	err = func() error {
		m := newManifest(e, "mnist")
		m.Format = "idx-gz"
		var srcDirs []string
		if o.Source != "" {
			srcDirs = []string{o.Source, filepath.Join(o.Source, data.MNISTRawDir), filepath.Join(o.Source, "raw")}
		}
		mirrors := mnistMirrors
		if o.URL != "" {
			mirrors = []string{o.URL}
		}
		m.Counts = map[string]int{}
		for _, f := range mnistFiles {
			dst := filepath.Join(raw, f.Name)
			s, err := fetchFile(e, f, dst, srcDirs, mirrors)
			if err != nil {
				return err
			}
			m.Sources = append(m.Sources, s)
			file, err := idx.ReadFile(dst)
			if err != nil {
				return err
			}
			if strings.Contains(f.Name, "images") {
				split := map[bool]string{true: "train", false: "test"}[strings.HasPrefix(f.Name, "train")]
				m.Counts[split] = file.Dims[0]
				m.Count += file.Dims[0]
			}
		}
		if err := writeJSON(filepath.Join(o.Data, "MNIST", "manifest.json"), m); err != nil {
			return err
		}
		fmt.Fprintf(e.Stdout, "mnist: %d train and %d test images in %s\n", m.Counts["train"], m.Counts["test"], raw)
		return nil
	}()
	cleanup(err != nil)
	return err
}

// CIFAR10 places cifar-10-binary.tar.gz in Data, verifies its published
// MD5 and unpacks Data/cifar-10-batches-bin/.
func CIFAR10(e *Env, o CIFAR10Options) error {
	if o.Data == "" {
		return optionf("--data is required")
	}
	cleanup, err := outDir(o.Data)
	if err != nil {
		return err
	}
	err = func() error {
		var srcDirs []string
		if o.Source != "" {
			srcDirs = []string{o.Source}
			if _, err := os.Stat(filepath.Join(o.Source, CIFARFile.Name)); err != nil {
				if _, err := os.Stat(filepath.Join(o.Source, "cifar-10-python.tar.gz")); err == nil {
					return fmt.Errorf("%s: only the binary version (cifar-10-binary.tar.gz) is supported", filepath.Join(o.Source, "cifar-10-python.tar.gz"))
				}
			}
		}
		mirrors := cifarMirrors
		if o.URL != "" {
			mirrors = []string{o.URL}
		}
		tgz := filepath.Join(o.Data, CIFARFile.Name)
		s, err := fetchFile(e, CIFARFile, tgz, srcDirs, mirrors)
		if err != nil {
			return err
		}
		m := newManifest(e, "cifar10")
		m.Format = "cifar10-binary"
		m.Sources = []Source{s}
		m.ImageSize = []int{32, 32, 3}
		counts, err := untarCIFAR(tgz, o.Data, m)
		if err != nil {
			return err
		}
		m.Counts = counts
		m.Count = counts["train"] + counts["test"]
		fmt.Fprintf(e.Stdout, "cifar10: %d train and %d test images in %s\n", counts["train"], counts["test"], filepath.Join(o.Data, cifar.Dir))
		return nil
	}()
	cleanup(err != nil)
	return err
}

// untarCIFAR unpacks the batch files into a temporary folder, checks
// them, writes the manifest and renames the folder to DIR/cifar-10-batches-bin.
func untarCIFAR(tgz, dir string, m *Manifest) (map[string]int, error) {
	f, err := os.Open(tgz)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", tgz, err)
	}
	fsutil.RemoveStaleTemps(dir, []string{cifar.Dir}, fsutil.StaleAge) // left by a killed unpack
	tmp, err := os.MkdirTemp(dir, "."+cifar.Dir+".tmp-")
	if err != nil {
		return nil, err
	}
	ok := false
	defer func() {
		if !ok {
			os.RemoveAll(tmp)
		}
	}()
	tr := tar.NewReader(zr)
	want := map[string]bool{}
	for _, n := range append(append([]string{}, cifar.TrainFiles...), cifar.TestFiles...) {
		want[n] = true
	}
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", tgz, err)
		}
		base := filepath.Base(h.Name)
		if h.Typeflag != tar.TypeReg || filepath.Base(filepath.Dir(h.Name)) != cifar.Dir {
			continue
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			return nil, fmt.Errorf("%s: %s: %w", tgz, h.Name, err)
		}
		if want[base] {
			if _, err := cifar.Parse(b); err != nil {
				return nil, fmt.Errorf("%s: %s: %w", tgz, h.Name, err)
			}
		}
		if err := os.WriteFile(filepath.Join(tmp, base), b, 0o644); err != nil {
			return nil, err
		}
	}
	counts := map[string]int{}
	for n := range want {
		st, err := os.Stat(filepath.Join(tmp, n))
		if err != nil {
			return nil, fmt.Errorf("%s: %s missing from the archive", tgz, n)
		}
		split := "train"
		if strings.HasPrefix(n, "test") {
			split = "test"
		}
		counts[split] += int(st.Size()) / cifar.RecordSize
	}
	m.Counts = counts
	m.Count = counts["train"] + counts["test"]
	if err := writeJSON(filepath.Join(tmp, "manifest.json"), m); err != nil {
		return nil, err
	}
	if err := fsutil.SyncTree(tmp); err != nil {
		return nil, err
	}
	if err := fsutil.ReplaceDir(tmp, filepath.Join(dir, cifar.Dir)); err != nil {
		return nil, err
	}
	ok = true
	return counts, nil
}
