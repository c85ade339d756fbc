//go:build linux

// Command sessionfill fills a supervisor with suspended sessions, for the
// capacity benchmark (tests/report_capacity_test.go). It runs as an app
// under migrate-run and reads commands on stdin, one per line:
//
//	fill N   make sessions until N are held in all, then print
//	         "sessionfill: held N in D"
//	quit     (or end of input) close everything and exit
//
// Each session is real: a TCP connection on loopback to one of the
// driver's own listeners, registered with GetSession and suspended by
// ReturnCont with a complete continuation (the connection as the session's
// descriptor, one stored index, this program as the exec), the way
// counter-server suspends. The supervisor holds the server end; the driver
// keeps the client end open, so the held connection stays live. Work is
// spread over --workers control connections (the supervisor handles one
// connection's requests in order) and as many listeners (one per worker,
// so that a worker's accept returns its own dial, and so that the
// 4-tuples spread past the ephemeral port range). Errors go to stderr as
// "sessionfill: error: ...", and the driver exits 1.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/migrate-run/migrate"
)

func main() {
	workers := flag.Int("workers", 32, "control connections (and listeners) used at once")
	flag.Parse()
	if err := run(*workers); err != nil {
		fmt.Fprintf(os.Stderr, "sessionfill: error: %v\n", err)
		os.Exit(1)
	}
}

func run(workers int) error {
	if err := raiseNofile(); err != nil {
		return err
	}
	ctx := context.Background()
	f, err := newFiller(ctx, workers)
	if err != nil {
		return err
	}
	defer f.close()
	fmt.Printf("sessionfill: ready, %d workers\n", workers)
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		cmd, arg, _ := strings.Cut(strings.TrimSpace(in.Text()), " ")
		switch cmd {
		case "fill":
			n, err := strconv.Atoi(arg)
			if err != nil || n < 0 {
				return fmt.Errorf("fill %q: want a count", arg)
			}
			start := time.Now()
			if err := f.fill(ctx, n); err != nil {
				return err
			}
			fmt.Printf("sessionfill: held %d in %v\n", f.held(), time.Since(start))
		case "quit":
			return nil
		default:
			return fmt.Errorf("unknown command %q", cmd)
		}
	}
	return in.Err()
}

// raiseNofile lifts RLIMIT_NOFILE to fs.nr_open where the process may
// (CAP_SYS_RESOURCE), else to its hard limit: the driver keeps one client
// connection open per held session.
func raiseNofile() error {
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		return fmt.Errorf("read RLIMIT_NOFILE: %w", err)
	}
	if b, err := os.ReadFile("/proc/sys/fs/nr_open"); err == nil {
		if n, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64); err == nil && n > lim.Max {
			if unix.Setrlimit(unix.RLIMIT_NOFILE, &unix.Rlimit{Cur: n, Max: n}) == nil {
				return nil
			}
		}
	}
	lim.Cur = lim.Max
	if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		return fmt.Errorf("raise RLIMIT_NOFILE to %d: %w", lim.Max, err)
	}
	return nil
}

// filler makes and suspends sessions over its workers.
type filler struct {
	workers []*worker
	count   atomic.Int64 // sessions held
}

// worker is one control connection and the listener its dials go to.
type worker struct {
	c      *migrate.Client
	ln     *net.TCPListener
	mu     sync.Mutex
	client []*net.TCPConn // client ends of the held sessions
}

func newFiller(ctx context.Context, n int) (*filler, error) {
	f := &filler{}
	for range n {
		c, err := migrate.Dial(ctx)
		if err != nil {
			f.close()
			return nil, err
		}
		ln, err := net.ListenTCP("tcp", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			c.Close()
			f.close()
			return nil, err
		}
		f.workers = append(f.workers, &worker{c: c, ln: ln})
	}
	return f, nil
}

func (f *filler) held() int64 { return f.count.Load() }

// fill makes sessions until n are held.
func (f *filler) fill(ctx context.Context, n int) error {
	todo := int64(n) - f.held()
	if todo <= 0 {
		return nil
	}
	var next atomic.Int64
	errs := make([]error, len(f.workers))
	var wg sync.WaitGroup
	for i, w := range f.workers {
		wg.Go(func() {
			for next.Add(1) <= todo {
				if err := w.one(ctx); err != nil {
					errs[i] = err
					next.Store(todo) // stop the others
					return
				}
				f.count.Add(1)
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// one makes one held session: dial, accept, register, suspend.
func (w *worker) one(ctx context.Context) error {
	cl, err := net.DialTCP("tcp", nil, w.ln.Addr().(*net.TCPAddr))
	if err != nil {
		return fmt.Errorf("dial %s: %w", w.ln.Addr(), err)
	}
	srv, err := w.ln.AcceptTCP()
	if err != nil {
		cl.Close()
		return fmt.Errorf("accept on %s: %w", w.ln.Addr(), err)
	}
	if err := w.suspend(ctx, srv); err != nil {
		srv.Close()
		cl.Close()
		return err
	}
	w.mu.Lock()
	w.client = append(w.client, cl)
	w.mu.Unlock()
	return nil
}

// suspend registers srv as a session and hands it to the supervisor as a
// complete continuation, which closes srv once committed.
func (w *worker) suspend(ctx context.Context, srv *net.TCPConn) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	sess, err := w.c.GetSession(ctx, srv, migrate.WithHandler(migrate.Complete))
	if err != nil {
		return fmt.Errorf("register session: %w", err)
	}
	_, err = sess.ReturnCont(ctx, migrate.Continuation{
		Kind:  migrate.Complete,
		Files: []migrate.File{{Conn: srv, Session: true}},
		Store: []migrate.Entry{{Key: "next", Value: []byte("1")}},
	})
	if err != nil {
		return fmt.Errorf("suspend session %d: %w", sess.ID(), err)
	}
	return nil
}

// close closes the clients' ends, the listeners and the control
// connections.
func (f *filler) close() {
	for _, w := range f.workers {
		w.mu.Lock()
		for _, cl := range w.client {
			cl.Close()
		}
		w.client = nil
		w.mu.Unlock()
		w.ln.Close()
		w.c.Close()
	}
}
