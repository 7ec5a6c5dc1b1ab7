package lmdbio

import (
	"encoding/binary"
	"fmt"
	"os"
)

// LMDB's on-disk meta pages (liblmdb 0.9, 64-bit little-endian): pages 0
// and 1 each hold a 16-byte page header and then MDB_meta; the newer of
// the two (larger txnid) describes the database.
const (
	metaMagic   = 0xBEEFC0DE
	offMagic    = 16       // mm_magic
	offPageSize = 16 + 24  // mm_dbs[FREE_DBI].md_pad = mm_psize
	offLastPage = 16 + 120 // mm_last_pg
	offTxnID    = 16 + 128 // mm_txnid
	metaSize    = offTxnID + 8
)

// checkMeta reads the meta pages of the data.mdb at path and verifies that
// the file holds every page they reference. Mapping a shorter file makes
// the first read past its end a SIGBUS, so Open refuses it beforehand.
func checkMeta(path string, size int64) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	var m0 [metaSize]byte
	if size < metaSize {
		return fmt.Errorf("%s: truncated: %d bytes, shorter than an LMDB meta page", path, size)
	}
	if _, err := f.ReadAt(m0[:], 0); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if binary.LittleEndian.Uint32(m0[offMagic:]) != metaMagic {
		return fmt.Errorf("%s: not an LMDB data file (bad magic in the first meta page)", path)
	}
	psize := int64(binary.LittleEndian.Uint32(m0[offPageSize:]))
	if psize < 512 || psize > 1<<16 || psize&(psize-1) != 0 {
		return fmt.Errorf("%s: corrupt LMDB meta page (page size %d)", path, psize)
	}
	if size < 2*psize {
		return fmt.Errorf("%s: truncated: %d bytes, fewer than the two %d-byte LMDB meta pages", path, size, psize)
	}
	var m1 [metaSize]byte
	if _, err := f.ReadAt(m1[:], psize); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if binary.LittleEndian.Uint32(m1[offMagic:]) != metaMagic {
		return fmt.Errorf("%s: corrupt LMDB data file (bad magic in the second meta page)", path)
	}
	// liblmdb takes the page size of the newer meta page and places the
	// second one at that offset: the two must agree
	if p1 := int64(binary.LittleEndian.Uint32(m1[offPageSize:])); p1 != psize {
		return fmt.Errorf("%s: corrupt LMDB meta pages (page sizes %d and %d)", path, psize, p1)
	}
	meta := m0[:]
	if binary.LittleEndian.Uint64(m1[offTxnID:]) > binary.LittleEndian.Uint64(m0[offTxnID:]) {
		meta = m1[:]
	}
	last := binary.LittleEndian.Uint64(meta[offLastPage:])
	if last >= uint64(1<<62)/uint64(psize) {
		return fmt.Errorf("%s: corrupt LMDB meta page (last page %d)", path, last)
	}
	if need := int64(last+1) * psize; size < need {
		return fmt.Errorf("%s: truncated: %d bytes, but the LMDB database needs %d (%d pages of %d); copy it again or rerun nvae-prep", path, size, need, last+1, psize)
	}
	return nil
}
