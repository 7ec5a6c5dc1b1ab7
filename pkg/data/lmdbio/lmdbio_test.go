package lmdbio

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
)

func TestWriteRead(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "train.lmdb")
	w, err := Create(dir)
	if err != nil {
		t.Fatal(err)
	}
	w.FlushBytes = 1000 // force several transactions
	const n = 300
	for i := range n {
		if err := w.Append(bytes.Repeat([]byte{byte(i)}, 100+i)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatal("final directory exists before Commit")
	}
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"data.mdb", "lock.mdb"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Fatal(err)
		}
	}
	ents, _ := os.ReadDir(root)
	if len(ents) != 1 {
		t.Fatalf("leftover entries in %s: %v", root, ents)
	}
	r, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if r.Len() != n {
		t.Fatalf("len %d", r.Len())
	}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := g; i < n; i += 4 {
				v, err := r.Get([]byte(fmt.Sprint(i)), nil)
				if err != nil || !bytes.Equal(v, bytes.Repeat([]byte{byte(i)}, 100+i)) {
					t.Errorf("key %d: %v", i, err)
				}
			}
		}()
	}
	wg.Wait()
	if _, err := r.GetIndex(n, nil); err == nil {
		t.Fatal("missing key not reported")
	}
	seen := 0
	err = r.ForEach(func(k, v []byte) error {
		i, _ := strconv.Atoi(string(k))
		if len(v) != 100+i {
			t.Errorf("ForEach key %s: %d bytes", k, len(v))
		}
		seen++
		return nil
	})
	if err != nil || seen != n {
		t.Fatalf("ForEach: %v, %d entries", err, seen)
	}
	keys, err := r.Keys()
	if err != nil || len(keys) != n || string(keys[0]) != "0" || string(keys[1]) != "1" || string(keys[2]) != "10" {
		t.Fatalf("keys: %v %q", err, keys[:3])
	}
}

func TestMapGrowth(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "big.lmdb")
	w, err := Create(dir)
	if err != nil {
		t.Fatal(err)
	}
	w.mapSize = 1 << 20
	w.env.SetMapSize(w.mapSize)
	v := make([]byte, 1<<20)
	for range 5 {
		if err := w.Append(v); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	r, err := Open(dir)
	if err != nil || r.Len() != 5 {
		t.Fatal(err)
	}
	r.Close()
}

func TestAbortAndReplace(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "x.lmdb")
	w, _ := Create(dir)
	w.Append([]byte("a"))
	w.Abort()
	if ents, _ := os.ReadDir(root); len(ents) != 0 {
		t.Fatalf("abort left %v", ents)
	}
	for _, val := range []string{"old", "new"} {
		w, _ := Create(dir)
		w.Append([]byte(val))
		if err := w.Commit(); err != nil {
			t.Fatal(err)
		}
	}
	r, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if v, _ := r.GetIndex(0, nil); string(v) != "new" {
		t.Fatalf("got %q", v)
	}
	if ents, _ := os.ReadDir(root); len(ents) != 1 {
		t.Fatalf("leftovers %v", ents)
	}
}
