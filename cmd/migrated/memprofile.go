package main

import (
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"syscall"

	"github.com/rs/zerolog"
)

// heapProfileOnSignal writes a heap profile to path on every SIGUSR1 until
// the returned function is called. Each profile follows a full GC, so that
// its in-use figures are the live heap of that moment; it is written to a
// temporary file and renamed, so a reader never sees half of one.
func heapProfileOnSignal(path string, log zerolog.Logger) (stop func()) {
	usr1 := make(chan os.Signal, 1)
	signal.Notify(usr1, syscall.SIGUSR1)
	done := make(chan struct{})
	ended := make(chan struct{})
	go func() {
		defer close(ended)
		for {
			select {
			case <-done:
				return
			case <-usr1:
				if err := writeHeapProfile(path); err != nil {
					log.Error().Err(err).Str("file", path).Msg("heap profile not written")
					continue
				}
				log.Info().Str("file", path).Msg("heap profile written")
			}
		}
	}()
	return func() {
		signal.Stop(usr1)
		close(done)
		<-ended
	}
}

func writeHeapProfile(path string) error {
	tmp := path + ".tmp"
	out, err := os.Create(tmp)
	if err != nil {
		return fmt.Errorf("heap profile: %w", err)
	}
	runtime.GC()
	err = pprof.Lookup("heap").WriteTo(out, 0)
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("heap profile: %w", err)
	}
	return nil
}
