//go:build linux

package migrate

import "github.com/migrate-run/migrate/proto"

// A SessionOption configures GetSession (and Resumption.Register).
type SessionOption func(*sessionConfig)

type sessionConfig struct {
	name      string
	dependsOn []uint64
	handler   Kind
	onSuspend func(*SuspendRequest)
	cont      uint64 // set by Resumption.Register
}

// WithName labels the session for people (migratectl). At most 255 bytes.
func WithName(name string) SessionOption {
	return func(c *sessionConfig) { c.name = name }
}

// WithHandler says which kind of continuation the app returns when asked to
// suspend the session: System, Internal or Complete. Without it the session
// has no handler (None) and the supervisor can only hold its descriptors:
// it does not send it SuspendRequests.
func WithHandler(kind Kind) SessionOption {
	return func(c *sessionConfig) { c.handler = kind }
}

// DependsOn makes the session depend on others: suspending any of them
// suspends this one too (with reason proto.ReasonDependency), never the
// other way round.
func DependsOn(sessions ...*Session) SessionOption {
	return func(c *sessionConfig) {
		for _, s := range sessions {
			c.dependsOn = append(c.dependsOn, s.ID())
		}
	}
}

// OnSuspend delivers the session's suspend requests to fn, called on a
// goroutine of its own for each, instead of on the Session.Suspend channel.
func OnSuspend(fn func(*SuspendRequest)) SessionOption {
	return func(c *sessionConfig) { c.onSuspend = fn }
}

func (c *sessionConfig) message(fd int) *proto.GetSession {
	return &proto.GetSession{
		FD:        int32(fd),
		Name:      c.name,
		DependsOn: c.dependsOn,
		Handler:   c.handler,
		Cont:      c.cont,
	}
}
