//go:build linux

package migrate

import (
	"context"
	"fmt"

	"github.com/migrate-run/migrate/proto"
)

// RegisterCompat registers the app's compatibility vector for one version
// of it (the paper's register_compat_vector), replacing an earlier one for
// that version. Tag ids must be distinct.
func (c *Client) RegisterCompat(ctx context.Context, version string, tags []CompatTag) error {
	op := "register compat vector " + version
	if err := checkVersion(op, version); err != nil {
		return err
	}
	_, err := c.callAck(ctx, op, &proto.CompatRegister{Version: version, Tags: tags}, nil)
	return err
}

// CompatGet returns the registered compatibility vector of one version of
// the app; none registered is a *SupervisorError with proto.CodeUnknownKey.
func (c *Client) CompatGet(ctx context.Context, version string) ([]CompatTag, error) {
	op := "get compat vector " + version
	if err := checkVersion(op, version); err != nil {
		return nil, err
	}
	m, err := c.call(ctx, op, &proto.CompatGet{Version: version}, nil)
	if err != nil {
		return nil, err
	}
	r, ok := m.Body.(*proto.CompatReply)
	if !ok {
		return nil, fmt.Errorf("%s: %w: answered with %v", op, ErrProtocol, m.Body.Type())
	}
	return r.Tags, nil
}

func checkVersion(op, version string) error {
	if len(version) > proto.MaxNameLen {
		return fmt.Errorf("%s: %w: version of %d bytes, at most %d", op, ErrInvalid, len(version), proto.MaxNameLen)
	}
	return nil
}
