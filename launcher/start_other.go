//go:build !linux

package launcher

import "fmt"

// Start starts the process spec describes. Launcher needs Linux: elsewhere it
// fails with ErrUnsupported.
func Start(spec Spec) (*Process, error) {
	return nil, fmt.Errorf("launch: %w: launcher runs on Linux only", ErrUnsupported)
}
