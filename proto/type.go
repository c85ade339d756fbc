package proto

import "fmt"

// Type is the message type in byte 3 of the header. Types are numbered in
// groups of 16 with gaps, so a group can grow without renumbering:
//
//	0x01-0x0f  connection and generic replies
//	0x10-0x1f  sessions
//	0x20-0x2f  suspend
//	0x30-0x3f  attribute/value store
//	0x40-0x4f  attach and resume
//	0x50-0x5f  compatibility registry
//	0x60-0x7f  the admin API (migratectl, migrate-run): AdminRequest and friends
//	0x80-0xff  reserved
type Type uint8

// The message types of protocol version 1.
const (
	TypeHello          Type = 0x01
	TypeHelloReply     Type = 0x02
	TypeAck            Type = 0x08
	TypeError          Type = 0x09
	TypeGetSession     Type = 0x10
	TypeSessionClose   Type = 0x11
	TypeSuspendRequest Type = 0x20
	TypeReturnCont     Type = 0x21
	TypeStore          Type = 0x30
	TypeRetrieve       Type = 0x31
	TypeRetrieveReply  Type = 0x32
	TypeStoreSize      Type = 0x33
	TypeExport         Type = 0x34
	TypeAttach         Type = 0x40
	TypeAttachSession  Type = 0x41
	TypeResumed        Type = 0x42
	TypeCompatRegister Type = 0x50
	TypeCompatGet      Type = 0x51
	TypeCompatReply    Type = 0x52
	TypeAdminRequest   Type = 0x60
	TypeAdminReply     Type = 0x61
	TypeAdminStartApp  Type = 0x62
)

// Origin says who may send a message type, and so which id space its ID
// comes from.
type Origin uint8

const (
	// OriginApp: an app's request; its ID has SupervisorBit clear.
	OriginApp Origin = iota + 1
	// OriginSupervisor: the supervisor's request; its ID has SupervisorBit set.
	OriginSupervisor
	// OriginReply: a reply from either side; its ID is its request's.
	OriginReply
)

type typeInfo struct {
	name   string
	origin Origin
	body   func() Body
	// supervisorOnly marks the replies only the supervisor sends
	// (HelloReply, RetrieveReply, CompatReply); Ack and Error come from
	// either side.
	supervisorOnly bool
}

var types = map[Type]typeInfo{
	TypeHello:          {"Hello", OriginApp, func() Body { return new(Hello) }, false},
	TypeHelloReply:     {"HelloReply", OriginReply, func() Body { return new(HelloReply) }, true},
	TypeAck:            {"Ack", OriginReply, func() Body { return new(Ack) }, false},
	TypeError:          {"Error", OriginReply, func() Body { return new(Error) }, false},
	TypeGetSession:     {"GetSession", OriginApp, func() Body { return new(GetSession) }, false},
	TypeSessionClose:   {"SessionClose", OriginApp, func() Body { return new(SessionClose) }, false},
	TypeSuspendRequest: {"SuspendRequest", OriginSupervisor, func() Body { return new(SuspendRequest) }, false},
	TypeReturnCont:     {"ReturnCont", OriginApp, func() Body { return new(ReturnCont) }, false},
	TypeStore:          {"Store", OriginApp, func() Body { return new(Store) }, false},
	TypeRetrieve:       {"Retrieve", OriginApp, func() Body { return new(Retrieve) }, false},
	TypeRetrieveReply:  {"RetrieveReply", OriginReply, func() Body { return new(RetrieveReply) }, true},
	TypeStoreSize:      {"StoreSize", OriginApp, func() Body { return new(StoreSize) }, false},
	TypeExport:         {"Export", OriginApp, func() Body { return new(Export) }, false},
	TypeAttach:         {"Attach", OriginApp, func() Body { return new(Attach) }, false},
	TypeAttachSession:  {"AttachSession", OriginSupervisor, func() Body { return new(AttachSession) }, false},
	TypeResumed:        {"Resumed", OriginApp, func() Body { return new(Resumed) }, false},
	TypeCompatRegister: {"CompatRegister", OriginApp, func() Body { return new(CompatRegister) }, false},
	TypeCompatGet:      {"CompatGet", OriginApp, func() Body { return new(CompatGet) }, false},
	TypeCompatReply:    {"CompatReply", OriginReply, func() Body { return new(CompatReply) }, true},
	TypeAdminRequest:   {"AdminRequest", OriginApp, func() Body { return new(AdminRequest) }, false},
	TypeAdminReply:     {"AdminReply", OriginReply, func() Body { return new(AdminReply) }, true},
	TypeAdminStartApp:  {"AdminStartApp", OriginApp, func() Body { return new(AdminStartApp) }, false},
}

// Types returns every message type of this version, in numeric order.
func Types() []Type {
	var ts []Type
	for t := Type(1); t != 0; t++ {
		if _, ok := types[t]; ok {
			ts = append(ts, t)
		}
	}
	return ts
}

// String returns the type's name, such as "ReturnCont", or "Type(0x7f)".
func (t Type) String() string {
	if info, ok := types[t]; ok {
		return info.name
	}
	return fmt.Sprintf("Type(%#02x)", uint8(t))
}

// Known reports whether t is a type of this version.
func (t Type) Known() bool {
	_, ok := types[t]
	return ok
}

// Origin returns who may send t; 0 for an unknown type.
func (t Type) Origin() Origin { return types[t].origin }

// SentBy reports whether side (OriginApp or OriginSupervisor) may send
// messages of type t. Decode cannot know which side sent a record; a receiver
// rejects a message its peer may not send (an app sending AttachSession) as
// CodeBadMessage.
func (t Type) SentBy(side Origin) bool {
	info, ok := types[t]
	switch {
	case !ok || side != OriginApp && side != OriginSupervisor:
		return false
	case info.origin == OriginReply:
		return side == OriginSupervisor || !info.supervisorOnly
	}
	return info.origin == side
}

// checkID reports whether id may label a message of type t.
func (t Type) checkID(id uint64) error {
	switch t.Origin() {
	case OriginApp:
		if FromSupervisor(id) {
			return fmt.Errorf("%w: app request %v has supervisor id %#x", ErrBadID, t, id)
		}
	case OriginSupervisor:
		if !FromSupervisor(id) {
			return fmt.Errorf("%w: supervisor request %v has app id %#x", ErrBadID, t, id)
		}
	}
	return nil
}
