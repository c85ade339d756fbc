package supervisor

// STAND-IN until the notify receiver and fd store land; deleted on merge.

import (
	"errors"
	"time"

	"github.com/migrate-run/migrate/fdpass"
)

type notifyMsg struct {
	PID                    int
	UID, GID               uint32
	Ready, Reloading       bool
	Stopping               bool
	Status                 *string
	Errno                  *int
	MainPID                int
	Watchdog               bool
	WatchdogTrigger        bool
	WatchdogUSec           *uint64
	ExtendTimeoutUSec      *uint64
	MonotonicUSec          uint64
	FDStore, FDStoreRemove bool
	FDName                 string
	FDPoll                 *bool
	Barrier                bool
	Unknown                []string
	FDs                    []int
}

type notifySocket struct{ path string }

func listenNotify(path string) (*notifySocket, error)                 { return &notifySocket{path: path}, nil }
func (n *notifySocket) Path() string                                  { return n.path }
func (n *notifySocket) serve(handle func(notifyMsg), bad func(error)) {}
func (n *notifySocket) Close() error                                  { return nil }

type fdEntry struct {
	Name  string
	FD    int
	Desc  fdpass.Description
	Poll  bool
	Added time.Time
	Key   uint64
}

type fdStore struct{}

var errFDStoreFull = errors.New("fd store full")

func newFDStore(max int, onRemove func(fdEntry)) *fdStore                   { return &fdStore{} }
func (f *fdStore) add(name string, fds []int, poll bool) ([]fdEntry, error) { return nil, nil }
func (f *fdStore) remove(name string) []fdEntry                             { return nil }
func (f *fdStore) setKey(fd int, key uint64)                                {}
func (f *fdStore) entries() []fdEntry                                       { return nil }
func (f *fdStore) len() int                                                 { return 0 }
func (f *fdStore) close()                                                   {}
