package tests

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The OpenSSH programs the fixture runs (Debian's openssh-server and
// openssh-client).
const (
	sshdPath   = "/usr/sbin/sshd"
	sshPath    = "/usr/bin/ssh"
	keygenPath = "/usr/bin/ssh-keygen"
)

// sshPrivsepDir is the directory sshd's unprivileged pre-authentication
// child chroots into; sshd refuses to start without it. Debian's ssh
// service creates it at boot, so a machine where sshd never ran as a
// service lacks it.
const sshPrivsepDir = "/run/sshd"

// sshFixture is an OpenSSH server setup for one test, under the test's
// temporary directory: a host key, a client key pair whose public half is
// the only authorized key, and an sshd_config that logs in the current
// user (root) by that key alone, in inetd mode (sshd -i: the connection on
// standard input and output), with no PAM and no pid file.
type sshFixture struct {
	Dir       string // the test's directory holding every file below
	Config    string // sshd_config, for sshd -f
	ClientKey string // the client's private key, for ssh -i
}

// newSSHFixture writes the fixture's keys and configuration. It skips the
// test when not root (sshd logs a user in only as root), when sshd, ssh or
// ssh-keygen is missing, or when sshd's privilege separation user does not
// exist; it creates /run/sshd when missing (and leaves it, as the ssh
// service would).
func newSSHFixture(t *testing.T) *sshFixture {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("the sshd fixture needs root: sshd -i logs a user in only as root")
	}
	for _, p := range []string{sshdPath, sshPath, keygenPath} {
		if _, err := os.Stat(p); err != nil {
			t.Skipf("the sshd fixture needs %s (apt-get install openssh-server openssh-client): %v", p, err)
		}
	}
	if _, err := user.Lookup("sshd"); err != nil {
		t.Skipf("the sshd fixture needs sshd's privilege separation user, which installing openssh-server creates: %v", err)
	}
	if err := os.MkdirAll(sshPrivsepDir, 0o755); err != nil {
		t.Fatalf("create sshd's privilege separation directory: %v", err)
	}
	dir := t.TempDir()
	f := &sshFixture{Dir: dir, Config: filepath.Join(dir, "sshd_config"), ClientKey: filepath.Join(dir, "client_ed25519")}
	hostKey := filepath.Join(dir, "host_ed25519")
	sshKeygen(t, hostKey, "migrate-e2e-host")
	sshKeygen(t, f.ClientKey, "migrate-e2e-client")
	pub, err := os.ReadFile(f.ClientKey + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	authorized := filepath.Join(dir, "authorized_keys")
	if err := os.WriteFile(authorized, pub, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(f.Config, []byte(sshdConfig(hostKey, authorized)), 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

// sshKeygen writes an ed25519 key pair without a passphrase to path and
// path.pub; ssh-keygen makes the private key mode 0600, which ssh and sshd
// insist on.
func sshKeygen(t *testing.T, path, comment string) {
	t.Helper()
	out, err := exec.Command(keygenPath, "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", path).CombinedOutput()
	if err != nil {
		t.Fatalf("ssh-keygen %s: %v\n%s", path, err, out)
	}
}

// sshdConfig is a configuration that needs nothing of the machine but
// sshd's privilege separation user and directory: its own host key and
// authorized keys (absolute paths, since sshd -i has no home to resolve
// them from, and StrictModes off, since a test's directory is not laid out
// like a home), no PAM (no session modules, no password), no pid file.
func sshdConfig(hostKey, authorizedKeys string) string {
	return fmt.Sprintf(`HostKey %q
AuthorizedKeysFile %q
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
PidFile none
UseDNS no
PrintMotd no
PrintLastLog no
LogLevel VERBOSE
`, hostKey, authorizedKeys)
}

// sshdArgs is the command that serves one SSH connection on standard input
// and output (inetd mode), logging to standard error, which must not be
// the connection. sshd ends with the connection, with status 255 even when
// the client disconnected cleanly.
func (f *sshFixture) sshdArgs() []string {
	return []string{sshdPath, "-i", "-f", f.Config, "-e"}
}

// run logs in as the current user to the sshd on 127.0.0.1:port with the
// fixture's client key, runs cmd there and returns its standard output.
// It trusts any host key and keeps none, asks nothing (BatchMode, no
// password, no agent), gives up on connecting after 10 s and on the whole
// login when ctx ends. A failure's error holds ssh's exit status and its
// standard error.
func (f *sshFixture) run(t *testing.T, ctx context.Context, port int, cmd string) (stdout string, err error) {
	t.Helper()
	me, err := user.Current()
	if err != nil {
		return "", fmt.Errorf("ssh to port %d: find the current user: %w", port, err)
	}
	c := exec.CommandContext(ctx, sshPath,
		"-F", os.DevNull, // not root's ~/.ssh/config
		"-i", f.ClientKey,
		"-o", "IdentitiesOnly=yes",
		"-o", "IdentityAgent=none",
		"-o", "BatchMode=yes",
		"-o", "PasswordAuthentication=no",
		"-o", "KbdInteractiveAuthentication=no",
		"-o", "StrictHostKeyChecking=no",
		"-o", "UserKnownHostsFile="+os.DevNull,
		"-o", "GlobalKnownHostsFile="+os.DevNull,
		"-o", "ConnectTimeout=10",
		"-o", "LogLevel=ERROR",
		"-T", // no terminal: cmd's output as it is
		"-p", strconv.Itoa(port),
		"-l", me.Username,
		"127.0.0.1", cmd)
	var out, errOut bytes.Buffer
	c.Stdout, c.Stderr = &out, &errOut
	c.WaitDelay = time.Second // a remote child left holding ssh's output
	if err := c.Run(); err != nil {
		return out.String(), fmt.Errorf("ssh to port %d running %q: %w: %s", port, cmd, err, strings.TrimSpace(errOut.String()))
	}
	return out.String(), nil
}
