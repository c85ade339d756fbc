// Command migrate-trampoline is the trampoline through which the
// supervisor (migrated, migrate-run) starts every process of an app, and
// nothing else: a small binary that starts in a fraction of the time the
// supervisor's own binary takes, since it links only the launcher package.
// Install it beside the supervisor's binary (make install does); the
// supervisor opens it once, checks that only root or its own user can
// change it, and executes it by descriptor. Without it the supervisor
// re-executes its own binary, which works the same, only slower. See the
// launcher package documentation.
//
// Started any other way it prints this and exits with status 2.
package main

import (
	"os"

	// Its init turns the process into the trampoline when the launcher
	// started it as one, and never returns then.
	_ "github.com/migrate-run/migrate/launcher"
)

func main() {
	os.Stderr.WriteString("migrate-trampoline: the supervisor's trampoline; not meant to be run by hand (see the launcher package)\n")
	os.Exit(2)
}
