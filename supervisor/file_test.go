package supervisor

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/migrate-run/migrate/contstore"
	"github.com/migrate-run/migrate/fdpass"
)

// putFileCont commits a system continuation of app a holding one regular
// file at offset 5, as a ReturnCont of a file-only session would, and
// returns its id.
func putFileCont(t *testing.T, h *harness, a *App) contstore.ID {
	t.Helper()
	path := filepath.Join(t.TempDir(), "log")
	if err := os.WriteFile(path, []byte("0123456789"), 0o600); err != nil {
		t.Fatal(err)
	}
	fd, err := unix.Open(path, unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := unix.Seek(fd, 5, 0); err != nil {
		t.Fatal(err)
	}
	desc, err := fdpass.Describe(fd)
	if err != nil {
		t.Fatal(err)
	}
	sess := contstore.Session{App: a.name, State: contstore.SessionSuspended, Conn: desc}
	if err := h.s.store.PutSession(&sess); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	rec := contstore.Continuation{App: a.name, Session: sess.ID, Kind: contstore.KindSystem,
		State: contstore.StateSuspended, Created: now, Expires: now.Add(time.Hour), FDsAfter: 1,
		Slots: []contstore.Slot{{Role: "file", Number: 7, Desc: desc, Held: 0}}}
	if err := h.s.store.Put(&rec); err != nil {
		t.Fatal(err)
	}
	h.s.mu.Lock()
	h.s.hold(&heldCont{rec: heldRecordOf(&rec), app: a, fds: []int{fd}, state: contstore.StateSuspended})
	h.s.mu.Unlock()
	return rec.ID
}

func seekCur(fd int) (int64, error) { return unix.Seek(fd, 0, 1) }
