package main

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nvaego/nvae/internal/testenv"

	"github.com/nvaego/nvae/pkg/data"
	"github.com/nvaego/nvae/pkg/data/cifar"
	"github.com/nvaego/nvae/pkg/data/convert"
	"github.com/nvaego/nvae/pkg/data/imgproc"
	"github.com/nvaego/nvae/pkg/data/lmdbio"
	"github.com/nvaego/nvae/pkg/data/tfrecord"
)

// runCmd runs nvae-prep in-process.
func runCmd(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(args, &out, &errb)
	return code, out.String(), errb.String()
}

func mustRun(t *testing.T, args ...string) string {
	t.Helper()
	code, out, errs := runCmd(t, args...)
	if code != 0 {
		t.Fatalf("nvae-prep %v: exit %d: %s", args, code, errs)
	}
	return out
}

// mustFail checks exit status 1, a one-line error containing all of
// want, and that none of the paths exist afterwards.
func mustFail(t *testing.T, args []string, want []string, gone ...string) {
	t.Helper()
	code, _, errs := runCmd(t, args...)
	if code != 1 {
		t.Fatalf("nvae-prep %v: exit %d, want 1; stderr %s", args, code, errs)
	}
	lines := strings.Split(strings.TrimSpace(errs), "\n")
	last := lines[len(lines)-1]
	if !strings.HasPrefix(last, "nvae-prep ") {
		t.Fatalf("last stderr line %q is not the error line", last)
	}
	for _, l := range lines[:len(lines)-1] {
		if strings.HasPrefix(l, "nvae-prep ") {
			t.Fatalf("more than one error line: %q", errs)
		}
	}
	for _, w := range want {
		if !strings.Contains(last, w) {
			t.Fatalf("error %q does not mention %q", last, w)
		}
	}
	for _, g := range gone {
		if _, err := os.Stat(g); !os.IsNotExist(err) {
			t.Fatalf("%s left behind after failure", g)
		}
	}
}

// readAll returns every value of an LMDB environment by decimal key.
func readAll(t *testing.T, dir string) [][]byte {
	t.Helper()
	r, err := lmdbio.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	out := make([][]byte, r.Len())
	for i := range out {
		v, err := r.GetIndex(i, nil)
		if err != nil {
			t.Fatal(err)
		}
		out[i] = v
	}
	return out
}

func gomnist(t *testing.T) string {
	return testenv.MNISTSource(t)
}

func TestUsage(t *testing.T) {
	if code, _, _ := runCmd(t); code != 2 {
		t.Fatal("no args should be a usage error")
	}
	if code, out, _ := runCmd(t, "help"); code != 0 || !strings.Contains(out, "celeba64") {
		t.Fatal("help")
	}
	if code, _, errs := runCmd(t, "nope"); code != 2 || !strings.Contains(errs, "unknown subcommand") {
		t.Fatal("unknown subcommand")
	}
	for name := range commands {
		code, out, _ := runCmd(t, name, "--help")
		if code != 0 || !strings.Contains(out, "Usage: nvae-prep "+name) {
			t.Fatalf("%s --help: %d %q", name, code, out)
		}
	}
	if code, _, errs := runCmd(t, "celeba64", "--split", "bogus", "--img_path", "x", "--lmdb_path", "y"); code != 2 || strings.Count(errs, "\n") != 1 {
		t.Fatalf("bad split: %d %q", code, errs)
	}
}

func TestMNISTSourceAndHTTP(t *testing.T) {
	src := gomnist(t)
	dir := filepath.Join(t.TempDir(), "mnist")
	mustRun(t, "mnist", "--data", dir, "--source", src)
	ds, err := data.Open("mnist", dir, data.Validation)
	if err != nil || ds.Len() != 10000 {
		t.Fatalf("loader on prepared mnist: %v", err)
	}
	// A download temporary left by a killed run (older than a minute) is
	// removed by the next run; a fresh one may be a live download's
	// (issue 14.10).
	raw := filepath.Join(dir, "MNIST", "raw")
	stale, fresh := filepath.Join(raw, ".train-images-idx3-ubyte.gz.tmp-4242"), filepath.Join(raw, ".t10k-images-idx3-ubyte.gz.tmp-7")
	os.WriteFile(stale, make([]byte, 1000), 0o644)
	os.WriteFile(fresh, nil, 0o644)
	old := time.Now().Add(-time.Hour)
	os.Chtimes(stale, old, old)
	mustRun(t, "mnist", "--data", dir, "--source", src)
	if _, err := os.Stat(stale); err == nil {
		t.Error("stale download temporary left in place")
	}
	if _, err := os.Stat(fresh); err != nil {
		t.Error("fresh download temporary removed")
	}
	var m convert.Manifest
	b, _ := os.ReadFile(filepath.Join(dir, "MNIST", "manifest.json"))
	if err := json.Unmarshal(b, &m); err != nil || m.Counts["train"] != 60000 || len(m.Sources) != 4 || len(m.Sources[0].SHA256) != 64 {
		t.Fatalf("manifest %+v %v", m, err)
	}
	// Download through a local server; then a server with a corrupt file.
	srv := httptest.NewServer(http.FileServer(http.Dir(src)))
	defer srv.Close()
	dir2 := filepath.Join(t.TempDir(), "m2")
	out := mustRun(t, "mnist", "--data", dir2, "--url", srv.URL)
	if !strings.Contains(out, "60000 train") {
		t.Fatal(out)
	}
	bad := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("corrupt"))
	}))
	defer bad.Close()
	dir3 := filepath.Join(t.TempDir(), "m3")
	mustFail(t, []string{"mnist", "--data", dir3, "--url", bad.URL}, []string{"train-images-idx3-ubyte.gz", "MD5"}, dir3)
	// Missing offline file.
	mustFail(t, []string{"mnist", "--data", dir3, "--source", t.TempDir()}, []string{"not found"}, dir3)
}

func TestCIFAR10(t *testing.T) {
	// A small fake binary tarball; its MD5 replaces the published one.
	var tgz bytes.Buffer
	gz := gzip.NewWriter(&tgz)
	tw := tar.NewWriter(gz)
	rec := func(n int, seed byte) []byte {
		b := make([]byte, n*cifar.RecordSize)
		for i := range b {
			b[i] = seed + byte(i%7)
		}
		for i := range n {
			b[i*cifar.RecordSize] = byte(i % 10)
		}
		return b
	}
	for k, name := range append(append([]string{}, cifar.TrainFiles...), cifar.TestFiles...) {
		b := rec(3, byte(k))
		tw.WriteHeader(&tar.Header{Name: cifar.Dir + "/" + name, Mode: 0o644, Size: int64(len(b)), Typeflag: tar.TypeReg})
		tw.Write(b)
	}
	tw.Close()
	gz.Close()
	sum := md5.Sum(tgz.Bytes())
	old := convert.CIFARFile
	convert.CIFARFile.MD5 = hex.EncodeToString(sum[:])
	defer func() { convert.CIFARFile = old }()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, convert.CIFARFile.Name) {
			w.Write(tgz.Bytes())
			return
		}
		http.NotFound(w, r)
	}))
	defer srv.Close()
	dir := filepath.Join(t.TempDir(), "cifar")
	mustRun(t, "cifar10", "--data", dir, "--url", srv.URL)
	ds, err := data.Open("cifar10", dir, data.Train)
	if err != nil || ds.Len() != 15 {
		t.Fatalf("loader: %v", err)
	}
	// Offline from --source holding the tarball.
	src := t.TempDir()
	os.WriteFile(filepath.Join(src, convert.CIFARFile.Name), tgz.Bytes(), 0o644)
	dir2 := filepath.Join(t.TempDir(), "c2")
	mustRun(t, "cifar10", "--data", dir2, "--source", src)
	// Wrong checksum.
	convert.CIFARFile.MD5 = strings.Repeat("0", 32)
	dir3 := filepath.Join(t.TempDir(), "c3")
	mustFail(t, []string{"cifar10", "--data", dir3, "--source", src}, []string{"MD5"}, dir3)
}

// celebaFixture writes n aligned-CelebA-like JPEGs (178x218) and a
// partition file; layout "zip", "dir" or "torchvision".
func celebaFixture(t *testing.T, n int, layout string) (root string, jpegs map[string][]byte, codes []int) {
	root = t.TempDir()
	base := root
	if layout == "torchvision" {
		base = filepath.Join(root, "celeba")
	}
	os.MkdirAll(filepath.Join(base, "img_align_celeba"), 0o755)
	jpegs = map[string][]byte{}
	var part strings.Builder
	var zbuf bytes.Buffer
	zw := zip.NewWriter(&zbuf)
	for i := 1; i <= n; i++ {
		m := imgproc.NewRGB(178, 218)
		for k := range m.Pix {
			m.Pix[k] = byte(k*i + i)
		}
		var b bytes.Buffer
		m.EncodeJPEG(&b, 85)
		name := fmt.Sprintf("%06d.jpg", i)
		jpegs[name] = b.Bytes()
		code := []int{0, 0, 1, 2, 0, 1}[i%6]
		codes = append(codes, code)
		fmt.Fprintf(&part, "%s %d\n", name, code)
		if layout == "zip" {
			w, _ := zw.Create("img_align_celeba/" + name)
			w.Write(b.Bytes())
		} else {
			os.WriteFile(filepath.Join(base, "img_align_celeba", name), b.Bytes(), 0o644)
		}
	}
	zw.Close()
	if layout == "zip" {
		os.Remove(filepath.Join(base, "img_align_celeba"))
		os.WriteFile(filepath.Join(base, "img_align_celeba.zip"), zbuf.Bytes(), 0o644)
	}
	os.WriteFile(filepath.Join(base, "list_eval_partition.txt"), []byte(part.String()), 0o644)
	return root, jpegs, codes
}

func TestCelebA64(t *testing.T) {
	for _, layout := range []string{"zip", "dir", "torchvision"} {
		root, jpegs, codes := celebaFixture(t, 14, layout)
		out := filepath.Join(t.TempDir(), "celeba64_lmdb")
		for _, sp := range []struct {
			flag, lmdb string
			code       int
		}{{"train", "train", 0}, {"valid", "validation", 1}, {"test", "test", 2}} {
			mustRun(t, "celeba64", "--split", sp.flag, "--img-path", root, "--lmdb-path", out)
			var want [][]byte
			for i, c := range codes {
				if c == sp.code {
					want = append(want, jpegs[fmt.Sprintf("%06d.jpg", i+1)])
				}
			}
			got := readAll(t, filepath.Join(out, sp.lmdb+".lmdb"))
			if len(got) != len(want) {
				t.Fatalf("%s %s: %d entries, want %d", layout, sp.flag, len(got), len(want))
			}
			for k := range got {
				if !bytes.Equal(got[k], want[k]) {
					t.Fatalf("%s %s: key %d differs from the source JPEG", layout, sp.flag, k)
				}
			}
		}
		var top struct {
			Splits map[string]convert.Manifest `json:"splits"`
		}
		b, _ := os.ReadFile(filepath.Join(out, "manifest.json"))
		if err := json.Unmarshal(b, &top); err != nil || len(top.Splits) != 3 || top.Splits["train"].Count == 0 {
			t.Fatalf("top manifest: %v %s", err, b)
		}
		if _, err := os.Stat(filepath.Join(out, "train.lmdb", "manifest.json")); err != nil {
			t.Fatal(err)
		}
		// The loader reads the result.
		ds, err := data.Open("celeba_64", out, data.Train)
		if err != nil {
			t.Fatal(err)
		}
		dst := make([]float32, 3*64*64)
		if err := ds.Load(0, data.NewRand(0, 0, 0), dst); err != nil {
			t.Fatal(err)
		}
		if layout == "zip" {
			// inspect prints counts and writes the grid.
			o := mustRun(t, "inspect", out)
			if !strings.Contains(o, "jpeg 178x218") || !strings.Contains(o, "train.lmdb: 7 images") {
				t.Fatalf("inspect output %q", o)
			}
			if _, err := os.Stat(filepath.Join(out, "grid.png")); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func TestCelebA64Errors(t *testing.T) {
	root, _, _ := celebaFixture(t, 6, "dir")
	out := filepath.Join(t.TempDir(), "o")
	// Unreadable image.
	bad := filepath.Join(root, "img_align_celeba", "000004.jpg")
	os.WriteFile(bad, []byte("\xff\xd8 not really a jpeg"), 0o644)
	mustFail(t, []string{"celeba64", "--split", "train", "--img_path", root, "--lmdb_path", out}, []string{bad, "unreadable"}, out)
	// Missing partition file.
	os.Remove(filepath.Join(root, "list_eval_partition.txt"))
	mustFail(t, []string{"celeba64", "--split", "train", "--img_path", root, "--lmdb_path", out}, []string{"list_eval_partition.txt"}, out)
	// A failure leaves an existing output folder and other splits alone.
	root2, _, _ := celebaFixture(t, 6, "dir")
	mustRun(t, "celeba64", "--split", "valid", "--img_path", root2, "--lmdb_path", out)
	os.WriteFile(filepath.Join(root2, "img_align_celeba", "000001.jpg"), []byte("junk"), 0o644)
	mustFail(t, []string{"celeba64", "--split", "train", "--img_path", root2, "--lmdb_path", out}, []string{"000001.jpg"}, filepath.Join(out, "train.lmdb"))
	ents, _ := os.ReadDir(out)
	for _, e := range ents {
		if strings.Contains(e.Name(), "tmp") {
			t.Fatalf("temporary %s left behind", e.Name())
		}
	}
	if len(readAll(t, filepath.Join(out, "validation.lmdb"))) != 2 {
		t.Fatal("validation split damaged")
	}
}

// tfrFixture writes imagenet-oord_32 validation shards (80) with a few
// 32x32 images each and returns the images in order.
func tfrFixture(t *testing.T) (string, [][]byte) {
	root := t.TempDir()
	g := convert.GlowSets["imagenet-oord_32"]
	os.MkdirAll(filepath.Join(root, "validation"), 0o755)
	var all [][]byte
	for s := range 80 {
		var buf bytes.Buffer
		w := tfrecord.NewWriter(&buf)
		for r := range s % 3 {
			img := make([]byte, 32*32*3)
			for i := range img {
				img[i] = byte(i + 7*s + r)
			}
			ex := tfrecord.Example{
				"shape": {Kind: tfrecord.KindInt64, Int64: []int64{32, 32, 3}},
				"data":  {Kind: tfrecord.KindBytes, Bytes: [][]byte{img}},
				"label": {Kind: tfrecord.KindInt64, Int64: []int64{int64(s)}},
			}
			w.Write(ex.Marshal())
			all = append(all, img)
		}
		os.WriteFile(g.ShardPath(root, "validation", s), buf.Bytes(), 0o644)
	}
	return root, all
}

func TestTFRecord(t *testing.T) {
	root, want := tfrFixture(t)
	out := filepath.Join(t.TempDir(), "imagenet-oord-lmdb_32")
	mustRun(t, "tfrecord", "--dataset", "imagenet-oord_32", "--tfr_path", root, "--lmdb_path", out, "--split", "validation")
	got := readAll(t, filepath.Join(out, "validation.lmdb"))
	if len(got) != len(want) {
		t.Fatalf("%d entries, want %d", len(got), len(want))
	}
	for i := range got {
		if !bytes.Equal(got[i], want[i]) {
			t.Fatalf("key %d differs", i)
		}
	}
	ds, err := data.Open("imagenet_32", out, data.Validation)
	if err != nil || ds.Len() != len(want) {
		t.Fatal(err)
	}
	g := convert.GlowSets["imagenet-oord_32"]
	shard := g.ShardPath(root, "validation", 5) // holds 2 records
	orig, _ := os.ReadFile(shard)
	args := []string{"tfrecord", "--dataset", "imagenet-oord_32", "--tfr_path", root, "--lmdb_path", filepath.Join(t.TempDir(), "x", "y"), "--split", "validation"}
	outDir := filepath.Dir(args[len(args)-3])
	// Bad data CRC in record 1.
	b := append([]byte(nil), orig...)
	b[len(b)-10] ^= 0xff
	os.WriteFile(shard, b, 0o644)
	mustFail(t, args, []string{shard, "record 1", "data CRC mismatch"}, outDir)
	// Truncated shard.
	os.WriteFile(shard, orig[:len(orig)-100], 0o644)
	mustFail(t, args, []string{shard, "record 1", "truncated"}, outDir)
	// Wrong image size.
	var buf bytes.Buffer
	tfrecord.NewWriter(&buf).Write(tfrecord.Example{
		"shape": {Kind: tfrecord.KindInt64, Int64: []int64{16, 16, 3}},
		"data":  {Kind: tfrecord.KindBytes, Bytes: [][]byte{make([]byte, 768)}},
	}.Marshal())
	os.WriteFile(shard, buf.Bytes(), 0o644)
	mustFail(t, args, []string{shard, "record 0", "shape"}, outDir)
	// Missing shard.
	os.Remove(shard)
	mustFail(t, args, []string{"shard 5 of 80"}, outDir)
}

func writePNG(t *testing.T, path string, w, h, seed int, jpg bool) {
	m := imgproc.NewRGB(w, h)
	for i := range m.Pix {
		m.Pix[i] = byte(i*seed + seed*31)
	}
	var b bytes.Buffer
	if jpg {
		m.EncodeJPEG(&b, 90)
	} else {
		m.EncodePNG(&b)
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestFFHQ(t *testing.T) {
	src := t.TempDir()
	os.MkdirAll(filepath.Join(src, "00000"), 0o755)
	const n = 12
	for i := range n {
		writePNG(t, filepath.Join(src, "00000", fmt.Sprintf("%05d.%s", i, map[bool]string{true: "jpg", false: "png"}[i%3 == 0])), 40, 40, i+1, i%3 == 0)
	}
	out := filepath.Join(t.TempDir(), "ffhq-lmdb")
	mustRun(t, "ffhq", "--ffhq_img_path", src, "--ffhq_lmdb_path", out, "--split", "train")
	mustRun(t, "ffhq", "--ffhq_img_path", src, "--ffhq_lmdb_path", out, "--split", "validation")
	var ind convert.SplitIndex
	b, _ := os.ReadFile(filepath.Join(out, "train_test_ind.json"))
	if err := json.Unmarshal(b, &ind); err != nil || len(ind.Train) != 11 || len(ind.Test) != 1 {
		t.Fatalf("index %+v %v", ind, err)
	}
	for _, sp := range []struct {
		name string
		sel  []int
	}{{"train", ind.Train}, {"validation", ind.Test}} {
		got := readAll(t, filepath.Join(out, sp.name+".lmdb"))
		if len(got) != len(sp.sel) {
			t.Fatalf("%s: %d entries", sp.name, len(got))
		}
		for k, i := range sp.sel {
			ext := map[bool]string{true: "jpg", false: "png"}[i%3 == 0]
			raw, _ := os.ReadFile(filepath.Join(src, "00000", fmt.Sprintf("%05d.%s", i, ext)))
			m, _ := imgproc.Decode(raw)
			want := imgproc.Resize(m, 256, 256).Pix
			if !bytes.Equal(got[k], want) {
				t.Fatalf("%s key %d (image %d) differs", sp.name, k, i)
			}
		}
	}
	ds, err := data.Open("ffhq", out, data.Train)
	if err != nil || ds.Len() != 11 {
		t.Fatal(err)
	}
	// A zip source gives the same bytes.
	var zb bytes.Buffer
	zw := zip.NewWriter(&zb)
	for i := range n {
		ext := map[bool]string{true: "jpg", false: "png"}[i%3 == 0]
		raw, _ := os.ReadFile(filepath.Join(src, "00000", fmt.Sprintf("%05d.%s", i, ext)))
		w, _ := zw.Create(fmt.Sprintf("images1024x1024/%05d.%s", i, ext))
		w.Write(raw)
	}
	zw.Close()
	zp := filepath.Join(t.TempDir(), "ffhq.zip")
	os.WriteFile(zp, zb.Bytes(), 0o644)
	out2 := filepath.Join(t.TempDir(), "o2")
	os.MkdirAll(out2, 0o755)
	os.WriteFile(filepath.Join(out2, "train_test_ind.json"), b, 0o644)
	mustRun(t, "ffhq", "--ffhq-img-path", zp, "--ffhq-lmdb-path", out2, "--split", "validation")
	if !bytes.Equal(readAll(t, filepath.Join(out2, "validation.lmdb"))[0], readAll(t, filepath.Join(out, "validation.lmdb"))[0]) {
		t.Fatal("zip and folder results differ")
	}
	// Unreadable image.
	os.WriteFile(filepath.Join(src, "00000", "00003.png"), []byte("\x89PNG broken"), 0o644)
	out3 := filepath.Join(t.TempDir(), "o3")
	mustFail(t, []string{"ffhq", "--ffhq_img_path", src, "--ffhq_lmdb_path", out3, "--split", "train"}, []string{"00003.png", "unreadable"}, out3)
}

func TestImagesAndInspect(t *testing.T) {
	src := t.TempDir()
	for i := range 8 {
		writePNG(t, filepath.Join(src, fmt.Sprintf("img_%d.png", i)), 30+i, 20+2*i, i+1, false)
	}
	out := filepath.Join(t.TempDir(), "custom")
	mustRun(t, "images", "--src", src, "--lmdb_path", out, "--size", "16", "--valid_fraction", "0.25")
	tr := readAll(t, filepath.Join(out, "train.lmdb"))
	va := readAll(t, filepath.Join(out, "validation.lmdb"))
	if len(tr) != 6 || len(va) != 2 || len(tr[0]) != 16*16*3 {
		t.Fatalf("counts %d %d", len(tr), len(va))
	}
	o := mustRun(t, "inspect", out)
	if !strings.Contains(o, "raw 16x16 RGB") || !strings.Contains(o, "validation.lmdb: 2 images") {
		t.Fatalf("inspect: %q", o)
	}
	// A raw LMDB with a wrongly sized value is reported by key.
	bad := filepath.Join(t.TempDir(), "bad")
	os.MkdirAll(bad, 0o755)
	w, _ := lmdbio.Create(filepath.Join(bad, "train.lmdb"))
	w.Append(make([]byte, 16*16*3))
	w.Append(make([]byte, 100))
	w.Commit()
	mustFail(t, []string{"inspect", bad}, []string{`key "1"`, "100 bytes"})
	// Beyond the first 64 images every value is still checked.
	bad2 := filepath.Join(t.TempDir(), "bad2")
	os.MkdirAll(bad2, 0o755)
	w, _ = lmdbio.Create(filepath.Join(bad2, "validation.lmdb"))
	for i := range 70 {
		if i == 69 {
			w.Append(make([]byte, 8*8*3))
		} else {
			w.Append(make([]byte, 16*16*3))
		}
	}
	w.Commit()
	mustFail(t, []string{"inspect", bad2, "--out", filepath.Join(t.TempDir(), "g.png")}, []string{"validation.lmdb", `key "69"`, "192 bytes"})
	// A truncated data.mdb (truncate -s 50000) is one error line naming
	// the file, not a SIGBUS (issue 14.4).
	cut := filepath.Join(t.TempDir(), "cut")
	os.MkdirAll(cut, 0o755)
	w, _ = lmdbio.Create(filepath.Join(cut, "train.lmdb"))
	for range 200 {
		w.Append(make([]byte, 16*16*3))
	}
	w.Commit()
	if err := os.Truncate(filepath.Join(cut, "train.lmdb", "data.mdb"), 50000); err != nil {
		t.Fatal(err)
	}
	mustFail(t, []string{"inspect", cut}, []string{filepath.Join(cut, "train.lmdb", "data.mdb"), "truncated"})
}

func TestLSUNCheck(t *testing.T) {
	root := t.TempDir()
	var vals [][]byte
	for i := range 5 {
		m := imgproc.NewRGB(40+i, 30)
		var b bytes.Buffer
		m.EncodeJPEG(&b, 80)
		vals = append(vals, b.Bytes())
	}
	w, _ := lmdbio.Create(filepath.Join(root, "bedroom_val_lmdb"))
	for i, v := range vals {
		w.Put([]byte(fmt.Sprintf("%040x", i*977)), v)
	}
	w.Commit()
	o := mustRun(t, "lsun", "--check", root)
	if !strings.Contains(o, "5 images ok") {
		t.Fatal(o)
	}
	ds, err := data.Open("lsun_bedroom_16", root, data.Validation)
	if err != nil || ds.Len() != 5 {
		t.Fatal(err)
	}
	w, _ = lmdbio.Create(filepath.Join(root, "tower_train_lmdb"))
	w.Put([]byte("abc"), vals[0])
	w.Put([]byte("def"), []byte("garbage"))
	w.Commit()
	mustFail(t, []string{"lsun", "--check", root}, []string{"tower_train_lmdb", `key "def"`})
	if o := mustRun(t, "lsun", root); !strings.Contains(o, "tower_train_lmdb: 2 images") {
		t.Fatal(o)
	}
}
