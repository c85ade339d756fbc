package supervisor

import (
	"time"

	"github.com/migrate-run/migrate/contstore"
	"github.com/migrate-run/migrate/fdpass"
)

// The documents of the admin API (docs/protocol.md, "Admin documents").
// Ids are contstore's, which JSON carries as decimal strings.

// AppInfo describes an app.
type AppInfo struct {
	Name      string      `json:"name"`
	State     string      `json:"state"` // running, exited, stopped
	PID       int         `json:"pid,omitempty"`
	Started   time.Time   `json:"started,omitzero"`
	Exit      *ExitStatus `json:"exit,omitempty"`
	Cgroup    string      `json:"cgroup"`
	Processes []int       `json:"processes"`
	Listen    []string    `json:"listen,omitempty"`
	Sessions  int         `json:"sessions"`
	Suspended int         `json:"suspended"`
	Done      bool        `json:"done"`
}

// SessionInfo describes a live session.
type SessionInfo struct {
	ID        contstore.SessionID   `json:"id"`
	App       string                `json:"app"`
	Name      string                `json:"name,omitempty"`
	State     string                `json:"state"`
	PID       int                   `json:"pid,omitempty"`
	Handler   string                `json:"handler"`
	DependsOn []contstore.SessionID `json:"dependsOn,omitempty"`
	Cont      contstore.ID          `json:"cont,omitempty"`
	Conn      fdpass.Description    `json:"conn"`
}

// ContInfo describes a continuation; Slots, Store, Compat, Exec and Held
// are filled by show only.
type ContInfo struct {
	ID                   contstore.ID        `json:"id"`
	App                  string              `json:"app"`
	Session              contstore.SessionID `json:"session"`
	Kind                 contstore.Kind      `json:"kind"`
	State                contstore.State     `json:"state"`
	OldPID               int                 `json:"oldPid,omitempty"`
	Created              time.Time           `json:"created"`
	Expires              time.Time           `json:"expires,omitzero"`
	Note                 string              `json:"note,omitempty"`
	FDsBefore            int                 `json:"fdsBefore"`
	FDsAfter             int                 `json:"fdsAfter"`
	StoreRawBytes        int                 `json:"storeRawBytes"`
	StoreCompressedBytes int                 `json:"storeCompressedBytes"`
	Slots                []SlotInfo          `json:"slots,omitempty"`
	Store                []EntryInfo         `json:"store,omitempty"`
	Compat               []contstore.Tag     `json:"compat,omitempty"`
	Exec                 *ExecInfo           `json:"exec,omitempty"`
	Held                 []int               `json:"held,omitempty"`
}

// SlotInfo is one slot of a continuation: HeldFD is the supervisor's
// descriptor that restores it, -1 when none is held (any more).
type SlotInfo struct {
	Number int                `json:"number"`
	Name   string             `json:"name,omitempty"`
	Role   string             `json:"role"`
	Held   int                `json:"held"`
	HeldFD int                `json:"heldFd"`
	Desc   fdpass.Description `json:"desc"`
}

// EntryInfo is one store entry; Value only when asked for.
type EntryInfo struct {
	Key      string `json:"key"`
	Size     int    `json:"size"`
	Exported bool   `json:"exported,omitempty"`
	Value    []byte `json:"value,omitempty"`
}

// ExecInfo is the exec description of a complete continuation; Env only
// when values are asked for.
type ExecInfo struct {
	Args []string `json:"args"`
	Env  []string `json:"env,omitempty"`
	Cwd  string   `json:"cwd"`
	UID  uint32   `json:"uid"`
	GID  uint32   `json:"gid"`
}

// Stats is the supervisor's accounting.
type Stats struct {
	Apps                 int                     `json:"apps"`
	Sessions             int                     `json:"sessions"`
	Continuations        int                     `json:"continuations"`
	ByState              map[contstore.State]int `json:"byState"`
	HeldBefore           int                     `json:"heldBefore"`
	HeldAfter            int                     `json:"heldAfter"`
	StoreFileBytes       int64                   `json:"storeFileBytes"`
	StoreRawBytes        int64                   `json:"storeRawBytes"`
	StoreCompressedBytes int64                   `json:"storeCompressedBytes"`
	OpenFDs              int                     `json:"openFds"`
}

func contInfo(c contstore.Continuation) ContInfo {
	return ContInfo{ID: c.ID, App: c.App, Session: c.Session, Kind: c.Kind, State: c.State, OldPID: c.OldPID,
		Created: c.Created, Expires: c.Expires, Note: c.Note, FDsBefore: c.FDsBefore, FDsAfter: c.FDsAfter,
		StoreRawBytes: c.StoreRawBytes, StoreCompressedBytes: c.StoreCompressedBytes}
}

// showInfo is contInfo with everything; held are the supervisor's
// descriptors for it (nil when not held).
func showInfo(c contstore.Continuation, held []int, values bool) ContInfo {
	ci := contInfo(c)
	for _, sl := range c.Slots {
		fd := -1
		if sl.Held >= 0 && sl.Held < len(held) {
			fd = held[sl.Held]
		}
		ci.Slots = append(ci.Slots, SlotInfo{Number: sl.Number, Name: sl.Name, Role: sl.Role, Held: sl.Held, HeldFD: fd, Desc: sl.Desc})
	}
	for _, e := range c.Store {
		ei := EntryInfo{Key: e.Key, Size: len(e.Value), Exported: e.Exported}
		if values {
			ei.Value = e.Value
		}
		ci.Store = append(ci.Store, ei)
	}
	ci.Compat = c.Compat
	if p := c.Exec; p != nil {
		ci.Exec = &ExecInfo{Args: p.Args, Cwd: p.Cwd, UID: p.User.UID, GID: p.User.GID}
		if values { // the environment may hold secrets, as the store may
			ci.Exec.Env = p.Env
		}
	}
	ci.Held = held
	return ci
}
