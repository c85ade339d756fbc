//go:build linux

package main

import (
	"encoding/json"
	"syscall"

	"github.com/migrate-run/migrate"
	"github.com/migrate-run/migrate/examples/rshell/proxy"
)

// suspend answers req with the session's complete continuation: every
// descriptor of the session (the connection, at each number it has here;
// the pty master; the status pipe) and its state with what the proxy held.
// It reports whether the supervisor took the session; then this process
// exits, and the shell runs on.
func (s *server) suspend(req *migrate.SuspendRequest, p proxy.Pending, statusRead []byte) bool {
	st := s.st
	st.ToClient, st.FromClient, st.StatusRead = p.ToClient, p.FromClient, statusRead
	st.Suspends++
	value, err := json.Marshal(st)
	if err != nil { // a state of ints, strings and bytes always marshals
		panic(err)
	}
	cont, err := req.Return(migrate.Continuation{
		Kind:   migrate.Complete,
		Files:  s.files(),
		Store:  []migrate.Entry{{Key: storeKey, Value: value}},
		Compat: compatTags(),
	})
	if err != nil {
		s.log("suspend failed, serving on: %v", err)
		return false
	}
	s.log("suspended (cont %d): %d bytes held for the client, %d from it", cont, len(p.ToClient), len(p.FromClient))
	return true
}

// files are the session's descriptors: a fresh process gets each back at
// the number it has here.
func (s *server) files() []migrate.File {
	var files []migrate.File
	for _, f := range s.stdio {
		files = append(files, migrate.File{Conn: f, Name: f.Name(), Role: migrate.RoleConn})
	}
	return append(files,
		migrate.File{Conn: s.conn.(syscall.Conn), Name: "client", Role: migrate.RoleConn, Session: true},
		migrate.File{Conn: s.pty, Name: "ptmx", Role: migrate.RolePTY},
		migrate.File{Conn: s.status, Name: "shell status", Role: migrate.RolePipe},
	)
}
