package supervisor

import "errors"

// Sentinel errors of the notify receiver and the fd store. They are
// package-internal: the supervisor logs them, no caller outside tests
// them. They live here rather than in errors.go only until the service
// runtime that uses them is wired in.
var (
	// errBadNotify is wrapped by every error about a dropped sd_notify
	// datagram: text that does not parse, a truncated payload or control
	// message, no sender credentials, a barrier without its one descriptor.
	errBadNotify = errors.New("malformed notify datagram")
	// errBadFDName is returned for a descriptor name systemd would not
	// accept (fdname_is_valid): empty, longer than 255 bytes, or with a
	// byte that is not printable ASCII, or a ':'.
	errBadFDName = errors.New("bad descriptor name")
	// errFDStoreFull is returned by fdStore.add when descriptors were
	// refused because the store held its maximum (FileDescriptorStoreMax).
	errFDStoreFull = errors.New("fd store full")
	// errFDStoreClosed is returned by fdStore.add after close.
	errFDStoreClosed = errors.New("fd store closed")
)
