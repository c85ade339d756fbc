//go:build linux

package migrate

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/migrate-run/migrate/proto"
)

func TestCompatRegistry(t *testing.T) {
	checkNoLeaks(t)
	c, f := newFake(t)
	tags := []CompatTag{{ID: 1, Name: "libssl", Value: "3.0"}, {ID: 2, Name: "kernel", Value: "6"}}
	reg := async(func() (struct{}, error) { return struct{}{}, c.RegisterCompat(context.Background(), "2.4.1", tags) })
	m, id, _ := expect[*proto.CompatRegister](f)
	if m.Version != "2.4.1" || !slices.Equal(m.Tags, tags) {
		t.Errorf("CompatRegister = %+v", *m)
	}
	f.ack(id, 0)
	if _, err := wait(t, reg); err != nil {
		t.Fatal(err)
	}

	get := async(func() ([]CompatTag, error) { return c.CompatGet(context.Background(), "2.4.1") })
	g, id, _ := expect[*proto.CompatGet](f)
	if g.Version != "2.4.1" {
		t.Errorf("CompatGet = %+v", *g)
	}
	f.send(proto.Message{ID: id, Body: &proto.CompatReply{Version: "2.4.1", Tags: tags}}, nil)
	if got, err := wait(t, get); err != nil || !slices.Equal(got, tags) {
		t.Errorf("CompatGet = %+v, %v", got, err)
	}

	get = async(func() ([]CompatTag, error) { return c.CompatGet(context.Background(), "9") })
	_, id, _ = expect[*proto.CompatGet](f)
	f.fail(id, proto.CodeUnknownKey, "no vector")
	if _, err := wait(t, get); !HasCode(err, proto.CodeUnknownKey) {
		t.Errorf("CompatGet of an unknown version = %v, want unknown-key", err)
	}
}

func TestCompatBadInputSendsNothing(t *testing.T) {
	checkNoLeaks(t)
	c, f := newFake(t)
	long := strings.Repeat("v", 256)
	if err := c.RegisterCompat(context.Background(), long, nil); !errors.Is(err, ErrInvalid) {
		t.Errorf("long version: %v", err)
	}
	if _, err := c.CompatGet(context.Background(), long); !errors.Is(err, ErrInvalid) {
		t.Errorf("long version: %v", err)
	}
	if err := c.RegisterCompat(context.Background(), "1", []CompatTag{{ID: 1}, {ID: 1}}); !errors.Is(err, ErrInvalid) {
		t.Errorf("duplicate tag ids: %v", err)
	}
	go c.CompatGet(context.Background(), "1")
	expect[*proto.CompatGet](f) // the first thing sent
}

func TestWrongReplyTypeIsAProtocolError(t *testing.T) {
	checkNoLeaks(t)
	c, f := newFake(t)
	get := async(func() ([]CompatTag, error) { return c.CompatGet(context.Background(), "1") })
	_, id, _ := expect[*proto.CompatGet](f)
	f.ack(id, 0)
	if _, err := wait(t, get); !errors.Is(err, ErrProtocol) {
		t.Errorf("CompatGet answered with Ack = %v, want ErrProtocol", err)
	}
}
