//go:build linux

package migrate

import (
	"context"
	"fmt"

	"github.com/migrate-run/migrate/proto"
)

// Store sets key to value in the session's attribute/value store (the
// paper's store), replacing an old value and keeping its exported mark.
// Values too large for one record travel in a sealed memfd; the supervisor
// refuses (proto.CodeTooLarge) what exceeds its Limits.
func (s *Session) Store(ctx context.Context, key string, value []byte) error {
	if err := s.live("store"); err != nil {
		return err
	}
	if err := s.c.store(ctx, proto.Scope{Session: s.id}, key, value); err != nil {
		return err
	}
	s.mu.Lock()
	s.store.set(key, value)
	s.mu.Unlock()
	return nil
}

// Retrieve returns key's value from the session's store (the paper's
// retrieve); a missing key is a *SupervisorError with proto.CodeUnknownKey.
func (s *Session) Retrieve(ctx context.Context, key string) ([]byte, error) {
	if err := s.live("retrieve"); err != nil {
		return nil, err
	}
	return s.c.retrieve(ctx, proto.Scope{Session: s.id}, key)
}

// StoreSize returns the size in bytes of key's value (the paper's
// store_size).
func (s *Session) StoreSize(ctx context.Context, key string) (int64, error) {
	if err := s.live("store size"); err != nil {
		return 0, err
	}
	return s.c.storeSize(ctx, proto.Scope{Session: s.id}, key)
}

// Export marks key exported (the paper's export): its value may be sent to
// the remote end point on reconnection.
func (s *Session) Export(ctx context.Context, key string) error {
	if err := s.live("export"); err != nil {
		return err
	}
	if err := s.c.export(ctx, proto.Scope{Session: s.id}, key); err != nil {
		return err
	}
	s.mu.Lock()
	s.store.export(key)
	s.mu.Unlock()
	return nil
}

func (c *Client) store(ctx context.Context, sc proto.Scope, key string, value []byte) error {
	if err := checkKey("store", key); err != nil {
		return err
	}
	_, err := c.callAck(ctx, "store "+key, &proto.Store{Scope: sc, Key: key, Value: value}, nil)
	return err
}

func (c *Client) retrieve(ctx context.Context, sc proto.Scope, key string) ([]byte, error) {
	if err := checkKey("retrieve", key); err != nil {
		return nil, err
	}
	op := "retrieve " + key
	m, err := c.call(ctx, op, &proto.Retrieve{Scope: sc, Key: key}, nil)
	if err != nil {
		return nil, err
	}
	rr, ok := m.Body.(*proto.RetrieveReply)
	if !ok {
		return nil, fmt.Errorf("%s: %w: answered with %v", op, ErrProtocol, m.Body.Type())
	}
	return rr.Value, nil
}

func (c *Client) storeSize(ctx context.Context, sc proto.Scope, key string) (int64, error) {
	if err := checkKey("store size", key); err != nil {
		return 0, err
	}
	op := "store size of " + key
	n, err := c.callAck(ctx, op, &proto.StoreSize{Scope: sc, Key: key}, nil)
	if err != nil {
		return 0, err
	}
	if n > proto.MaxMemfdPayload {
		return 0, fmt.Errorf("%s: %w: size %d beyond any value", op, ErrProtocol, n)
	}
	return int64(n), nil
}

func (c *Client) export(ctx context.Context, sc proto.Scope, key string) error {
	if err := checkKey("export", key); err != nil {
		return err
	}
	_, err := c.callAck(ctx, "export "+key, &proto.Export{Scope: sc, Key: key}, nil)
	return err
}

// checkKey refuses what the protocol refuses, before anything is sent.
func checkKey(op, key string) error {
	if key == "" || len(key) > proto.MaxNameLen {
		return fmt.Errorf("%s: %w: key of %d bytes (1 to %d)", op, ErrInvalid, len(key), proto.MaxNameLen)
	}
	return nil
}

// storeMirror is what this process stored in a session through Store and
// Export, in the order keys were first set: ReturnCont carries the whole
// store, so the library sends it along with the continuation.
type storeMirror struct {
	entries []Entry
	index   map[string]int // key -> position in entries
}

func (m *storeMirror) set(key string, value []byte) {
	v := append([]byte(nil), value...)
	if i, ok := m.index[key]; ok {
		m.entries[i].Value = v
		return
	}
	if m.index == nil {
		m.index = make(map[string]int)
	}
	m.index[key] = len(m.entries)
	m.entries = append(m.entries, Entry{Key: key, Value: v})
}

func (m *storeMirror) export(key string) {
	if i, ok := m.index[key]; ok {
		m.entries[i].Exported = true
	}
}

// merged returns the mirror with extra's entries set over it; extra's
// entries win, and a key repeated in extra keeps its last value.
func (m *storeMirror) merged(extra []Entry) []Entry {
	out := append(make([]Entry, 0, len(m.entries)+len(extra)), m.entries...)
	var added map[string]int
	for _, e := range extra {
		if i, ok := m.index[e.Key]; ok {
			out[i] = e
		} else if i, ok := added[e.Key]; ok {
			out[i] = e
		} else {
			if added == nil {
				added = make(map[string]int)
			}
			added[e.Key] = len(out)
			out = append(out, e)
		}
	}
	return out
}
