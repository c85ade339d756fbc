package proto

import (
	"encoding/binary"
	"strings"
)

// samples returns one message of every type with every field set, so that a
// round trip exercises every field.
func samples() []Message {
	slots := []Slot{
		{FD: 0, Name: "stdin", Role: RolePTY},
		{FD: 5, Name: "client", Role: RoleConn, Conn: true},
		{FD: 9, Name: "log", Role: RoleFile},
	}
	store := []Entry{
		{Key: "offset", Value: []byte{0, 1, 2, 255}, Exported: true},
		{Key: "user", Value: []byte("alice")},
	}
	tags := []CompatTag{{ID: 1, Name: "libssl", Value: "3.0"}, {ID: 0, Name: "kernel", Value: "6.18"}}
	return []Message{
		{ID: 1, Body: &Hello{Version: 1, PID: 4242, App: "echo", Client: "migrate-go/1"}},
		{ID: 1, Body: &HelloReply{Version: 1, App: "echo", PID: 4242, MaxStoreBytes: 1 << 20,
			MaxValueBytes: 1 << 16, DefaultExpirySec: 3600, MaxExpirySec: 86400}},
		{ID: 2, Body: &Ack{Value: 77}},
		{ID: SupervisorBit | 3, Body: &Error{Code: CodeExpired, Message: "continuation 9 expired at 12:00 ✓"}},
		{ID: 3, Body: &GetSession{FD: 0, Name: "ssh main", DependsOn: []uint64{4, 5}, Handler: KindComplete, Cont: 9}},
		{ID: 4, Body: &SessionClose{Session: 12}},
		{ID: SupervisorBit | 1, Body: &SuspendRequest{Session: 12, Reason: ReasonDisconnected, DeadlineMS: 2500, Detail: "peer gone"}},
		{ID: 5, Body: &ReturnCont{
			Session: 12, Request: SupervisorBit | 1, Kind: KindComplete,
			Slots: slots, Store: store, Compat: tags, ExpirySec: 600,
			Exec: &Exec{
				Args: []string{"/usr/sbin/sshd", "-D", "", "caf\xe9"}, Env: []string{"PATH=/bin", "EMPTY="},
				Cwd: "/var/empty", UID: 0, GID: 0, Groups: []uint32{0, 4, 27}, SigMask: 1<<(2-1) | 1<<(15-1),
				NoNewPrivileges: true, Rlimits: []Rlimit{{Type: "RLIMIT_NOFILE", Soft: 1024, Hard: 4096}, {Type: "RLIMIT_CORE"}},
			},
		}},
		{ID: 6, Body: &Store{Scope: Scope{Session: 12}, Key: "offset", Value: []byte{1, 2, 3}}},
		{ID: 7, Body: &Retrieve{Scope: Scope{Cont: 9}, Key: "offset"}},
		{ID: 7, Body: &RetrieveReply{Value: []byte{1, 2, 3}, Exported: true}},
		{ID: 8, Body: &StoreSize{Scope: Scope{Cont: 9}, Key: "offset"}},
		{ID: 9, Body: &Export{Scope: Scope{Session: 12}, Key: "offset"}},
		{ID: 10, Body: &Attach{}},
		{ID: SupervisorBit | 2, Body: &AttachSession{Cont: 9, Session: 12, Kind: KindInternal, PID: 4242,
			Name: "listener 3", Slots: slots, Store: store}},
		{ID: 11, Body: &Resumed{Cont: 9}},
		{ID: 12, Body: &CompatRegister{Version: "2.4.1", Tags: tags}},
		{ID: 13, Body: &CompatGet{Version: "2.4.1"}},
		{ID: 13, Body: &CompatReply{Version: "2.4.1", Tags: tags}},
		{ID: 14, Body: &AdminRequest{Op: AdminShow, App: "echo", Session: 12, Cont: 9, State: "suspended", Values: true, Since: 41,
			Exec: "/usr/local/bin/echo-v2", Version: "2.0"}},
		{ID: 14, Body: &AdminReply{JSON: []byte(`{"id":"9"}`)}},
		{ID: 15, Body: &AdminStartApp{Name: "echo", Args: []string{"echo-server", "-v"}, Env: []string{"PATH=/bin"},
			Cwd: "/srv", Listen: []string{"tcp://127.0.0.1:7000", "unix:/run/echo.sock"}, ExpirySec: 600,
			Options: []byte(`{"restart":{"policy":"on-failure"},"readiness":"notify"}`)}},
	}
}

// benchCont is a realistic complete continuation: 8 descriptors, a 4 KiB
// store in 16 entries, and an exec description.
func benchCont() Message {
	m := &ReturnCont{Session: 12, Request: SupervisorBit | 1, Kind: KindComplete, ExpirySec: 600}
	for i := range 8 {
		m.Slots = append(m.Slots, Slot{FD: int32(3 + i), Name: "fd" + string(rune('a'+i)), Role: RoleFile})
	}
	m.Slots[0].Role, m.Slots[0].Conn = RoleConn, true
	for i := range 16 {
		m.Store = append(m.Store, Entry{Key: "key-" + string(rune('a'+i)), Value: []byte(strings.Repeat("v", 256))})
	}
	m.Exec = &Exec{
		Args: []string{"/usr/bin/server", "--port", "8080", "--verbose"},
		Env:  []string{"PATH=/usr/bin:/bin", "HOME=/home/app", "LANG=C.UTF-8", "MIGRATE_APP=server"},
		Cwd:  "/srv", UID: 1000, GID: 1000, Groups: []uint32{1000, 27},
		Rlimits: []Rlimit{{Type: "RLIMIT_NOFILE", Soft: 1024, Hard: 4096}},
	}
	return Message{ID: 99, Body: m}
}

// The helpers below build records by hand, from the format as
// docs/protocol.md states it, independently of the encoder.

// field returns one TLV field.
func field(tag uint16, value []byte) []byte {
	b := binary.LittleEndian.AppendUint16(nil, tag)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(value)))
	return append(b, value...)
}

func u8v(v uint8) []byte   { return []byte{v} }
func u32v(v uint32) []byte { return binary.LittleEndian.AppendUint32(nil, v) }
func u64v(v uint64) []byte { return binary.LittleEndian.AppendUint64(nil, v) }

func cat(parts ...[]byte) []byte {
	var b []byte
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}

// record returns a header for (t, id, fds) followed by payload.
func record(t Type, id uint64, fds int, payload []byte) []byte {
	le := binary.LittleEndian
	b := []byte{'M', 'G', 1, byte(t)}
	b = le.AppendUint16(b, 0)
	b = le.AppendUint16(b, uint16(fds))
	b = le.AppendUint64(b, id)
	b = le.AppendUint32(b, uint32(len(payload)))
	b = le.AppendUint32(b, 0)
	return append(b, payload...)
}
