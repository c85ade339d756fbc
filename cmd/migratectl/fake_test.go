package main

import (
	"encoding/json"
	"net"
	"path/filepath"
	"sync"
	"testing"

	"github.com/migrate-run/migrate/proto"
)

// fakeSupervisor answers admin requests on a unixpacket socket the way a
// supervisor does — one AdminReply or Error per AdminRequest, with the
// request's id — from canned answers, and records what it was asked. It
// stands in for a supervisor whose operations do not exist yet, or whose
// documents a test wants exactly.
type fakeSupervisor struct {
	sock    string
	answers map[string]answer
	ln      *net.UnixListener
	wg      sync.WaitGroup

	mu    sync.Mutex
	asked []proto.AdminRequest
	conns map[*net.UnixConn]bool
}

// answer is the reply to a request: a document (marshalled to JSON unless
// it is a string, which is sent as it is) or an error.
type answer func(r *proto.AdminRequest) (doc any, err *proto.Error)

// doc answers every request with d.
func doc(d any) answer { return func(*proto.AdminRequest) (any, *proto.Error) { return d, nil } }

// fails answers every request with the Error code and message.
func fails(code proto.ErrorCode, msg string) answer {
	return func(*proto.AdminRequest) (any, *proto.Error) { return nil, &proto.Error{Code: code, Message: msg} }
}

// newFake listens in a temporary directory until the test ends; an op
// without an answer is refused as the supervisor refuses one it does not
// handle.
func newFake(t *testing.T, answers map[string]answer) *fakeSupervisor {
	t.Helper()
	f := &fakeSupervisor{sock: filepath.Join(t.TempDir(), "fake.sock"), answers: answers, conns: map[*net.UnixConn]bool{}}
	ln, err := net.ListenUnix("unixpacket", &net.UnixAddr{Name: f.sock, Net: "unixpacket"})
	if err != nil {
		t.Fatal(err)
	}
	f.ln = ln
	f.wg.Add(1)
	go f.accept()
	t.Cleanup(f.close)
	return f
}

// run runs migratectl against the fake.
func (f *fakeSupervisor) run(args ...string) (int, string, string) {
	return migratectl(append([]string{"--socket", f.sock}, args...)...)
}

// requests returns what the fake was asked so far, and forgets it.
func (f *fakeSupervisor) requests() []proto.AdminRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := f.asked
	f.asked = nil
	return out
}

func (f *fakeSupervisor) close() {
	f.ln.Close()
	f.mu.Lock()
	for c := range f.conns {
		c.Close()
	}
	f.mu.Unlock()
	f.wg.Wait()
}

func (f *fakeSupervisor) accept() {
	defer f.wg.Done()
	for {
		c, err := f.ln.AcceptUnix()
		if err != nil {
			return
		}
		f.mu.Lock()
		f.conns[c] = true
		f.mu.Unlock()
		f.wg.Add(1)
		go f.serve(c)
	}
}

// serve answers c's requests until it hangs up, then closes it.
func (f *fakeSupervisor) serve(c *net.UnixConn) {
	defer f.wg.Done()
	defer func() {
		f.mu.Lock()
		delete(f.conns, c)
		f.mu.Unlock()
		c.Close()
	}()
	buf := make([]byte, proto.MaxMessageSize)
	for {
		n, err := c.Read(buf)
		if err != nil || n == 0 {
			return
		}
		m, err := proto.Decode(buf[:n])
		if err != nil {
			return
		}
		rec, err := proto.Encode(proto.Message{ID: m.ID, Body: f.reply(m.Body)})
		if err != nil {
			return
		}
		if _, err := c.Write(rec); err != nil {
			return
		}
	}
}

// reply is the body that answers one request.
func (f *fakeSupervisor) reply(b proto.Body) proto.Body {
	r, ok := b.(*proto.AdminRequest)
	if !ok {
		return &proto.Error{Code: proto.CodeNotSupported, Message: "the fake answers AdminRequest only"}
	}
	f.mu.Lock()
	f.asked = append(f.asked, *r)
	f.mu.Unlock()
	a := f.answers[r.Op]
	if a == nil {
		return &proto.Error{Code: proto.CodeBadMessage, Message: `admin "` + r.Op + `": bad request`}
	}
	d, perr := a(r)
	if perr != nil {
		return perr
	}
	js, ok := d.(string)
	if !ok {
		b, err := json.Marshal(d)
		if err != nil {
			return &proto.Error{Code: proto.CodeInternal, Message: "encode reply: " + err.Error()}
		}
		js = string(b)
	}
	return &proto.AdminReply{JSON: []byte(js)}
}
