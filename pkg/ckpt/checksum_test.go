package ckpt

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nvaego/nvae/internal/cli"
	"github.com/nvaego/nvae/pkg/backend/cpu"
	"github.com/nvaego/nvae/pkg/nvae"
	"github.com/nvaego/nvae/pkg/optim"
	"github.com/nvaego/nvae/pkg/safetensors"
	"github.com/nvaego/nvae/pkg/tensor"
)

func tinyModel(t testing.TB) *nvae.Model {
	t.Helper()
	cfg, err := cli.ParseStruct(strings.Fields("--dataset mnist --batch_size 4 --epochs 2 "+
		"--num_channels_enc 4 --num_channels_dec 4 --num_latent_scales 2 --num_groups_per_scale 2 --num_latent_per_group 4 "+
		"--ada_groups --min_groups_per_scale 1 --use_se --res_dist --num_nf 0 --num_preprocess_blocks 1 --num_preprocess_cells 2 "+
		"--num_postprocess_blocks 1 --num_postprocess_cells 2 --num_cell_per_cond_enc 1 --num_cell_per_cond_dec 1 --seed 5"), nvae.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	m, err := nvae.NewModel(cfg, cpu.New(), tensor.Float32, 5)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func savedCheckpoint(t testing.TB) (string, []byte) {
	t.Helper()
	m := tinyModel(t)
	path := filepath.Join(t.TempDir(), "checkpoint.nvae")
	if err := Save(path, m, optim.NewAdamax(m.Store.B, m.Store.Params(), 1e-3, 0), State{Tool: "test"}); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return path, b
}

// TestChecksumNamesTensor (issue 14.8): one flipped bit in tensor data is
// refused on load with the tensor's name; a checkpoint written before
// checksums existed still loads.
func TestChecksumNamesTensor(t *testing.T) {
	path, good := savedCheckpoint(t)
	if _, err := Load(path, cpu.New(), tensor.Float32); err != nil {
		t.Fatal(err)
	}
	hdr := int(binary.LittleEndian.Uint64(good))
	for _, pos := range []int{8 + hdr + 3, len(good) - 2} {
		bad := bytes.Clone(good)
		bad[pos] ^= 0x10
		os.WriteFile(path, bad, 0o644)
		_, err := Load(path, cpu.New(), tensor.Float32)
		if err == nil {
			t.Fatalf("bit flip at byte %d loaded silently", pos)
		}
		// the named tensor is the one whose bytes changed
		fg, _ := safetensors.Read(bytes.NewReader(good), int64(len(good)))
		fb, _ := safetensors.Read(bytes.NewReader(bad), int64(len(bad)))
		var changed string
		for name, tg := range fg.Tensors {
			if !bytes.Equal(tg.Data, fb.Tensors[name].Data) {
				changed = name
			}
		}
		if changed == "" || !strings.Contains(err.Error(), "tensor "+changed+" fails its CRC32C") || !strings.Contains(err.Error(), path) {
			t.Fatalf("flip in %s: got %v", changed, err)
		}
		if strings.Contains(err.Error(), "--cont_training") {
			t.Fatalf("nvae-eval/nvae-sample hint names a flag they lack: %v", err)
		}
	}
	// without the checksum entry (an older checkpoint) it loads
	f, _ := safetensors.Read(bytes.NewReader(good), int64(len(good)))
	delete(f.Metadata, ChecksumKey)
	if err := safetensors.WriteFile(path, f); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(path, cpu.New(), tensor.Float32); err != nil {
		t.Fatalf("checkpoint without checksums: %v", err)
	}
}

// TestLoadAnyByContent (issue 14.14): a checkpoint.nvae renamed .pt loads
// (the format is read from the content, not the name); a truncated one
// names the file without hinting at --cont_training; junk is refused.
func TestLoadAnyByContent(t *testing.T) {
	_, good := savedCheckpoint(t)
	dir := t.TempDir()
	pt := filepath.Join(dir, "checkpoint.pt")
	os.WriteFile(pt, good, 0o644)
	m, err := LoadAny(pt, cpu.New(), tensor.Float32)
	if err != nil || m == nil {
		t.Fatalf("checkpoint.nvae named .pt: %v", err)
	}
	cut := filepath.Join(dir, "cut.nvae")
	os.WriteFile(cut, good[:len(good)/2], 0o644)
	_, err = LoadAny(cut, cpu.New(), tensor.Float32)
	if err == nil || !strings.Contains(err.Error(), cut) || !strings.Contains(err.Error(), "truncated") || strings.Contains(err.Error(), "--cont_training") {
		t.Fatalf("truncated checkpoint: %v", err)
	}
	junk := filepath.Join(dir, "junk.pth")
	os.WriteFile(junk, []byte("hello, world"), 0o644)
	if _, err := LoadAny(junk, cpu.New(), tensor.Float32); err == nil || !strings.Contains(err.Error(), "neither") {
		t.Fatalf("junk: %v", err)
	}
}

// FuzzReadChecked: the checkpoint reader (safetensors parse, format and
// per-tensor checksums) never panics, and whatever it accepts has every
// tensor matching its stored checksum.
func FuzzReadChecked(f *testing.F) {
	_, good := savedCheckpoint(f)
	f.Add(good)
	bad := bytes.Clone(good)
	bad[len(bad)-1] ^= 1
	f.Add(bad)
	f.Add(good[:len(good)/2])
	sf, _ := safetensors.Read(bytes.NewReader(good), int64(len(good)))
	delete(sf.Metadata, ChecksumKey)
	var old bytes.Buffer
	safetensors.Write(&old, sf)
	f.Add(old.Bytes())
	sf.Metadata[ChecksumKey] = `{"x":"00000000"}`
	var wrong bytes.Buffer
	safetensors.Write(&wrong, sf)
	f.Add(wrong.Bytes())
	f.Fuzz(func(t *testing.T, b []byte) {
		sf, err := readChecked(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			return
		}
		if _, ok := sf.Metadata[ChecksumKey]; ok {
			if err := verifyChecksums(sf); err != nil {
				t.Fatalf("accepted but fails verification: %v", err)
			}
		}
	})
}
