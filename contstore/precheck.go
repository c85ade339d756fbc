package contstore

import (
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"io"
	"os"
)

// bbolt maps the whole file and follows page ids without bounds checks, so a
// truncated file makes it fault (SIGBUS) and a file that is not a bbolt file
// makes it fail with messages that do not say "corrupt". precheck reads the
// two meta pages first, under the file lock, and refuses what bbolt would
// trip on. The layout is bbolt's file format version 2, in native byte order:
// a 16-byte page header, then
//
//	magic u32, version u32, pageSize u32, flags u32,
//	root bucket page u64, sequence u64, freelist page u64,
//	high-water page id u64, txid u64, checksum u64 (FNV-64a of the 56 bytes before it)
const (
	boltMagic      = 0xED0CDAED
	boltVersion    = 2
	pageHeaderSize = 16
	metaSize       = 64
	minPageSize    = 1024
	maxPageSize    = 1 << 16
)

type boltMeta struct {
	magic, version, pageSize uint32
	pgid, txid               uint64
	checksumOK               bool
}

func parseMeta(page []byte) boltMeta {
	m := page[pageHeaderSize : pageHeaderSize+metaSize]
	ne := binary.NativeEndian
	h := fnv.New64a()
	h.Write(m[:56])
	return boltMeta{
		magic:      ne.Uint32(m[0:]),
		version:    ne.Uint32(m[4:]),
		pageSize:   ne.Uint32(m[8:]),
		pgid:       ne.Uint64(m[40:]),
		txid:       ne.Uint64(m[48:]),
		checksumOK: ne.Uint64(m[56:]) == h.Sum64(),
	}
}

// problem says what is wrong with a meta page that is not simply torn.
func (m boltMeta) problem() string {
	switch {
	case m.magic != boltMagic:
		return fmt.Sprintf("not a bbolt meta page (magic %#08x)", m.magic)
	case m.version != boltVersion:
		return fmt.Sprintf("bbolt file format %d, this build reads %d", m.version, boltVersion)
	case m.checksumOK && (m.pageSize < minPageSize || m.pageSize > maxPageSize || m.pageSize&(m.pageSize-1) != 0):
		return fmt.Sprintf("page size %d is not a power of two in [%d, %d]", m.pageSize, minPageSize, maxPageSize)
	}
	return ""
}

// precheck validates f before bbolt maps it. An empty file is a new store
// (bbolt initialises it) unless it is opened read-only. Both meta pages must
// be bbolt meta pages; one of them may fail its checksum (a meta write torn
// by a crash, which bbolt recovers from by using the other), not both; and
// the file must reach the high-water mark of the newest valid one.
func precheck(f *os.File, readOnly bool) error {
	info, err := f.Stat()
	if err != nil {
		return fmt.Errorf("stat: %w", err)
	}
	size := info.Size()
	if size == 0 {
		if readOnly {
			return fmt.Errorf("%w: file is empty, not an initialised store", ErrCorrupt)
		}
		return nil
	}
	m0, err := readMeta(f, 0, size)
	if err != nil {
		return err
	}
	pageSize := int64(os.Getpagesize())
	if m0.problem() == "" && m0.checksumOK {
		pageSize = int64(m0.pageSize)
	}
	m1, err := readMeta(f, pageSize, size)
	if err != nil {
		return err
	}
	return checkMetas(m0, m1, pageSize, size)
}

func readMeta(f *os.File, off, size int64) (boltMeta, error) {
	page := make([]byte, pageHeaderSize+metaSize)
	if _, err := f.ReadAt(page, off); err == io.EOF || err == io.ErrUnexpectedEOF {
		return boltMeta{}, fmt.Errorf("%w: file of %d bytes is too short for a meta page at %d", ErrCorrupt, size, off)
	} else if err != nil {
		return boltMeta{}, fmt.Errorf("read meta page at %d: %w", off, err)
	}
	return parseMeta(page), nil
}

func checkMetas(m0, m1 boltMeta, pageSize, size int64) error {
	for i, m := range []boltMeta{m0, m1} {
		if p := m.problem(); p != "" {
			return fmt.Errorf("%w: meta page %d: %s", ErrCorrupt, i, p)
		}
	}
	newest := m0
	switch {
	case !m0.checksumOK && !m1.checksumOK:
		return fmt.Errorf("%w: both meta pages fail their checksum", ErrCorrupt)
	case !m0.checksumOK || (m1.checksumOK && m1.txid > m0.txid):
		newest = m1
	}
	if int64(newest.pageSize) != pageSize {
		return fmt.Errorf("%w: meta pages disagree on the page size (%d, %d)", ErrCorrupt, pageSize, newest.pageSize)
	}
	if newest.pgid < 2 || newest.pgid > uint64(size/pageSize) {
		return fmt.Errorf("%w: file is %d bytes, its meta page (txid %d) says %d pages of %d: truncated",
			ErrCorrupt, size, newest.txid, newest.pgid, pageSize)
	}
	return nil
}
