//go:build linux

package migrate

import (
	"context"
	"fmt"
	"net"
	"os"
	"strconv"

	"github.com/migrate-run/migrate/proto"
)

// Attached is a suspended session the supervisor resumes into this running
// process (an Internal or System continuation), as the attach handler
// receives it.
type Attached struct {
	// Cont is the continuation being resumed.
	Cont uint64
	// Session is the session, live again (under a new id); its suspend
	// requests arrive on Session.Suspend once the handler returned nil.
	Session *Session
	// Kind is Internal or System.
	Kind Kind
	// PID is the process that suspended the session (as MIGRATE_PID).
	PID int
	// Files are the carried descriptors in slot order, close-on-exec. The
	// handler owns them once it returns nil; when it returns an error the
	// library closes them (and any net.Conn made by Conn).
	Files []AttachedFile
	// Store is the continuation's attribute/value store.
	Store []Entry

	conns []net.Conn // made by Conn, closed if the handler refuses
}

// AttachedFile is one descriptor of an attached session.
type AttachedFile struct {
	// File is the descriptor, at whatever number it arrived; nil after
	// Conn turned it into a net.Conn.
	File *os.File
	// Number is the descriptor's number in the process that suspended it.
	Number int
	// Name and Role are as the suspending process gave them; Session
	// marks the session's own connection.
	Name    string
	Role    Role
	Session bool
}

// Conn returns the session's own connection (the File with Session set) as
// a net.Conn, closing the *os.File it came from (net.FileConn works on a
// duplicate).
func (a *Attached) Conn() (net.Conn, error) {
	for i := range a.Files {
		f := &a.Files[i]
		if !f.Session || f.File == nil {
			continue
		}
		c, err := net.FileConn(f.File)
		if err != nil {
			return nil, fmt.Errorf("attach continuation %d: %w", a.Cont, err)
		}
		f.File.Close()
		f.File = nil
		a.conns = append(a.conns, c)
		return c, nil
	}
	return nil, fmt.Errorf("attach continuation %d: %w: no session connection among %d files", a.Cont, ErrInvalid, len(a.Files))
}

// Value returns the value of key in Store.
func (a *Attached) Value(key string) ([]byte, bool) {
	for _, e := range a.Store {
		if e.Key == key {
			return e.Value, true
		}
	}
	return nil, false
}

// release closes everything the attached session brought.
func (a *Attached) release() {
	for _, f := range a.Files {
		if f.File != nil {
			f.File.Close()
		}
	}
	for _, c := range a.conns {
		c.Close()
	}
}

// OnAttach registers fn as the app's attach handler (the paper's
// register_attach_handler): the supervisor resumes the app's Internal and
// System continuations by handing them to fn, each on a goroutine of its
// own. fn returns nil once it has taken the session over (the supervisor
// then drops its copies), or an error to refuse (the supervisor keeps the
// continuation, and the library closes what it received). Calling OnAttach
// again replaces fn.
func (c *Client) OnAttach(ctx context.Context, fn func(*Attached) error) error {
	if fn == nil {
		return fmt.Errorf("register attach handler: %w: nil handler", ErrInvalid)
	}
	c.mu.Lock()
	c.attach = fn
	done := c.attached
	c.mu.Unlock()
	if done {
		return nil
	}
	if _, err := c.callAck(ctx, "register attach handler", &proto.Attach{}, nil); err != nil {
		return err
	}
	c.mu.Lock()
	c.attached = true
	c.mu.Unlock()
	return nil
}

// attachRequested runs the attach handler for AttachSession id. It owns fds.
func (c *Client) attachRequested(id uint64, m *proto.AttachSession, fds []int) {
	c.mu.Lock()
	fn := c.attach
	c.mu.Unlock()
	if fn == nil {
		closeFDs(fds)
		c.rejectID(id, proto.CodeNotSupported, fmt.Errorf("no attach handler in this process"))
		return
	}
	a := &Attached{Cont: m.Cont, Kind: m.Kind, PID: int(m.PID), Store: m.Store,
		Session: c.newSession(m.Name, nil)}
	a.Session.id = m.Session
	for i, sl := range m.Slots {
		name := "attached-" + strconv.FormatUint(m.Cont, 10) + "-" + strconv.Itoa(int(sl.FD))
		a.Files = append(a.Files, AttachedFile{File: os.NewFile(uintptr(fds[i]), name),
			Number: int(sl.FD), Name: sl.Name, Role: sl.Role, Session: sl.Conn})
	}
	go c.runAttach(id, a, fn)
}

func (c *Client) runAttach(id uint64, a *Attached, fn func(*Attached) error) {
	if err := fn(a); err != nil {
		a.release()
		c.answer(id, &proto.Error{Code: proto.CodeBusy, Message: err.Error()})
		return
	}
	c.addSession(a.Session)
	c.answer(id, &proto.Ack{})
}
