package ckpt

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"sort"

	"github.com/nvaego/nvae/pkg/safetensors"
)

// ChecksumKey is the metadata entry holding the CRC32C (Castagnoli) of
// every tensor's bytes, as a JSON object from tensor name to 8 hex digits.
// Checkpoints written before it existed have no such entry and load
// unchecked.
const ChecksumKey = "crc32c"

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func checksums(f *safetensors.File) string {
	sums := make(map[string]string, len(f.Tensors))
	for name, t := range f.Tensors {
		sums[name] = fmt.Sprintf("%08x", crc32.Checksum(t.Data, castagnoli))
	}
	b, _ := json.Marshal(sums) // sorted keys: deterministic output
	return string(b)
}

// verifyChecksums checks every tensor against the stored CRC32C and names
// the first (in name order) that differs or has no checksum.
func verifyChecksums(f *safetensors.File) error {
	raw, ok := f.Metadata[ChecksumKey]
	if !ok {
		return nil
	}
	var sums map[string]string
	if err := json.Unmarshal([]byte(raw), &sums); err != nil {
		return fmt.Errorf("the %s metadata is unreadable (%v)", ChecksumKey, err)
	}
	names := f.Names()
	sort.Strings(names)
	for _, name := range names {
		want, ok := sums[name]
		if !ok {
			return fmt.Errorf("tensor %s has no checksum", name)
		}
		got := fmt.Sprintf("%08x", crc32.Checksum(f.Tensors[name].Data, castagnoli))
		if got != want {
			return fmt.Errorf("tensor %s fails its CRC32C check (stored %s, computed %s)", name, want, got)
		}
	}
	for name := range sums {
		if _, ok := f.Tensors[name]; !ok {
			return fmt.Errorf("tensor %s is listed in the checksums but missing", name)
		}
	}
	return nil
}

// IsSafetensors reports whether head (the first 9 bytes or more of a file)
// starts like a safetensors file: a little-endian header length, then the
// header's opening brace. PyTorch checkpoints start with "PK" (zip) or
// 0x80 (pickle) instead.
func IsSafetensors(head []byte) bool {
	if len(head) < 9 {
		return false
	}
	n := binary.LittleEndian.Uint64(head)
	return n >= 2 && n <= safetensors.MaxHeaderSize && head[8] == '{'
}
