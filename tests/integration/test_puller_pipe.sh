#!/bin/sh
# shellcheck disable=SC2317  # t_* run through check()
# test_puller_pipe.sh - both sides busy at once: the next batch streams
# from OLD into NEW's second session while NEW commits the last one.
# Overlap: a relay in front of the real OLD and NEW (holdproxy.py) holds
# NEW's answer to the first MULTIAPPEND until OLD is asked for the next
# batch's bodies (a copy that waited for the answer would time out there).
# kill -9 with two batches in flight (the first answered, the second
# committed on NEW, the store knowing neither done), for target_driver =
# imap and dovecot: the rerun settles both, nothing missing, nothing twice.

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

mm_require_root_and_pkgs
MAILMIGRATED=${MAILMIGRATED:-$top_builddir/puller/mailmigrated}
[ -x "$MAILMIGRATED" ] || skip "mailmigrated not built"
PLUGIN=${MM_DOVEADM_PLUGIN:-$top_builddir/doveadm-plugin/.libs/lib10_doveadm_mailmigrate_plugin.so}
[ -f "$PLUGIN" ] || skip "doveadm plugin not built ($PLUGIN)"

CORPUS="$PYTHON $HARNESS/corpus.py"
# Five batches of 64 in INBOX.
COUNT=300
PORT=14301

MM_DOVEADM_MODULES=$PLUGIN
export MM_DOVEADM_MODULES
mm_servers_start

# conf NAME TARGET_DRIVER SOURCE_HOST SOURCE_TLS TARGET_HOST
conf() {
	cat >"$MM_DIR/$1.conf" <<EOC
$(mm_store_conf "$MM_DIR/state-$1")
key_file = $MM_DIR/secret-$1.key
log_file = $MM_DIR/mailmigrated-$1.log
workers = 1
target_driver = $2
target_doveadm = $NEW_DOVEADM
target_host = $5
target_master_user = $NEW_MASTER_USER
target_master_password_file = $NEW_MASTER_PASS_FILE
default_domain = example.test

[domain example.test]
source_host = $3
source_tls = $4
source_tls_ca_file = $CA_FILE
EOC
	"$MAILMIGRATE" -c "$MM_DIR/$1.conf" init >/dev/null || fail "init $1 failed"
}

# adduser USER: OLD with COUNT messages in INBOX, NEW empty.
adduser() {
	mm_adduser old "$1@example.test" "pw $1"
	sh "$SERVERS_SH" adduser "$MM_DIR" new "$1@example.test" --nopass </dev/null ||
		fail "adduser new $1 failed"
	pw=$(mm_pwfile "pw $1")
	mv "$pw" "$MM_DIR/$1.pw"
	$CORPUS --host "$OLD_IP" --user "$1@example.test" --password-file "$MM_DIR/$1.pw" \
		--seed 7 --count "$COUNT" --inbox-only --no-samples \
		--manifest "$MM_DIR/$1.json" >/dev/null || fail "corpus load for $1 failed"
}

# add CONF USER: queue the account with its password.
add() {
	{ printf '%s@example.test:' "$2"; printf 'pw %s\n' "$2"; } |
		"$MAILMIGRATE" -c "$MM_DIR/$1.conf" bulk - >/dev/null
}

verify() {
	$CORPUS --verify --host "$NEW_IP" --user "$1@example.test*$NEW_MASTER_USER" \
		--password-file "$NEW_MASTER_PASS_FILE" --manifest "$MM_DIR/$1.json" \
		--inbox-only --no-samples
}

state() {
	"$MAILMIGRATE" -c "$MM_DIR/$1.conf" show "$2@example.test" --json |
		"$PYTHON" -c 'import json,sys; print(json.load(sys.stdin)["state"])'
}

t_overlap() {
	conf overlap imap "$OLD_IP:$PORT" none "$NEW_IP:$PORT"
	adduser lap
	$PYTHON "$HARNESS/holdproxy.py" --old "$OLD_IP:$PORT=$OLD_IP:$OLD_IMAP_PORT" \
		--new "$NEW_IP:$PORT=$NEW_IP:$NEW_IMAP_PORT" --report "$MM_DIR/hold.txt" \
		--hold-max 20 >"$MM_DIR/hold.out" 2>&1 &
	hold=$!
	mm_at_exit "kill $hold 2>/dev/null"
	wait_for "grep -q ready '$MM_DIR/hold.out'" 10 || { kill "$hold"; return 1; }
	add overlap lap || { kill "$hold"; return 1; }
	"$MAILMIGRATED" -c "$MM_DIR/overlap.conf" -f --once 2>>"$MM_DIR/daemon.err"
	rc=$?
	kill "$hold"
	wait "$hold"
	[ "$rc" = 0 ] || return 1
	cat "$MM_DIR/hold.txt"
	grep -q '^overlap ' "$MM_DIR/hold.txt" || return 1
	# Two sessions on NEW: the copy's, and the pipeline's second.
	grep -Eq 'new_sessions=([2-9]|[1-9][0-9])' "$MM_DIR/hold.txt" || return 1
	[ "$(state overlap lap)" = copied ] || return 1
	verify lap
}

# kill -9 with two batches in flight, then a rerun: TARGET_DRIVER USER
crash_in_flight() {
	conf "$2" "$1" "$OLD_IP" starttls "$NEW_IP:$NEW_IMAP_PORT"
	adduser "$2"
	add "$2" "$2" || return 1
	: >"$MM_DIR/crash-$2"
	MAILMIGRATED_CRASH_IN_FLIGHT=$MM_DIR/crash-$2 \
		"$MAILMIGRATED" -c "$MM_DIR/$2.conf" -f --once 2>>"$MM_DIR/daemon.err"
	[ ! -e "$MM_DIR/crash-$2" ] || { echo "the crash point was not reached"; return 1; }
	[ "$(state "$2" "$2")" = migrating ] || return 1
	[ "$(mm_pending_batches "$MM_DIR/$2.conf")" = 1 ] || return 1
	"$MAILMIGRATED" -c "$MM_DIR/$2.conf" -f --once 2>>"$MM_DIR/daemon.err" || return 1
	[ "$(state "$2" "$2")" = copied ] || return 1
	# Both batches were pending: the first answered by NEW, the second
	# committed there (or, if NEW had not got to it, not yet).
	line=$("$MAILMIGRATE" -c "$MM_DIR/$2.conf" log --account "$2@example.test" |
		grep "resumed after an interruption")
	echo "$line"
	echo "$line" | grep -Eq ": (64|128) of 128 messages of the last batch" || return 1
	[ "$(mm_pending_batches "$MM_DIR/$2.conf")" = 0 ] || return 1
	verify "$2"
}

t_crash_imap() {
	crash_in_flight imap kimap
}

t_crash_dovecot() {
	crash_in_flight dovecot kdove
}

check "the next batch is fetched from OLD while NEW commits the last" t_overlap
check "kill -9 with two batches in flight (imap target): none twice, none missing" t_crash_imap
check "kill -9 with two batches in flight (dovecot target): none twice, none missing" t_crash_dovecot
mm_done
