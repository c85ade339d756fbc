package supervisor

import (
	"time"

	"github.com/migrate-run/migrate/contstore"
	"github.com/migrate-run/migrate/fdpass"
)

// The documents of the admin API (docs/protocol.md, "Admin documents").
// Ids are contstore's, which JSON carries as decimal strings.

// AppInfo describes an app (a service): what it is, where its run stands
// and what the supervisor holds for it. Usage is filled by status only.
type AppInfo struct {
	Name string `json:"name"`
	// State is one of the Service* states (inactive, starting, running,
	// reloading, stopping, restarting, exited, failed, stopped).
	State string `json:"state"`
	// Result says why a service is failed or exited: exit-code, signal,
	// watchdog, timeout, start-limit, spawn; "" while it runs.
	Result string `json:"result,omitempty"`
	// StatusText is the last STATUS= the service sent; Errno its ERRNO=.
	StatusText string `json:"statusText,omitempty"`
	Errno      int    `json:"errno,omitempty"`
	// Ready is true once the service is ready: at exec, or at READY=1
	// with readiness notify.
	Ready bool `json:"ready"`
	// File is the service file it was read from ("" for an app started by
	// migrate-run or the API).
	File string `json:"file,omitempty"`
	// Restart is the restart policy; Restarts counts the restarts since
	// the service was started by an operator or the daemon; NextStart is
	// when a pending restart happens.
	Restart   string    `json:"restart"`
	Restarts  int       `json:"restarts"`
	NextStart time.Time `json:"nextStart,omitzero"`
	// PID is the main process's (MAINPID= may change it), Started when it
	// started.
	PID       int           `json:"pid,omitempty"`
	Started   time.Time     `json:"started,omitzero"`
	Exit      *ExitStatus   `json:"exit,omitempty"`
	Cgroup    string        `json:"cgroup"`
	Processes []int         `json:"processes"`
	Listen    []ListenInfo  `json:"listen,omitempty"`
	FDStore   []FDStoreInfo `json:"fdStore,omitempty"`
	Usage     *Usage        `json:"usage,omitempty"`
	Sessions  int           `json:"sessions"`
	Suspended int           `json:"suspended"`
	Done      bool          `json:"done"`
}

// ListenInfo describes a socket the supervisor holds for a service.
// Connections, Accepted and Refused count the connections of an accept
// socket: open now, handed to a process so far, and closed at once because
// MaxConnections were open.
type ListenInfo struct {
	Address        string `json:"address"`
	Name           string `json:"name"`
	Accept         bool   `json:"accept,omitempty"`
	MaxConnections int    `json:"maxConnections,omitempty"`
	Connections    int    `json:"connections,omitempty"`
	Accepted       uint64 `json:"accepted,omitempty"`
	Refused        uint64 `json:"refused,omitempty"`
}

// FDStoreInfo describes a descriptor in a service's fd store, held as the
// system continuation Cont.
type FDStoreInfo struct {
	Name  string             `json:"name"`
	Cont  contstore.ID       `json:"cont,omitempty"`
	Added time.Time          `json:"added"`
	Desc  fdpass.Description `json:"desc"`
}

// Usage is what a service's cgroup uses; a limit of 0 means none, and a
// field the hierarchy does not offer is 0.
type Usage struct {
	MemoryBytes uint64        `json:"memoryBytes"`
	MemoryMax   uint64        `json:"memoryMax,omitempty"`
	MemoryPeak  uint64        `json:"memoryPeak,omitempty"`
	CPU         time.Duration `json:"cpuNs"`
	Tasks       uint64        `json:"tasks"`
	TasksMax    uint64        `json:"tasksMax,omitempty"`
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
