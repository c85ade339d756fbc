package main

import (
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"

	"go.uber.org/goleak"
)

const asMain = "COUNTER_CLIENT_AS_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(asMain) == "1" {
		main()
	}
	goleak.VerifyTestMain(m)
}

// TestGapExitsOne runs the real command against a server that skips 3.
func TestGapExitsOne(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	served := make(chan struct{})
	go func() {
		defer close(served)
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		c.Write([]byte("1\n2\n4\n5\n"))
		buf := make([]byte, 1)
		c.Read(buf) // until the client hangs up
	}()
	exe, _ := os.Executable()
	cmd := exec.Command(exe, "--addr", ln.Addr().String(), "--count", "10")
	cmd.Env = append(os.Environ(), asMain+"=1")
	out, err := cmd.CombinedOutput()
	<-served
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
		t.Errorf("exit %v, want status 1", err)
	}
	if strings.TrimSpace(string(out)) != "gap: expected 3 got 4" {
		t.Errorf("output %q, want the gap", out)
	}
}
