package supervisor

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/migrate-run/migrate/contstore"
	"github.com/migrate-run/migrate/proto"
)

// The admin API drives the supervisor as migratectl will: list, suspend,
// show, stats, resume, drop and gc, each through AdminClient over the
// control socket.
func TestAdminAPI(t *testing.T) {
	h := newHarness(t, nil)
	app := h.startApp("adm", kindEnv+"=internal", connsEnv+"=2")
	addr := app.expect("listening")[0]
	cl := dialApp(t, addr)
	sid := contstore.SessionID(atou(t, app.expect("registered")[1]))
	dialApp(t, addr)
	sid2 := contstore.SessionID(atou(t, app.expect("registered")[1]))
	cl.expectRun(0, 4)
	ac, err := Dial(h.cfg.Socket)
	if err != nil {
		t.Fatal(err)
	}
	defer ac.Close()
	ctx := context.Background()

	apps, err := ac.Apps(ctx)
	if err != nil || len(apps) != 1 || apps[0].Name != "adm" || apps[0].State != "running" || apps[0].Sessions != 2 {
		t.Fatalf("Apps: %+v, %v", apps, err)
	}
	if sessions, err := ac.Sessions(ctx, "adm"); err != nil || len(sessions) != 2 {
		t.Fatalf("Sessions: %+v, %v", sessions, err)
	}

	done := make(chan []contstore.ID, 1)
	go func() {
		ids, err := ac.Suspend(ctx, sid)
		if err != nil {
			t.Errorf("admin Suspend: %v", err)
		}
		done <- ids
	}()
	app.expect("acked")
	app.proceed()
	ids := <-done
	if len(ids) != 1 {
		t.Fatalf("admin Suspend returned %v", ids)
	}
	cont := ids[0]

	info, err := ac.Show(ctx, cont, false)
	if err != nil || info.State != contstore.StateSuspended || info.FDsBefore != 1 || info.FDsAfter != 1 ||
		len(info.Slots) != 1 || info.Slots[0].Role != roleSession || info.Slots[0].HeldFD < 0 ||
		len(info.Store) != 1 || info.Store[0].Key != "next" || info.Store[0].Value != nil {
		t.Fatalf("Show: %+v, %v", info, err)
	}
	if info, _ := ac.Show(ctx, cont, true); string(info.Store[0].Value) != "4" {
		t.Fatalf("Show with values: store %+v, want next=4", info.Store)
	}
	if list, err := ac.Continuations(ctx, "adm", contstore.StateSuspended); err != nil || len(list) != 1 || list[0].ID != cont {
		t.Fatalf("Continuations: %+v, %v", list, err)
	}
	st, err := ac.Stats(ctx)
	if err != nil || st.HeldBefore != 1 || st.HeldAfter != 1 || st.ByState[contstore.StateSuspended] != 1 || st.OpenFDs == 0 {
		t.Fatalf("Stats: %+v, %v", st, err)
	}

	if _, err := ac.Resume(ctx, cont); err != nil {
		t.Fatalf("admin Resume: %v", err)
	}
	app.expect("attached")
	cl.expectRun(4, 1)

	// A second session, suspended then dropped.
	go func() {
		ids, _ := ac.Suspend(ctx, sid2)
		done <- ids
	}()
	app.expect("acked")
	app.proceed()
	dropped := (<-done)[0]
	if err := ac.Drop(ctx, dropped); err != nil {
		t.Fatalf("Drop: %v", err)
	}
	var pe *proto.Error
	if _, err := ac.Show(ctx, dropped, false); !errors.As(err, &pe) || pe.Code != proto.CodeUnknownContinuation {
		t.Fatalf("Show of a dropped continuation: %v", err)
	}
	if _, err := ac.Resume(ctx, 424242); !errors.As(err, &pe) || pe.Code != proto.CodeUnknownContinuation {
		t.Fatalf("Resume of an unknown continuation: %v", err)
	}
	if _, err := ac.Do(ctx, &proto.AdminRequest{Op: proto.AdminConts, State: "sleeping"}); !errors.As(err, &pe) || pe.Code != proto.CodeBadMessage {
		t.Fatalf("a bad state filter: %v", err)
	}
	if expired, err := ac.GC(ctx); err != nil || len(expired) != 0 {
		t.Fatalf("GC: %v, %v; nothing is due", expired, err)
	}
}

// migrate-run's path: an app started over the admin API with the caller's
// stdio, waited for until done.
func TestAdminStartAndWait(t *testing.T) {
	h := newHarness(t, nil)
	ac, err := Dial(h.cfg.Socket)
	if err != nil {
		t.Fatal(err)
	}
	defer ac.Close()
	outR, outW := pipe(t)
	out := os.NewFile(uintptr(outR), "out")
	defer out.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	info, err := ac.StartApp(ctx, &proto.AdminStartApp{Name: "echo", Args: []string{"sh", "-c", "echo hello from $MIGRATE_APP"},
		Env: []string{"PATH=/usr/bin:/bin"}, Cwd: "/", ExpirySec: 600}, [3]int{0, outW, 2})
	closeFDs([]int{outW})
	if err != nil || info.Name != "echo" || info.PID == 0 {
		t.Fatalf("StartApp: %+v, %v", info, err)
	}
	info, err = ac.WaitApp(ctx, "echo")
	if err != nil || info.Exit == nil || info.Exit.Code != 0 || !info.Done {
		t.Fatalf("WaitApp: %+v, %v", info, err)
	}
	h.s.mu.Lock()
	expiry := h.s.expiryFor(h.s.apps["echo"], 0)
	h.s.mu.Unlock()
	if expiry != 10*time.Minute {
		t.Fatalf("the app's default expiry is %v, want the 600 s asked", expiry)
	}
	if _, err := ac.StopApp(ctx, "echo"); err != nil {
		t.Fatalf("StopApp: %v", err)
	}
	b := make([]byte, 64)
	n, _ := out.Read(b)
	if string(b[:n]) != "hello from echo\n" {
		t.Fatalf("the app wrote %q to the stdio it was given", b[:n])
	}
	if _, err := ac.StartApp(ctx, &proto.AdminStartApp{Name: "bad/name", Args: []string{"true"}, Cwd: "/"}, [3]int{0, 1, 2}); err == nil {
		t.Fatal("StartApp accepted a name with a slash")
	}
}

// A second supervisor on a socket where one answers refuses to start; a
// stale socket file is replaced; the socket is 0600 in a 0711 directory
// (others pass through to their notify sockets), the store's is 0700.
func TestControlSocket(t *testing.T) {
	h := newHarness(t, nil)
	fi, err := os.Stat(h.cfg.Socket)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("socket mode %v, %v", fi.Mode(), err)
	}
	if di, _ := os.Stat(h.cfg.StateDir); di.Mode().Perm() != 0o700 {
		t.Fatalf("state dir mode %v", di.Mode())
	}
	if di, _ := os.Stat(filepath.Dir(h.cfg.Socket)); di.Mode().Perm() != 0o711 {
		t.Fatalf("socket dir mode %v", di.Mode())
	}
	cfg := h.cfg
	cfg.StateDir = t.TempDir()
	cfg.CgroupParent += "-second" // the cgroup parent is the first one's
	s2, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := s2.Run(context.Background()); !errors.Is(err, ErrRunning) {
		t.Fatalf("second supervisor on a live socket: %v, want ErrRunning", err)
	}
	// The refused Run let go of the store and the cgroup parent.
	s3, err := New(cfg)
	if err != nil {
		t.Fatalf("New after a refused Run: %v", err)
	}
	if err := s3.Run(context.Background()); !errors.Is(err, ErrRunning) {
		t.Fatalf("third supervisor on a live socket: %v, want ErrRunning", err)
	}
	h.stop()
	// A socket file nobody answers on is what a killed supervisor leaves.
	ln, err := listenControl(h.cfg.Socket)
	if err != nil {
		t.Fatalf("listen after a clean stop: %v", err)
	}
	ln.Close() // SetUnlinkOnClose(false): the file stays, stale
	ln2, err := listenControl(h.cfg.Socket)
	if err != nil {
		t.Fatalf("listen over a stale socket: %v", err)
	}
	ln2.Close()
}

// New surfaces the store's errors: a store another supervisor holds is
// locked, a file that is no store is corrupt; nothing is started.
func TestStoreErrors(t *testing.T) {
	h := newHarness(t, nil)
	cfg := h.cfg
	cfg.Socket = filepath.Join(t.TempDir(), "other.sock")
	cfg.CgroupParent += "-second" // the cgroup parent is the first one's
	if _, err := New(cfg); !errors.Is(err, contstore.ErrLocked) {
		t.Fatalf("New on a held store: %v, want ErrLocked", err)
	}
	cfg.StateDir = t.TempDir()
	if err := os.WriteFile(filepath.Join(cfg.StateDir, StoreFile), []byte("not a bbolt file at all, not even close"), 0o600); err != nil {
		t.Fatal(err)
	}
	// The failed New let go of the cgroup parent: this one takes it again.
	if _, err := New(cfg); !errors.Is(err, contstore.ErrCorrupt) {
		t.Fatalf("New on a corrupt store: %v, want ErrCorrupt", err)
	}
}
