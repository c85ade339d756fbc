#!/usr/bin/env bash
# demo.sh — the session continuation of the paper's benchmark, end to end.
#
# Runs counter-server under migrate-run (an embedded supervisor in a
# temporary directory), connects counter-client, suspends the client's
# session (the serving process exits, the supervisor holds the TCP
# connection), resumes it in a fresh process, and lets the client check that
# its stream went on with no gap or duplicate. Every wait has a deadline;
# everything it starts is stopped and everything it makes is removed on exit.
#
#   scripts/demo.sh [BINDIR]     (make demo builds BINDIR=bin first)
set -euo pipefail

bin=$(cd "${1:-$(dirname "$0")/../bin}" && pwd)
for b in migrate-run migratectl counter-server counter-client; do
	[[ -x $bin/$b ]] || { echo "demo: $bin/$b missing; run make demo" >&2; exit 1; }
done

work=$(mktemp -d "${TMPDIR:-/tmp}/migrate-demo.XXXXXX")
# The app's name carries our pid: as root its cgroup is migrate/counter-PID,
# and a supervisor destroys a cgroup of the same name it finds at start.
sock=$work/migrated.sock
run_pid='' client_pid=''

cleanup() {
	local status=$?
	trap - EXIT INT TERM
	[[ -n $client_pid ]] && kill "$client_pid" 2>/dev/null || true
	if [[ -n $run_pid ]] && kill -0 "$run_pid" 2>/dev/null; then
		kill -TERM "$run_pid" 2>/dev/null || true # stops the app, its cgroup, the supervisor
		wait "$run_pid" 2>/dev/null || true
	fi
	[[ -n $client_pid ]] && wait "$client_pid" 2>/dev/null || true
	rm -rf "$work"
	exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say() { printf '\n==> %s\n' "$*"; }
ctl() { "$bin/migratectl" --socket "$sock" --timeout 20s "$@"; }

# waitfor SECONDS WHAT COMMAND...: poll COMMAND until it succeeds, for at
# most SECONDS (the kernel gives no event for any of these).
waitfor() {
	local deadline=$((SECONDS + $1)) what=$2
	shift 2
	until "$@"; do
		if ((SECONDS >= deadline)); then
			echo "demo: timed out waiting for $what" >&2
			[[ -f $work/server.log ]] && sed 's/^/  server| /' "$work/server.log" >&2
			return 1
		fi
		sleep 0.05
	done
}
gone() { ! kill -0 "$1" 2>/dev/null || [[ $(ps -o stat= -p "$1" 2>/dev/null) == Z* ]]; }
logged() { grep -q -- "$1" "$work/server.log" 2>/dev/null; }
has_session() { [[ $(ctl sessions | awk 'NR > 1' | wc -l) -ge 1 ]]; }
# received: bytes the client's end of the connection has received (ss -i
# of iproute2; "?" without it).
received() {
	command -v ss >/dev/null || { echo '?'; return; }
	ss -tinH state established "( dport = :${addr##*:} )" 2>/dev/null |
		grep -o 'bytes_received:[0-9]*' | head -n1 | cut -d: -f2
}
# more_than N: the client has received more than N bytes.
more_than() {
	local n
	n=$(received)
	[[ $n == '?' || $1 == '?' ]] && return 0 # no ss: the session's registration has to do
	[[ -n $n ]] && ((n > $1))
}

say "starting counter-server under migrate-run (embedded supervisor, state in $work)"
"$bin/migrate-run" --name "counter-$$" --socket "$sock" --state-dir "$work/state" \
	--listen tcp://127.0.0.1:0 --log-level warn -- "$bin/counter-server" --interval 10ms \
	>"$work/server.log" 2>&1 &
run_pid=$!
waitfor 20 "counter-server to listen" logged "listening on"
addr=$(sed -n 's/^counter-server: listening on //p' "$work/server.log" | head -n1)
echo "counter-server listens on $addr (a socket the supervisor holds, passed as LISTEN_FDS)"

say "connecting counter-client (600 numbers, one every 10ms)"
"$bin/counter-client" --addr "$addr" --count 600 >"$work/client.out" 2>&1 &
client_pid=$!
waitfor 20 "the session to register" has_session
waitfor 20 "numbers to flow" more_than 100
sed -n 's/^/  server| /p' "$work/server.log"
echo "the client has received $(received) bytes of numbered lines"
ctl sessions

read -r session old_pid < <(ctl sessions | awk 'NR == 2 { print $1, $5 }')
say "suspending session $session (served by pid $old_pid)"
out=$(ctl suspend "$session")
echo "$out"
cont=$(awk 'NR == 1 { print $NF }' <<<"$out")

say "the old process is gone"
waitfor 20 "pid $old_pid to exit" gone "$old_pid"
if ps -p "$old_pid" -o pid=,stat= | grep -qv Z; then
	echo "demo: pid $old_pid still runs" >&2
	exit 1
fi
echo "pid $old_pid: no such process ($(ps -p "$old_pid" >/dev/null && echo zombie || echo reaped))"
kill -0 "$client_pid" && echo "counter-client (pid $client_pid) is still connected, $(received) bytes received; nothing is sent while suspended"

say "the connection is held by the supervisor"
ctl list
echo
ctl show "$cont"

say "resuming continuation $cont"
out=$(ctl resume "$cont")
echo "$out"
new_pid=$(awk '{ print $NF }' <<<"$out")

say "the stream continues in pid $new_pid"
tr '\0' '\n' <"/proc/$new_pid/environ" | grep '^MIGRATE_' | sed 's/^/  /'
migrate_pid=$(tr '\0' '\n' <"/proc/$new_pid/environ" | sed -n 's/^MIGRATE_PID=//p')
if [[ $migrate_pid != "$old_pid" ]]; then
	echo "demo: MIGRATE_PID of pid $new_pid is '$migrate_pid', want the old pid $old_pid" >&2
	exit 1
fi
echo "MIGRATE_PID=$migrate_pid is the pid that suspended"
waitfor 20 "the resumed process to say so" logged "resumed cont $cont"
grep -E "suspended at|resumed cont" "$work/server.log" | sed 's/^/  server| /'
before=$(received)
waitfor 20 "numbers to flow again" more_than "$before"
echo "the client has received $(received) bytes: the stream goes on over the same TCP connection"
ctl sessions

say "waiting for counter-client to finish"
waitfor 60 "counter-client to finish" gone "$client_pid"
status=0
wait "$client_pid" || status=$?
client_pid=''
sed 's/^/  client| /' "$work/client.out"
if ((status != 0)) || ! grep -q "no gap or duplicate" "$work/client.out"; then
	echo "demo: counter-client failed (exit $status)" >&2
	exit 1
fi

say "done: one TCP session outlived its process, with no gap or duplicate"
