//go:build linux

package accounting

import (
	"testing"
)

// benchModes runs fn in every layout the host has.
func benchModes(b *testing.B, fn func(b *testing.B, e *env)) {
	for _, mc := range modeCases {
		b.Run(mc.name, func(b *testing.B) { fn(b, newEnv(b, mc.opts...)) })
	}
}

// BenchmarkCreateDelete makes and removes an empty group: every directory
// in every hierarchy, the v1 cpuset copied from the parent.
func BenchmarkCreateDelete(b *testing.B) {
	benchModes(b, func(b *testing.B, e *env) {
		for b.Loop() {
			g, err := e.m.Create("app", nil)
			if err != nil {
				b.Fatal(err)
			}
			if err := g.Delete(); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkStats reads the statistics of a group holding one process.
func BenchmarkStats(b *testing.B) {
	benchModes(b, func(b *testing.B, e *env) {
		g, err := e.m.Create("app", nil)
		if err != nil {
			b.Fatal(err)
		}
		c := e.start("echo")
		if err := g.Add(c.pid()); err != nil {
			b.Fatal(err)
		}
		for b.Loop() {
			if _, err := g.Stats(); err != nil {
				b.Fatal(err)
			}
		}
	})
}
