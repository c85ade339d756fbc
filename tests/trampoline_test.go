package tests

import (
	"os"
	"strconv"
	"testing"
)

// TestMigratedHoldsItsTrampoline: the build puts migrate-trampoline beside
// migrated, and migrated finds it there at start-up and keeps it open, so
// that every process it starts goes through it rather than through
// migrated's own, much slower to start, binary (see the launcher package).
func TestMigratedHoldsItsTrampoline(t *testing.T) {
	want := binPath(t, "migrate-trampoline")
	d := startDaemon(t)
	dir := "/proc/" + strconv.Itoa(d.pid()) + "/fd"
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var links []string
	for _, e := range ents {
		link, _ := os.Readlink(dir + "/" + e.Name())
		if link == want {
			return
		}
		links = append(links, link)
	}
	t.Errorf("migrated does not hold %s open; its descriptors: %q\nlog:\n%s", want, links, d.log())
}
