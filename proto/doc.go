// Package proto is the control protocol between an app (the migrate library,
// or any client written from docs/protocol.md) and the supervisor: message
// types, framing, and their encoding. It does no I/O and holds no policy;
// package fdpass moves the records and their descriptors.
//
// # Basics
//
// The control channel is a SOCK_SEQPACKET unix socket: one record is one
// message, and the descriptors a message carries travel with its record
// (SCM_RIGHTS). A record is a fixed 24-byte header followed by the payload:
//
//	offset  size  field
//	0       2     magic "MG"
//	2       1     version (Version, 1)
//	3       1     type (Type)
//	4       2     flags (Flags)
//	6       2     declared descriptor count, at most MaxFDs (253)
//	8       8     request id (never 0; SupervisorBit marks the supervisor's)
//	16      4     payload length
//	20      4     reserved, zero
//
// All integers are little-endian. The payload is a sequence of fields, each
// a tag (u16), a length (u32) and that many bytes of value; a field may
// itself hold a field sequence. Fields come in any order; a receiver skips
// tags it does not know unless the tag has bit 0x8000 (critical) set. A
// record is at most MaxMessageSize bytes; a larger payload travels in a
// sealed memfd attached as the record's last descriptor (FlagPayloadMemfd,
// EncodeMemfd, DecodeMemfd).
//
// A Message is a request id and a Body, one of this package's message
// structs by pointer:
//
//	rec, err := proto.Encode(proto.Message{ID: 7, Body: &proto.Resumed{Cont: 42}})
//	...
//	m, err := proto.Decode(rec)
//	if r, ok := m.Body.(*proto.Resumed); ok { ... }
//
// A receiver first checks the descriptors that arrived against DeclaredFDs
// (it has the signature of fdpass.DeclaredCount), then decodes. Every error says what was wrong (a *FieldError names the
// field), and CodeOf maps it to the ErrorCode to answer with.
//
// Requests and replies are matched by id. Each side numbers its own requests
// on a connection 1, 2, 3, ...; the supervisor sets SupervisorBit on its
// ids, so the two spaces never collide. A reply (HelloReply, Ack, Error,
// RetrieveReply, CompatReply) carries its request's id.
//
// # Caveats
//
// Decode validates a message completely: framing, every field, the rules
// across fields (a complete continuation has an exec description, slots have
// distinct fd numbers, ...) and that the declared descriptor count matches
// the body. It does not check that the descriptors actually arrived, that
// the peer may send that type at all (Type.SentBy: an app sending
// AttachSession), nor anything that needs state (does the session exist,
// does it belong to the peer): that is the receiver's job. Encode applies
// the same rules, so anything it produces decodes.
//
// Claims in messages (Hello's pid and app name) are diagnostics: the
// supervisor identifies a peer by SO_PEERCRED and cgroup, never by them.
//
// Decoding allocates in proportion to its input: lengths are checked before
// any allocation and repeated fields are counted first and capped (MaxFDs
// slots, MaxItems for the rest). A decoded Message never aliases its input,
// so a receive buffer or a mapped memfd can be reused at once.
//
// Absent fields decode as zero values, and zero values are not sent, except
// for the few fields where zero means something (uid and gid 0, fd 0): those
// are required on the wire. Empty byte values decode as nil.
//
// The exec description of a complete continuation (Exec) carries the fields
// of a runtime-spec Process without importing runtime-spec; the supervisor
// converts.
package proto
