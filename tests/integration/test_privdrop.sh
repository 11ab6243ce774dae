#!/bin/sh
# shellcheck disable=SC2317  # t_* run through check()
# test_privdrop.sh - run_user without packages: mailmigrate-relay and
# mailmigrated started as root with run_user set to a test user of their
# own become it after start-up (/proc/PID/status: real, effective, saved
# and file-system uid and gid, no supplementary root group) and still
# work: the relay answers a lookup and removes its socket at exit, a
# copy round runs, SIGHUP reads the configuration and reopens the log
# as that user. `mailmigrate init` as root gives the store and the key
# files to run_user. Without run_user, a daemon started as root says so.

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

mm_require_root_and_pkgs
RELAY=${MAILMIGRATE_RELAY:-$top_builddir/relay/mailmigrate-relay}
MAILMIGRATED=${MAILMIGRATED:-$top_builddir/puller/mailmigrated}
[ -x "$RELAY" ] || skip "mailmigrate-relay not built"
[ -x "$MAILMIGRATED" ] || skip "mailmigrated not built"
command -v useradd >/dev/null 2>&1 || skip "useradd not installed"
RC="$PYTHON $HARNESS/relayclient.py"

# The test's own user, removed at exit unless it was there before.
RUN_USER=mmtestpriv
if ! id "$RUN_USER" >/dev/null 2>&1; then
	useradd --system --user-group --no-create-home --home-dir /nonexistent \
		--shell /usr/sbin/nologin "$RUN_USER" || fail "useradd $RUN_USER failed"
	mm_at_exit "userdel $RUN_USER"
fi
RUN_UID=$(id -u "$RUN_USER")
RUN_GID=$(id -g "$RUN_USER")

dir=$(mm_tmpdir)
mm_servers_start "$dir"

# The master password as run_user may read it (0600, its own).
cp "$NEW_MASTER_PASS_FILE" "$MM_DIR/master.pass"
chown "$RUN_USER:" "$MM_DIR/master.pass"
chmod 600 "$MM_DIR/master.pass"
CONF=$MM_DIR/mailmigrate.conf
cat >"$CONF" <<EOC
$(mm_store_conf "$MM_DIR/state")
key_file = $MM_DIR/keys/secret.key
log_file = $MM_DIR/mailmigrate.log
run_user = $RUN_USER
workers = 1
target_host = $NEW_IP:$NEW_IMAP_PORT
target_master_user = $NEW_MASTER_USER
target_master_password_file = $MM_DIR/master.pass
relay_listen = unix:$MM_DIR/run/relay.sock

[domain example.test]
source_host = $OLD_IP
source_tls = none
relay_nexthop = smtp:[$OLD_IP]:25
EOC
chmod 644 "$CONF"
MM() { "$MAILMIGRATE" -c "$CONF" "$@"; }
LOG=$MM_DIR/mailmigrate.log
SOCK=$MM_DIR/run/relay.sock

mm_adduser old ann@example.test "ann pass"
sh "$HARNESS/servers.sh" adduser "$MM_DIR" new ann@example.test --nopass </dev/null ||
	fail "adduser new ann failed"
mv "$(mm_pwfile "ann pass")" "$MM_DIR/ann.pw"
"$PYTHON" "$HARNESS/corpus.py" --host "$OLD_IP" --user ann@example.test \
	--password-file "$MM_DIR/ann.pw" --seed 7 --count 8 --big-mb 0 --no-samples \
	--manifest "$MM_DIR/ann.json" >/dev/null || fail "corpus load failed"

# ids PID: "uid gid" when every uid and gid of the process (real,
# effective, saved, file system) is the same, else "mixed".
ids() {
	awk '/^Uid:/ { u = ($2 == $3 && $3 == $4 && $4 == $5) ? $2 : "mixed" }
	     /^Gid:/ { g = ($2 == $3 && $3 == $4 && $4 == $5) ? $2 : "mixed" }
	     /^Groups:/ { for (i = 2; i <= NF; i++) if ($i == 0) g = "root-group" }
	     END { print u, g }' "/proc/$1/status"
}
# The process and every child of it run as run_user.
all_dropped() {
	for p in $1 $(cat "/proc/$1/task/$1/children" 2>/dev/null); do
		got=$(ids "$p")
		[ "$got" = "$RUN_UID $RUN_GID" ] || {
			echo "pid $p ($(cat "/proc/$p/comm")): uid gid $got, want $RUN_UID $RUN_GID"
			return 1
		}
	done
}

t_init_gives_files() {
	MM init >"$MM_DIR/init.out" || { cat "$MM_DIR/init.out"; return 1; }
	grep -q "gave .*secret.key to uid $RUN_UID" "$MM_DIR/init.out" || {
		cat "$MM_DIR/init.out"; return 1; }
	for f in "$MM_DIR/keys/secret.key" "$MM_DIR/keys/secret.key.pub"; do
		[ "$(stat -c '%u %g %a' "$f")" = "$RUN_UID $RUN_GID 600" ] || {
			echo "$f: $(stat -c '%u %g %a' "$f")"; return 1; }
	done
	mm_lmdb_only && return 0
	for f in "$MM_DIR/state" "$MM_DIR/state/data.mdb" "$MM_DIR/state/lock.mdb"; do
		[ "$(stat -c '%u %g' "$f")" = "$RUN_UID $RUN_GID" ] || {
			echo "$f: $(stat -c '%u %g' "$f")"; return 1; }
	done
}

RELAY_PID=
t_relay_drops() {
	"$RELAY" -c "$CONF" -f </dev/null >>"$MM_DIR/relay.err" 2>&1 &
	RELAY_PID=$!
	echo "$RELAY_PID" >"$MM_DIR/relay.pid"
	wait_for "[ -S '$SOCK' ] && grep -q 'listening on' '$LOG'" 10 || {
		tail -n 5 "$MM_DIR/relay.err"; return 1; }
	# The socket was made as root: group postfix, mode 0660; its
	# directory (made by the relay) is run_user's.
	[ "$(stat -c '%G %a' "$SOCK")" = "postfix 660" ] || {
		echo "socket: $(stat -c '%U %G %a' "$SOCK")"; return 1; }
	[ "$(stat -c %U "$MM_DIR/run")" = "$RUN_USER" ] || return 1
	grep -q "running as $RUN_USER (uid $RUN_UID, gid $RUN_GID)" "$LOG" || return 1
	all_dropped "$RELAY_PID" || return 1
	# The late mail writer (a child) is there and dropped too.
	[ -n "$(cat "/proc/$RELAY_PID/task/$RELAY_PID/children")" ] || {
		echo "no late mail writer"; return 1; }
}
relay_pid_file() { cat "$MM_DIR/relay.pid"; }

t_relay_answers() {
	printf 'ann pass\n' | MM add ann@example.test >/dev/null || return 1
	got=$($RC query "$SOCK" transport unknown@example.test) || return 1
	assert_eq "OK smtp:[$OLD_IP]:25" "$got" "transport of an unknown user"
}

t_relay_hup() {
	n=$(grep -c 'configuration read again' "$LOG")
	kill -HUP "$(relay_pid_file)" || return 1
	wait_for "[ \$(grep -c 'configuration read again' '$LOG') -gt $n ]" 10 || return 1
	! grep -q 'SIGHUP: keeping the running' "$LOG" || return 1
	[ "$(stat -c %U "$LOG")" = "$RUN_USER" ] || return 1
	$RC query "$SOCK" transport unknown@example.test >/dev/null
}

t_relay_stops() {
	pid=$(relay_pid_file)
	kill -TERM "$pid" || return 1
	wait_for "! kill -0 $pid" 10 || return 1
	[ ! -e "$SOCK" ] || { echo "socket left behind"; return 1; }
}

t_puller_drops_and_copies() {
	"$MAILMIGRATED" -c "$CONF" -f </dev/null >>"$MM_DIR/puller.err" 2>&1 &
	pid=$!
	echo "$pid" >"$MM_DIR/puller.pid"
	wait_for "[ -n \"\$(cat /proc/$pid/task/$pid/children)\" ]" 10 || return 1
	all_dropped "$pid" || return 1
	wait_for "MM show ann@example.test | grep -q '^State: *copied'" 60 || {
		MM show ann@example.test; tail -n 5 "$LOG"; return 1; }
	"$PYTHON" "$HARNESS/corpus.py" --verify --host "$NEW_IP" \
		--user "ann@example.test*$NEW_MASTER_USER" \
		--password-file "$NEW_MASTER_PASS_FILE" --manifest "$MM_DIR/ann.json" || return 1
	# SIGHUP: the configuration read again by run_user, workers restarted.
	n=$(grep -c 'SIGHUP: configuration read again' "$LOG")
	kill -HUP "$pid" || return 1
	wait_for "[ \$(grep -c 'SIGHUP: configuration read again' '$LOG') -gt $n ]" 10 || return 1
	wait_for "[ -n \"\$(cat /proc/$pid/task/$pid/children)\" ]" 10 || return 1
	all_dropped "$pid" || return 1
	kill -TERM "$pid" || return 1
	wait_for "! kill -0 $pid" 20
}
stop_daemons() {
	for f in relay.pid puller.pid; do
		[ -f "$MM_DIR/$f" ] && kill -TERM "$(cat "$MM_DIR/$f")" 2>/dev/null
	done
	sleep 0.5
}
mm_at_exit stop_daemons

t_no_run_user_warns() {
	sed '/^run_user/d' "$CONF" >"$MM_DIR/root.conf"
	"$MAILMIGRATED" -c "$MM_DIR/root.conf" -f --once >"$MM_DIR/root.out" 2>&1 || {
		cat "$MM_DIR/root.out"; return 1; }
	grep -q 'running as root: set run_user' "$MM_DIR/root.out"
}

t_unknown_run_user_refused() {
	sed 's/^run_user = .*/run_user = mm-no-such-user/' "$CONF" >"$MM_DIR/bad.conf"
	if "$MAILMIGRATED" -c "$MM_DIR/bad.conf" -f --once >"$MM_DIR/bad.out" 2>&1; then
		echo "started with an unknown run_user"; return 1
	fi
	grep -q "run_user: no user 'mm-no-such-user'" "$MM_DIR/bad.out"
}

check "init as root gives the store and key files to run_user" t_init_gives_files
check "the relay binds as root, then runs as run_user (and its writer)" t_relay_drops
check "the relay answers a lookup as run_user" t_relay_answers
check "SIGHUP: the relay reads the configuration and log as run_user" t_relay_hup
check "the relay removes its socket at exit as run_user" t_relay_stops
check "mailmigrated and its workers run as run_user and copy a mailbox" t_puller_drops_and_copies
check "without run_user a daemon started as root warns" t_no_run_user_warns
check "an unknown run_user is refused at start" t_unknown_run_user_refused
mm_done
