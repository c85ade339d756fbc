package main

import (
	"github.com/migrate-run/migrate/contstore"
	"github.com/migrate-run/migrate/fdpass"
	"github.com/migrate-run/migrate/supervisor"
)

// The documents migratectl builds from the store have the supervisor's
// shapes (supervisor/adminjson.go), so --json reads the same either way;
// fields only a running supervisor knows are absent.

// contInfo is supervisor.ContInfo of a stored record, as list shows it.
func contInfo(c contstore.Continuation) supervisor.ContInfo {
	return supervisor.ContInfo{ID: c.ID, App: c.App, Session: c.Session, Kind: c.Kind, State: c.State, OldPID: c.OldPID,
		Created: c.Created, Expires: c.Expires, Note: c.Note, FDsBefore: c.FDsBefore, FDsAfter: c.FDsAfter,
		StoreRawBytes: c.StoreRawBytes, StoreCompressedBytes: c.StoreCompressedBytes}
}

// showInfo is contInfo with slots, store, compat tags and exec, as show
// prints it. No supervisor holds a descriptor: every slot's HeldFD is -1
// and Held is empty.
func showInfo(c contstore.Continuation, values bool) supervisor.ContInfo {
	ci := contInfo(c)
	for _, sl := range c.Slots {
		ci.Slots = append(ci.Slots, supervisor.SlotInfo{Number: sl.Number, Name: sl.Name, Role: sl.Role,
			Held: sl.Held, HeldFD: -1, Desc: sl.Desc})
	}
	for _, e := range c.Store {
		ei := supervisor.EntryInfo{Key: e.Key, Size: len(e.Value), Exported: e.Exported}
		if values {
			ei.Value = e.Value
		}
		ci.Store = append(ci.Store, ei)
	}
	ci.Compat = c.Compat
	if p := c.Exec; p != nil {
		ci.Exec = &supervisor.ExecInfo{Args: p.Args, Cwd: p.Cwd, UID: p.User.UID, GID: p.User.GID}
		if values { // the environment may hold secrets, as the store may
			ci.Exec.Env = p.Env
		}
	}
	return ci
}

// storedSession is supervisor.SessionInfo as the store records it: name,
// process, handler and continuation are the running supervisor's.
type storedSession struct {
	ID        contstore.SessionID   `json:"id"`
	App       string                `json:"app"`
	State     string                `json:"state"`
	DependsOn []contstore.SessionID `json:"dependsOn,omitempty"`
	Conn      fdpass.Description    `json:"conn"`
}

// storedStats is supervisor.Stats less the running supervisor's apps,
// sessions, held descriptors and open descriptors.
type storedStats struct {
	Continuations        int                     `json:"continuations"`
	ByState              map[contstore.State]int `json:"byState"`
	StoreFileBytes       int64                   `json:"storeFileBytes"`
	StoreRawBytes        int64                   `json:"storeRawBytes"`
	StoreCompressedBytes int64                   `json:"storeCompressedBytes"`
}

// unknown is how a table shows what only a running supervisor knows.
const unknown = "unknown (no supervisor)"

// knownOr is s, or unknown when the answer came from the store.
func (c *cli) knownOr(s string) string {
	if c.readStore {
		return unknown
	}
	return s
}
