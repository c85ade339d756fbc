package contstore_test

import (
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/migrate-run/migrate/contstore"
	"github.com/migrate-run/migrate/fdpass"
)

// openExample opens a store in a fresh directory; the returned function
// closes it and removes the directory.
func openExample() (*contstore.Store, func()) {
	dir, err := os.MkdirTemp("", "contstore-example")
	if err != nil {
		log.Fatal(err)
	}
	s, err := contstore.Open(filepath.Join(dir, "cont.db"), contstore.Options{})
	if err != nil {
		log.Fatal(err)
	}
	return s, func() { s.Close(); os.RemoveAll(dir) }
}

// suspended puts the continuation of a session that holds one TCP
// connection and remembers an index in its store.
func suspended(s *contstore.Store) contstore.Continuation {
	err := s.PutSession(contstore.Session{ID: "stream-1", App: "streamer", State: contstore.SessionSuspended})
	if err != nil {
		log.Fatal(err)
	}
	c := contstore.Continuation{
		App: "streamer", Session: "stream-1", Kind: contstore.KindInternal, State: contstore.StateSuspended,
		Slots: []contstore.Slot{{
			Name: "conn", Number: 3, Held: 0,
			Desc: fdpass.Description{Kind: fdpass.KindTCP, Family: "inet", SockType: "stream", Local: "10.0.0.1:8000", Peer: "10.0.0.7:51234"},
		}},
		FDsAfter: 1,
		Store:    []contstore.Entry{{Key: "index", Value: []byte("1042")}},
	}
	if err := s.Put(&c); err != nil { // on disk when it returns
		log.Fatal(err)
	}
	return c
}

func Example() {
	s, done := openExample()
	defer done()

	c := suspended(s)
	got, err := s.Get(c.ID)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(got.App, got.Session, got.State, got.Slots[0].Desc.Peer, string(got.Store[0].Value))

	list, err := s.List(contstore.Filter{App: "streamer", State: contstore.StateSuspended})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(len(list), list[0].ID == c.ID)
	// Output:
	// streamer stream-1 suspended 10.0.0.7:51234 1042
	// 1 true
}

func ExampleStore_Transition() {
	s, done := openExample()
	defer done()
	c := suspended(s)

	// The first resumer wins the compare-and-set...
	if err := s.Transition(c.ID, contstore.StateSuspended, contstore.StateResuming); err != nil {
		log.Fatal(err)
	}
	// ...a second one learns where the continuation is.
	err := s.Transition(c.ID, contstore.StateSuspended, contstore.StateResuming)
	var serr *contstore.StateError
	if errors.As(err, &serr) {
		fmt.Println("already", serr.Actual)
	}
	// Moves the state machine forbids fail whatever the stored state.
	err = s.Transition(c.ID, contstore.StateResuming, contstore.StateExpired)
	fmt.Println(errors.Is(err, contstore.ErrTransition))
	// Output:
	// already resuming
	// true
}
