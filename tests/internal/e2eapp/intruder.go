//go:build linux

package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"strconv"
	"time"

	"golang.org/x/sys/unix"

	"github.com/migrate-run/migrate"
	"github.com/migrate-run/migrate/proto"
	"github.com/migrate-run/migrate/supervisor"
)

// intruder is a process of one app that tries to act on another app's
// session and continuation: through the admin API, and by posing as the
// fresh process of the continuation (MIGRATE_CONT_ID) to retrieve its
// store, register its session and confirm it. It prints one line per
// attempt, "ATTEMPT: refused: ERROR" or "ATTEMPT: ALLOWED", and "done".
func intruder(args []string) error {
	fs := flag.NewFlagSet("intruder", flag.ContinueOnError)
	cont := fs.Uint64("cont", 0, "the other app's continuation")
	session := fs.Uint64("session", 0, "the other app's session")
	if err := fs.Parse(args); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	report := func(what string, err error) {
		if err != nil {
			fmt.Printf("%s: refused: %v\n", what, err)
		} else {
			fmt.Printf("%s: ALLOWED\n", what)
		}
	}

	ac, err := supervisor.Dial(os.Getenv("MIGRATE_SOCKET"))
	if err != nil {
		return err
	}
	defer ac.Close()
	for _, r := range []*proto.AdminRequest{
		{Op: proto.AdminSuspend, Session: *session},
		{Op: proto.AdminShow, Cont: *cont, Values: true},
		{Op: proto.AdminResume, Cont: *cont},
		{Op: proto.AdminDrop, Cont: *cont},
	} {
		_, err := ac.Do(ctx, r)
		report("admin "+r.Op, err)
	}

	r, err := pose(ctx, *cont)
	if err != nil {
		return err
	}
	_, err = r.Retrieve(ctx, "next")
	report("retrieve", err)
	_, err = r.StoreSize(ctx, "next")
	report("store-size", err)
	_, err = r.Register(ctx, migrate.WithName("stolen"), migrate.WithHandler(migrate.Complete))
	report("register", err)
	report("confirm", r.Confirm(ctx))
	fmt.Println("done")
	return nil
}

// pose sets up this process as if it were started to resume cont: a
// socket of its own at MIGRATE_CONT, MIGRATE_PID and MIGRATE_CONT_ID.
func pose(ctx context.Context, cont uint64) (*migrate.Resumption, error) {
	pair, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, os.NewSyscallError("socketpair", err)
	}
	defer unix.Close(pair[1])
	for k, v := range map[string]string{migrate.EnvCont: strconv.Itoa(pair[0]), migrate.EnvPID: "1",
		migrate.EnvContID: strconv.FormatUint(cont, 10)} {
		if err := os.Setenv(k, v); err != nil {
			return nil, err
		}
	}
	r, ok, err := migrate.Resumed(ctx)
	if err == nil && !ok {
		err = errors.New("migrate.Resumed does not see the environment it was given")
	}
	return r, err
}
