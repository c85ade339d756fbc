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
	sess := contstore.Session{App: "streamer", State: contstore.SessionSuspended}
	if err := s.PutSession(&sess); err != nil { // sess.ID is set
		log.Fatal(err)
	}
	c := contstore.Continuation{
		App: "streamer", Session: sess.ID, Kind: contstore.KindInternal, State: contstore.StateSuspended,
		Slots: []contstore.Slot{{
			Name: "conn", Number: 3, Held: 0,
			Desc: fdpass.Description{Kind: fdpass.KindTCP, Family: "inet", SockType: "stream", Local: "10.0.0.1:8000", Peer: "10.0.0.7:51234"},
		}},
		FDsAfter: 1,
		Store:    []contstore.Entry{{Key: "index", Value: []byte("1042")}},
	}
	if err := s.Put(&c); err != nil { // on disk when it returns; c.ID is set
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

	// A resumed process gets the ID in decimal as MIGRATE_CONT_ID and
	// reads it back with ParseID.
	env := c.ID.String()
	id, err := contstore.ParseID(env)
	fmt.Println("MIGRATE_CONT_ID="+env, id == c.ID, err)
	// Output:
	// streamer 1 suspended 10.0.0.7:51234 1042
	// 1 true
	// MIGRATE_CONT_ID=1 true <nil>
}

func ExampleParseID() {
	for _, s := range []string{"42", "0", "042", "-1", "18446744073709551616"} {
		id, err := contstore.ParseID(s)
		fmt.Println(id, err)
	}
	// Output:
	// 42 <nil>
	// 0 parse continuation id "0": ID: 0 is never an id
	// 0 parse continuation id "042": ID: leading zero
	// 0 parse continuation id "-1": ID: character '-' at 0 is not a decimal digit
	// 0 parse continuation id "18446744073709551616": ID: above the largest id, 18446744073709551615
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
