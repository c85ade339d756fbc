//go:build linux

package migrate

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/migrate-run/migrate/fdpass"
	"github.com/migrate-run/migrate/proto"
	"golang.org/x/sys/unix"
)

func TestStoreCalls(t *testing.T) {
	checkNoLeaks(t)
	c, f := newFake(t)
	srv, _ := tcpPair(t)
	s := registered(t, c, f, srv, 4)
	ctx := context.Background()
	want := proto.Scope{Session: 4}

	st := async(func() (struct{}, error) { return struct{}{}, s.Store(ctx, "offset", []byte{42}) })
	m, id, fds := expect[*proto.Store](f)
	if m.Scope != want || m.Key != "offset" || !bytes.Equal(m.Value, []byte{42}) || len(fds) != 0 {
		t.Errorf("Store = %+v with %d fds", *m, len(fds))
	}
	f.ack(id, 0)
	if _, err := wait(t, st); err != nil {
		t.Fatal(err)
	}

	rt := async(func() ([]byte, error) { return s.Retrieve(ctx, "offset") })
	r, id, _ := expect[*proto.Retrieve](f)
	if r.Scope != want || r.Key != "offset" {
		t.Errorf("Retrieve = %+v", *r)
	}
	f.send(proto.Message{ID: id, Body: &proto.RetrieveReply{Value: []byte{42}}}, nil)
	if v, err := wait(t, rt); err != nil || !bytes.Equal(v, []byte{42}) {
		t.Errorf("Retrieve = %v, %v", v, err)
	}

	sz := async(func() (int64, error) { return s.StoreSize(ctx, "offset") })
	z, id, _ := expect[*proto.StoreSize](f)
	if z.Scope != want || z.Key != "offset" {
		t.Errorf("StoreSize = %+v", *z)
	}
	f.ack(id, 1)
	if n, err := wait(t, sz); err != nil || n != 1 {
		t.Errorf("StoreSize = %d, %v", n, err)
	}

	ex := async(func() (struct{}, error) { return struct{}{}, s.Export(ctx, "missing") })
	e, id, _ := expect[*proto.Export](f)
	if e.Scope != want || e.Key != "missing" {
		t.Errorf("Export = %+v", *e)
	}
	f.fail(id, proto.CodeUnknownKey, "no such key")
	if _, err := wait(t, ex); !HasCode(err, proto.CodeUnknownKey) {
		t.Errorf("Export of a missing key = %v, want unknown-key", err)
	}
}

func TestStoreBadKeySendsNothing(t *testing.T) {
	checkNoLeaks(t)
	c, f := newFake(t)
	srv, _ := tcpPair(t)
	s := registered(t, c, f, srv, 4)
	ctx := context.Background()
	for _, key := range []string{"", strings.Repeat("k", 256)} {
		if err := s.Store(ctx, key, nil); !errors.Is(err, ErrInvalid) {
			t.Errorf("Store(%d-byte key) = %v, want ErrInvalid", len(key), err)
		}
		if _, err := s.Retrieve(ctx, key); !errors.Is(err, ErrInvalid) {
			t.Errorf("Retrieve(%d-byte key) = %v, want ErrInvalid", len(key), err)
		}
		if _, err := s.StoreSize(ctx, key); !errors.Is(err, ErrInvalid) {
			t.Errorf("StoreSize(%d-byte key) = %v, want ErrInvalid", len(key), err)
		}
		if err := s.Export(ctx, key); !errors.Is(err, ErrInvalid) {
			t.Errorf("Export(%d-byte key) = %v, want ErrInvalid", len(key), err)
		}
	}
	go s.Close(ctx)
	expect[*proto.SessionClose](f) // nothing before it
}

func TestLargeValuesTravelInASealedMemfd(t *testing.T) {
	checkNoLeaks(t)
	c, f := newFake(t)
	srv, _ := tcpPair(t)
	s := registered(t, c, f, srv, 4)
	big := bytes.Repeat([]byte("0123456789abcdef"), 10000) // 160000 bytes
	st := async(func() (struct{}, error) { return struct{}{}, s.Store(context.Background(), "big", big) })
	rec, fds := f.recvRaw()
	h, err := proto.DecodeHeader(rec)
	if err != nil || h.Flags&proto.FlagPayloadMemfd == 0 || h.FDs != 1 || len(fds) != 1 {
		t.Fatalf("header %+v (%v) with %d fds, want a memfd payload and 1 fd", h, err, len(fds))
	}
	payload, err := fdpass.ReadSealedMemfd(fds[0], proto.MaxMemfdPayload)
	if err != nil {
		t.Fatalf("the payload is not in a sealed memfd: %v", err)
	}
	if fdf, _ := unix.FcntlInt(uintptr(fds[0]), unix.F_GETFD, 0); fdf&unix.FD_CLOEXEC == 0 {
		t.Error("memfd is not close-on-exec")
	}
	m, err := proto.DecodeMemfd(rec, payload)
	if err != nil {
		t.Fatal(err)
	}
	if got := m.Body.(*proto.Store); !bytes.Equal(got.Value, big) {
		t.Errorf("stored %d bytes, want the %d sent", len(got.Value), len(big))
	}
	f.ack(h.ID, 0)
	if _, err := wait(t, st); err != nil {
		t.Fatal(err)
	}
	// And back: a large RetrieveReply arrives as a memfd too.
	rt := async(func() ([]byte, error) { return s.Retrieve(context.Background(), "big") })
	_, id, _ := expect[*proto.Retrieve](f)
	f.send(proto.Message{ID: id, Body: &proto.RetrieveReply{Value: big}}, nil)
	if v, err := wait(t, rt); err != nil || !bytes.Equal(v, big) {
		t.Errorf("Retrieve of a large value = %d bytes, %v", len(v), err)
	}
}

// TestConcurrentCallsAreMatchedByID answers 64 concurrent Retrieves in
// reverse order; each caller must get its own value.
func TestConcurrentCallsAreMatchedByID(t *testing.T) {
	checkNoLeaks(t)
	c, f := newFake(t)
	const n = 64
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			key := fmt.Sprintf("k%d", i)
			v, err := c.retrieve(context.Background(), proto.Scope{Session: 1}, key)
			if err == nil && string(v) != "value of "+key {
				err = fmt.Errorf("%s got %q", key, v)
			}
			errs <- err
		}()
	}
	type asked struct {
		id  uint64
		key string
	}
	var all []asked
	for range n {
		r, id, _ := expect[*proto.Retrieve](f)
		all = append(all, asked{id, r.Key})
	}
	for i := len(all) - 1; i >= 0; i-- {
		f.send(proto.Message{ID: all[i].id, Body: &proto.RetrieveReply{Value: []byte("value of " + all[i].key)}}, nil)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
}

func TestMirrorMerge(t *testing.T) {
	var m storeMirror
	m.set("a", []byte("1"))
	m.set("b", []byte("2"))
	m.export("a")
	m.set("a", []byte("3")) // keeps the exported mark
	m.export("zzz")         // unknown here: ignored
	got := m.merged([]Entry{{Key: "b", Value: []byte("4")}, {Key: "c"}, {Key: "c", Value: []byte("5")}})
	want := []Entry{{Key: "a", Value: []byte("3"), Exported: true}, {Key: "b", Value: []byte("4")}, {Key: "c", Value: []byte("5")}}
	if len(got) != len(want) {
		t.Fatalf("merged = %+v, want %+v", got, want)
	}
	for i := range want {
		if !entryEqual(got[i], want[i]) {
			t.Errorf("entry %d = %+v, want %+v", i, got[i], want[i])
		}
	}
	if len(m.entries) != 2 {
		t.Errorf("merged changed the mirror: %+v", m.entries)
	}
}
