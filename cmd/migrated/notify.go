package main

import (
	"context"

	"github.com/coreos/go-systemd/v22/daemon"
	"github.com/rs/zerolog"

	"github.com/migrate-run/migrate/supervisor"
)

// notifyManager tells a service manager that started migrated with a
// NOTIFY_SOCKET (systemd's Type=notify) when the control socket answers
// and the configured services have started (ready is closed), and when
// migrated begins to stop. Without NOTIFY_SOCKET it sends nothing. It
// returns when ctx ends.
func notifyManager(ctx context.Context, s *supervisor.Supervisor, ready <-chan struct{}, log zerolog.Logger) {
	select {
	case <-ready:
	case <-ctx.Done():
		return
	}
	send(log, daemon.SdNotifyReady+"\nSTATUS=serving "+s.Socket())
	<-ctx.Done()
	send(log, daemon.SdNotifyStopping+"\nSTATUS=stopping")
}

func send(log zerolog.Logger, state string) {
	// unsetEnvironment is false: STOPPING=1 is sent later through the same
	// variable, and apps never see migrated's own environment (they are
	// started with the environment their spec gives).
	sent, err := daemon.SdNotify(false, state)
	switch {
	case err != nil:
		log.Warn().Err(err).Msg("service manager notification failed")
	case sent:
		log.Debug().Str("state", state).Msg("service manager notified")
	}
}

// reloading tells the service manager that migrated reloads its service
// directory (SIGHUP), and when it is done.
func reloading(log zerolog.Logger, done bool) {
	if done {
		send(log, daemon.SdNotifyReady+"\nSTATUS=services reloaded")
		return
	}
	send(log, daemon.SdNotifyReloading+"\nSTATUS=reloading services")
}
