//go:build linux

package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// storeKey is the continuation store's one attribute: the session's state
// as JSON.
const storeKey = "rshell"

// errBadState is returned for a stored state this build cannot take.
var errBadState = errors.New("bad session state in the continuation")

// state is what a fresh server needs to take a session over, beyond the
// descriptors themselves (which come back at their old numbers).
type state struct {
	// Format is stateFormat of the build that stored it.
	Format string `json:"format"`
	// Shell is the shell's pid, Waiter its parent's (the waiter sits in
	// the process group of the server that started the session).
	Shell  int `json:"shell"`
	Waiter int `json:"waiter"`
	// PTY is the descriptor number of the pty master and PTS the N of
	// its /dev/pts/N; Status is the number of the status pipe's read end.
	PTY    int `json:"pty"`
	PTS    int `json:"pts"`
	Status int `json:"status"`
	// StatusRead is what was read from the status pipe and not acted
	// upon (the shell's end, if it came as the session was suspended).
	StatusRead []byte `json:"statusRead,omitempty"`
	// ToClient and FromClient are the proxy's Pending.
	ToClient   []byte `json:"toClient,omitempty"`
	FromClient []byte `json:"fromClient,omitempty"`
	// Peer, Term and Started describe the session, for the logs.
	Peer    string    `json:"peer"`
	Term    string    `json:"term,omitempty"`
	Started time.Time `json:"started"`
	// Suspends counts the session's suspensions so far.
	Suspends int `json:"suspends"`
}

// parseState decodes and checks a stored state.
func parseState(v []byte) (state, error) {
	var st state
	if err := json.Unmarshal(v, &st); err != nil {
		return state{}, fmt.Errorf("%w: %w", errBadState, err)
	}
	switch {
	case st.Format != stateFormat:
		return state{}, fmt.Errorf("%w: format %q, this build reads %q", errBadState, st.Format, stateFormat)
	case st.Shell <= 0 || st.Waiter <= 0:
		return state{}, fmt.Errorf("%w: shell pid %d, waiter pid %d", errBadState, st.Shell, st.Waiter)
	case st.PTY < 0 || st.Status < 0 || st.PTY == st.Status || st.PTS < 0:
		return state{}, fmt.Errorf("%w: pty at %d (pts %d), status pipe at %d", errBadState, st.PTY, st.PTS, st.Status)
	}
	return st, nil
}
