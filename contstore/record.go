package contstore

import (
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/migrate-run/migrate/fdpass"
)

// Continuation is the stored record that resumes a session. It holds no
// descriptor: the supervisor holds them, and Slots say which held descriptor
// restores which original descriptor number.
//
// Put fills ID, Created, Changed, FDsBefore, StoreRawBytes and
// StoreCompressedBytes; Transition updates State and Changed. Times come
// back in UTC.
type Continuation struct {
	// ID is the record's key; Put assigns the next one when it is 0. The
	// stored value leaves it out: it is the key.
	ID ID `json:"id,omitzero"`
	// App is the name of the app (service) the session belongs to.
	App string `json:"app"`
	// Session is the session this continuation resumes; Put requires a
	// stored session of the same App.
	Session SessionID `json:"session"`
	// Kind says how the continuation is resumed.
	Kind Kind `json:"kind"`
	// State is where the continuation is; Put accepts suspending and
	// suspended, Transition moves it.
	State State `json:"state"`
	// Created is when the continuation was made; Put sets it to now when
	// zero. It must lie between 1970 and 2262 (the expiry index's range).
	Created time.Time `json:"created"`
	// Changed is when State last changed; set by Put (to Created) and by
	// Transition.
	Changed time.Time `json:"changed"`
	// Expires is when the garbage collector may expire the continuation; zero
	// means never. It must be after Created.
	Expires time.Time `json:"expires,omitzero"`
	// OldPID is the pid of the process that suspended, given to a resumed
	// process as MIGRATE_PID; 0 when unknown.
	OldPID int `json:"oldPid,omitempty"`
	// Exec is how to start the fresh process: set for KindComplete, nil for
	// the other kinds.
	Exec *specs.Process `json:"exec,omitempty"`
	// SigMask is the signal mask to restore before execve, bit n-1 for signal
	// n (the kernel's sigset_t layout).
	SigMask uint64 `json:"sigMask,omitempty"`
	// Slots are the descriptors the session needs, one per descriptor the
	// app handed over, in the order it handed them.
	Slots []Slot `json:"slots,omitempty"`
	// Store is the app's attribute/value store, zstd-compressed at rest.
	Store []Entry `json:"store,omitempty"`
	// Compat is the compatibility vector the app exported with the
	// continuation (the paper's compat_store).
	Compat []Tag `json:"compat,omitempty"`
	// DependsOn are the ids of sessions this one depends on: suspending any
	// of them suspends this one. They are not required to exist.
	DependsOn []SessionID `json:"dependsOn,omitempty"`
	// FDsBefore is the number of descriptors the app handed over
	// (len(Slots)); set by Put.
	FDsBefore int `json:"fdsBefore,omitempty"`
	// FDsAfter is the number of descriptors the supervisor holds for this
	// continuation after collapsing duplicates. Held indices of Slots range
	// over [0, FDsAfter) and each of them is used.
	FDsAfter int `json:"fdsAfter,omitempty"`
	// StoreRawBytes is the size of the serialized store before compression;
	// set by Put and Get.
	StoreRawBytes int `json:"storeRawBytes,omitempty"`
	// StoreCompressedBytes is the size the store takes at rest; set by Put
	// and Get.
	StoreCompressedBytes int `json:"storeCompressedBytes,omitempty"`
	// Note says why the continuation was made or changed, for people
	// ("client vanished", "upgrade to 2.1").
	Note string `json:"note,omitempty"`
}

// Slot is one descriptor of the suspended session.
type Slot struct {
	// Name is the descriptor's name for the app, e.g. a LISTEN_FDNAMES entry.
	Name string `json:"name,omitempty"`
	// Role says what the descriptor is to the session, e.g. "conn",
	// "listener", "stdin", "log".
	Role string `json:"role,omitempty"`
	// Number is the descriptor number the app had it at; on resume the
	// descriptor is restored at the same number. Numbers are unique within a
	// continuation.
	Number int `json:"number"`
	// Desc is what the descriptor referred to when it was handed over.
	Desc fdpass.Description `json:"desc"`
	// Held is the index, among the descriptors the supervisor holds for this
	// continuation, of the one whose duplicate restores this slot. -1 means
	// no held descriptor restores it, which only a network socket may be
	// (the paper's resource continuation releases it and the resume path
	// re-creates it); every other resource keeps at least one held
	// descriptor.
	Held int `json:"held"`
}

// Entry is one attribute/value pair of the app's store.
type Entry struct {
	// Key is unique within a store and not empty.
	Key string `json:"key"`
	// Value is the app's bytes, uninterpreted.
	Value []byte `json:"value"`
	// Exported marks an entry the app exported to peers (the paper's
	// Export); the store keeps the flag, the supervisor acts on it.
	Exported bool `json:"exported,omitempty"`
}

// Tag is one compatibility requirement <id, name, value> (paper §V-A).
type Tag struct {
	ID    uint32 `json:"id"`
	Name  string `json:"name"`
	Value string `json:"value"`
}
