package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"

	"github.com/migrate-run/migrate/contstore"
	"github.com/migrate-run/migrate/proto"
	"github.com/migrate-run/migrate/supervisor"
)

// With no supervisor on the socket, the inspection commands read the store
// itself, read-only (a shared lock: it fails beside a running writer). They
// print the supervisor's documents with what only a running supervisor
// knows — its apps, live sessions' processes, held descriptors, its own
// descriptors — left out rather than made up.

// noSupervisorError is a socket nobody listens on (no such file, or
// connection refused): the supervisor is not running.
type noSupervisorError struct{ socket string }

func (e noSupervisorError) Error() string {
	return fmt.Sprintf("no supervisor at %s (is migrated or migrate-run running?)", e.socket)
}

// readsStore reports whether op can be answered from the store.
func readsStore(op string) bool {
	switch op {
	case proto.AdminConts, proto.AdminShow, proto.AdminSessions, proto.AdminStats:
		return true
	}
	return false
}

// storePath is the continuation store in --state-dir.
func (c *cli) storePath() string { return filepath.Join(c.stateDir, supervisor.StoreFile) }

// fromStore answers req from the store read-only, says so on stderr, and
// returns the document the supervisor would have sent, less what only it
// knows.
func (c *cli) fromStore(req *proto.AdminRequest, op, object string) ([]byte, error) {
	path := c.storePath()
	st, err := contstore.Open(path, contstore.Options{ReadOnly: true, Timeout: -1})
	if err != nil {
		return nil, c.storeOpenError(path, err)
	}
	defer st.Close()
	fmt.Fprintf(c.stderr, "migratectl: no supervisor at %s; read from the store %s (read-only)\n", c.socket, path)
	c.readStore = true
	doc, err := storeDoc(st, req)
	if errors.Is(err, contstore.ErrNotFound) {
		return nil, fmt.Errorf("%s not found", object)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	return json.Marshal(doc)
}

// storeOpenError says why the store could not be read in the supervisor's
// absence.
func (c *cli) storeOpenError(path string, err error) error {
	var le *contstore.LockedError
	switch {
	case errors.As(err, &le):
		return fmt.Errorf("the store %s is %s but its socket %s does not answer", path, le, c.socket)
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("no supervisor at %s and no store at %s (see --socket and --state-dir)", c.socket, path)
	}
	return fmt.Errorf("no supervisor at %s, and the store cannot be read: %w", c.socket, err)
}

// storeDoc builds the document of the reply to req from st.
func storeDoc(st *contstore.Store, req *proto.AdminRequest) (any, error) {
	switch req.Op {
	case proto.AdminConts:
		list, err := st.List(contstore.Filter{App: req.App, State: contstore.State(req.State), SkipStore: true})
		if err != nil {
			return nil, err
		}
		out := make([]supervisor.ContInfo, 0, len(list))
		for _, rec := range list {
			out = append(out, contInfo(rec))
		}
		return map[string]any{"continuations": out}, nil
	case proto.AdminShow:
		rec, err := st.Get(contstore.ID(req.Cont))
		if err != nil {
			return nil, err
		}
		return map[string]any{"continuation": showInfo(rec, req.Values)}, nil
	case proto.AdminSessions:
		list, err := st.ListSessions(req.App)
		if err != nil {
			return nil, err
		}
		out := make([]storedSession, 0, len(list))
		for _, s := range list {
			out = append(out, storedSession{ID: s.ID, App: s.App, State: string(s.State), DependsOn: s.DependsOn, Conn: s.Conn})
		}
		return map[string]any{"sessions": out}, nil
	case proto.AdminStats:
		s, err := st.Stats()
		if err != nil {
			return nil, err
		}
		return storedStats{Continuations: s.Continuations, ByState: s.ByState, StoreFileBytes: s.FileBytes,
			StoreRawBytes: s.StoreRawBytes, StoreCompressedBytes: s.StoreCompressedBytes}, nil
	}
	return nil, fmt.Errorf("admin %q needs a running supervisor", req.Op)
}
