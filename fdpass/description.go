package fdpass

// Kind says what sort of kernel object a descriptor refers to.
type Kind string

// The kinds Describe tells apart.
const (
	KindTCP         Kind = "tcp"        // TCP socket (IPv4 or IPv6)
	KindUDP         Kind = "udp"        // UDP socket (IPv4 or IPv6)
	KindUnix        Kind = "unix"       // AF_UNIX socket of any type
	KindSocket      Kind = "socket"     // any other socket (netlink, packet, raw IP, ...)
	KindPTYMaster   Kind = "pty-master" // the master side of a pseudo-terminal (/dev/ptmx, /dev/pts/ptmx)
	KindPTYSlave    Kind = "pty-slave"  // a /dev/pts/N slave
	KindTTY         Kind = "tty"        // any other terminal (console, serial, /dev/tty)
	KindCharDevice  Kind = "chardev"    // a character device that is not a terminal (/dev/null, ...)
	KindBlockDevice Kind = "blockdev"   // a block device
	KindFile        Kind = "file"       // a regular file
	KindDir         Kind = "dir"        // a directory
	KindPipe        Kind = "pipe"       // an anonymous pipe
	KindFIFO        Kind = "fifo"       // a named pipe
	KindMemfd       Kind = "memfd"      // a memfd_create file
	KindEventfd     Kind = "eventfd"    // an eventfd
	KindEpoll       Kind = "epoll"      // an epoll instance
	KindAnonInode   Kind = "anon-inode" // any other anonymous inode (timerfd, signalfd, inotify, pidfd, ...)
	KindUnknown     Kind = "unknown"    // fstat worked but nothing else matched
)

// Description is what a descriptor refers to, as far as the kernel tells.
// It is plain data: it holds no descriptor and can be stored, compared and
// printed. Describe fills it in; contstore and proto carry it.
type Description struct {
	Kind Kind `json:"kind"`

	// Identity of the underlying object: st_dev and st_ino from fstat, and
	// st_rdev for devices. Two descriptors with the same Dev and Ino refer to
	// the same inode, which is not yet the same open file description (see
	// SameFile): the two ends of a pipe share one inode, and so do all
	// anonymous-inode descriptors (eventfd, epoll, timerfd, ...).
	Dev  uint64 `json:"dev"`
	Ino  uint64 `json:"ino"`
	Rdev uint64 `json:"rdev,omitempty"`
	Mode uint32 `json:"mode"` // st_mode: file type and permission bits

	// Flags are the open-file status flags (F_GETFL: access mode, O_APPEND,
	// O_NONBLOCK, ...). Offset is the file position from /proc/self/fdinfo,
	// meaningful for regular files and block devices.
	Flags  int   `json:"flags"`
	Offset int64 `json:"offset,omitempty"`

	// Path is the target of /proc/self/fd/N: a path for files, directories,
	// devices and FIFOs ("(deleted)" kept as the kernel reports it), or a
	// pseudo-name such as "socket:[1234]", "pipe:[99]", "anon_inode:[eventfd]",
	// "/memfd:name (deleted)".
	Path string `json:"path,omitempty"`

	// Sockets only.
	Family    string `json:"family,omitempty"`    // "inet", "inet6", "unix", "netlink", ...
	SockType  string `json:"socktype,omitempty"`  // "stream", "dgram", "seqpacket", "raw"
	Listening bool   `json:"listening,omitempty"` // SO_ACCEPTCONN
	Local     string `json:"local,omitempty"`     // getsockname, "host:port" or a unix path ("@name" for abstract)
	Peer      string `json:"peer,omitempty"`      // getpeername, empty when not connected
}

// IsNetwork reports whether the descriptor is a network (IP) socket. Collapse
// never merges two different sockets, and the paper's rule "keep at least one
// descriptor for every non-network resource" is phrased with it.
func (d Description) IsNetwork() bool {
	return d.Kind == KindTCP || d.Kind == KindUDP || (d.Kind == KindSocket && (d.Family == "inet" || d.Family == "inet6"))
}

// IsSocket reports whether the descriptor is a socket of any family.
func (d Description) IsSocket() bool {
	return d.Kind == KindTCP || d.Kind == KindUDP || d.Kind == KindUnix || d.Kind == KindSocket
}
