// Package fdpass moves descriptors between processes, describes them and
// plans their collapse. It keeps no state and imports no other package of
// ours; proto and contstore use its plain data types (Description, Kind).
//
// # Basics
//
// A control connection is an AF_UNIX SOCK_SEQPACKET socket: a message is
// one record, and the descriptors sent with it arrive with it. SocketPair
// makes a connected pair as *net.UnixConn, so the Go netpoller, deadlines
// and goroutines work. Send writes a payload and up to MaxFDs descriptors;
// Recv reads one message and checks the descriptors that arrived against
// the count the payload declares, which a function supplied by the protocol
// layer reads:
//
//	sender                              receiver
//	  |  sendmsg(payload, SCM_RIGHTS[n])   |
//	  |----------------------------------->|  recvmsg(MSG_CMSG_CLOEXEC,
//	  |                                    |          control for max fds)
//	  |                                    |  MSG_CTRUNC / MSG_TRUNC?    -> close all, ErrTruncated
//	  |                                    |  0 bytes, no fds?           -> ErrClosed
//	  |                                    |  declared(payload) != n?    -> close all, ErrCountMismatch
//	  |                                    |  otherwise: payload, fds (caller owns them)
//
// Every descriptor Recv returns is close-on-exec and the caller's; on any
// error, every descriptor that arrived has been closed. PeerCred returns
// the kernel's credentials of the other end (SO_PEERCRED), the only
// identity the supervisor trusts.
//
// Describe tells what a descriptor refers to (a TCP or unix socket, a pty
// master or slave, a regular file with its offset, a pipe, a memfd, ...)
// from fstat, /proc/self/fd, /proc/self/fdinfo, getsockopt and ioctl
// queries, without changing it. SameFile tells whether two descriptors
// share one open file description (kcmp).
//
// Collapse turns the descriptors of one continuation into a Plan: one held
// descriptor per resource (a resource is an open file description, or one
// terminal opened several times), and for every original slot the held
// descriptor that restores it by dup at resume. Plan.Redundant lists the
// descriptors the supervisor may close. This is the paper's resource
// continuation: an SSH session's 8 descriptors hold as 3.
//
// State too large for one message travels as a memfd: NewSealedMemfd
// writes and seals one, ReadSealedMemfd checks the seals before it trusts
// the content.
//
// # Caveats
//
// At most 253 descriptors (the kernel's SCM_MAX_FD) travel in one message;
// Send refuses more before any syscall.
//
// Recv sizes the control buffer for exactly the limit its caller gives. If
// the peer sends more, the kernel installs what fits, drops the rest and
// sets MSG_CTRUNC; Recv closes what arrived and returns ErrTruncated. The
// same happens if the receiving socket has SO_PASSCRED set, since the
// credentials message takes control space: use PeerCred instead.
//
// A zero-length SOCK_SEQPACKET record without descriptors cannot be told
// from end of stream, so Send refuses an empty payload and Recv reports
// one as ErrClosed.
//
// Never call Fd on a *net.UnixConn or an *os.File wrapping a socket that
// other processes share: it switches the open file description to blocking
// mode for every holder (golang/go#43894). fdpass reaches descriptors only
// through SyscallConn.
//
// SameFile uses kcmp(2), which needs CONFIG_CHECKPOINT_RESTORE and is
// refused by some seccomp profiles; comparing across processes would also
// need ptrace-read permission over both, which is why fdpass only compares
// its own descriptors. Without kcmp it falls back to comparing inode,
// status flags and fdinfo: two separate opens of one file with equal flags
// and offsets then look like one open file description. With the fallback,
// Collapse may therefore merge two opens of one file that were at the same
// offset.
//
// Collapse trusts each Slot's Description for the kind and device number
// (it checks they are of the slot's descriptor). Terminals merge across
// opens only with equal status flags. It keeps one descriptor for every
// resource, network or not; dropping network descriptors for separate-host
// migration is the caller's decision.
package fdpass
