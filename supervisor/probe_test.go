package supervisor

import (
	"encoding/binary"
	"os"
	"strconv"

	"github.com/migrate-run/migrate/proto"
)

// probeOne sends one probe and returns the reply's error code and message,
// 0 and "" for a success reply.
func (a *testApp) probeOne(name string, v uint64) (int, string) {
	var body proto.Body
	fds := []int(nil)
	switch name {
	case "retrieve":
		body = &proto.Retrieve{Scope: proto.Scope{Cont: v}, Key: "next"}
	case "store":
		body = &proto.Store{Scope: proto.Scope{Session: v}, Key: "next", Value: []byte("999")}
	case "resumed":
		body = &proto.Resumed{Cont: v}
	case "close":
		body = &proto.SessionClose{Session: v}
	case "returncont":
		body = &proto.ReturnCont{Session: v, Kind: proto.KindSystem, Slots: []proto.Slot{{FD: 0, Role: proto.RoleFile}}}
		fds = []int{0}
	case "getsession-cont":
		body, fds = &proto.GetSession{FD: 0, Cont: v}, []int{0}
	case "admin":
		body = &proto.AdminRequest{Op: proto.AdminStats}
	case "compatreg":
		body = &proto.CompatRegister{Version: strconv.FormatUint(v, 10), Tags: []proto.CompatTag{{ID: 1, Name: "libssl", Value: "3.0"}}}
	case "compatget":
		m := a.call(&proto.CompatGet{Version: strconv.FormatUint(v, 10)}, nil)
		if r, ok := m.Body.(*proto.CompatReply); ok && (len(r.Tags) != 1 || r.Tags[0].Value != "3.0") {
			return -1, "" // a reply, but not the vector registered
		}
		return errorOfReply(m)
	default:
		return a.probeRaw(name)
	}
	return errorOfReply(a.call(body, fds))
}

func codeOfReply(m proto.Message) int {
	code, _ := errorOfReply(m)
	return code
}

func errorOfReply(m proto.Message) (int, string) {
	if e, ok := m.Body.(*proto.Error); ok {
		return int(e.Code), e.Message
	}
	return 0, ""
}

// probeRaw sends a record the encoder would refuse to make and returns the
// code and message of the Error that answers it.
func (a *testApp) probeRaw(name string) (int, string) {
	a.mu.Lock()
	a.next++
	id := a.next
	ch := make(chan proto.Message, 1)
	a.pending[id] = ch
	a.mu.Unlock()
	fds := []int(nil)
	var rec []byte
	switch name {
	case "badversion":
		rec = rawRecord(9, proto.TypeResumed, 0, id, field(1, u64le(1)))
	case "fdmismatch": // GetSession declares its descriptor, none travels
		rec = rawRecord(1, proto.TypeGetSession, 1, id, field(1, []byte{0, 0, 0, 0}))
	case "extrafd": // Resumed declares none, one travels
		rec, fds = rawRecord(1, proto.TypeResumed, 0, id, field(1, u64le(1))), []int{0}
	case "twofds": // GetSession with two descriptors, declared
		rec, fds = rawRecord(1, proto.TypeGetSession, 2, id, field(1, []byte{0, 0, 0, 0})), []int{0, 1}
	case "attachsession": // a supervisor-only type from an app
		rec = rawRecord(1, proto.TypeAttachSession, 0, id, nil)
	case "unknowntype":
		rec = rawRecord(1, proto.Type(0x7e), 0, id, nil)
	case "zerocont": // Resumed of continuation 0
		rec = rawRecord(1, proto.TypeResumed, 0, id, field(1, u64le(0)))
	case "truncated": // a field running past the payload
		rec = rawRecord(1, proto.TypeResumed, 0, id, field(1, u64le(1))[:8])
	default:
		report("error unknown probe %s", name)
		os.Exit(2)
	}
	a.sendRaw(rec, fds)
	return errorOfReply(a.await(ch))
}

func rawRecord(version uint8, t proto.Type, nfds uint16, id uint64, payload []byte) []byte {
	le := binary.LittleEndian
	b := []byte{'M', 'G', version, byte(t), 0, 0}
	b = le.AppendUint16(b, nfds)
	b = le.AppendUint64(b, id)
	b = le.AppendUint32(b, uint32(len(payload)))
	b = le.AppendUint32(b, 0)
	return append(b, payload...)
}

func field(tag uint16, v []byte) []byte {
	b := binary.LittleEndian.AppendUint16(nil, tag)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(v)))
	return append(b, v...)
}

func u64le(v uint64) []byte { return binary.LittleEndian.AppendUint64(nil, v) }
