#!/bin/sh
# shellcheck disable=SC2317  # t_* run through check()
# test_puller_split.sh - a large account split by folder over two workers
# (workers = 2, split_min_messages): the worker holding the job hands
# folders out to the idle one, both copy, the holder verifies every
# folder; against real Dovecot OLD and NEW, everything once on NEW.
# Then kill -9 of the assistant with two of its batches in flight: the
# holder sees its process gone (same host: no wait for its lease),
# settles its pending batch and copies what it left: nothing missing,
# nothing twice. And kill -9 of the holder while its assistant copies,
# SIGTERM to the assistant alone, and the dovecot target split (OLD's
# UIDVALIDITY and UIDs kept in every folder).

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

mm_require_root_and_pkgs
MAILMIGRATED=${MAILMIGRATED:-$top_builddir/puller/mailmigrated}
[ -x "$MAILMIGRATED" ] || skip "mailmigrated not built"

CORPUS="$PYTHON $HARNESS/corpus.py"
# About 130 messages in each of the corpus's folders: three batches
# each, so a folder has two in flight.
COUNT=1600

# NEW's doveadm loads our plugin, for the dovecot target's case.
PLUGIN=${MM_DOVEADM_PLUGIN:-$top_builddir/doveadm-plugin/.libs/lib10_doveadm_mailmigrate_plugin.so}
if [ -f "$PLUGIN" ] && command -v unshare >/dev/null 2>&1; then
	MM_DOVEADM_MODULES=$PLUGIN
	export MM_DOVEADM_MODULES
fi
mm_servers_start

# conf NAME [GLOBAL-LINES]
conf() {
	cat >"$MM_DIR/$1.conf" <<EOC
$(mm_store_conf "$MM_DIR/state-$1")
${2:-}
key_file = $MM_DIR/secret-$1.key
log_file = $MM_DIR/mailmigrated-$1.log
workers = 2
split_min_messages = 500
target_host = $NEW_IP:$NEW_IMAP_PORT
target_master_user = $NEW_MASTER_USER
target_master_password_file = $NEW_MASTER_PASS_FILE
default_domain = example.test

[domain example.test]
source_host = $OLD_IP
source_tls = starttls
source_tls_ca_file = $CA_FILE
EOC
	"$MAILMIGRATE" -c "$MM_DIR/$1.conf" init >/dev/null || fail "init $1 failed"
}

# adduser USER: OLD with COUNT messages over the corpus's folders, NEW empty.
adduser() {
	mm_adduser old "$1@example.test" "pw $1"
	sh "$SERVERS_SH" adduser "$MM_DIR" new "$1@example.test" --nopass </dev/null ||
		fail "adduser new $1 failed"
	pw=$(mm_pwfile "pw $1")
	mv "$pw" "$MM_DIR/$1.pw"
	$CORPUS --host "$OLD_IP" --user "$1@example.test" --password-file "$MM_DIR/$1.pw" \
		--seed 11 --count "$COUNT" --no-samples \
		--manifest "$MM_DIR/$1.json" >/dev/null || fail "corpus load for $1 failed"
}

add() {
	{ printf '%s@example.test:' "$1"; printf 'pw %s\n' "$1"; } |
		"$MAILMIGRATE" -c "$MM_DIR/$1.conf" bulk - >/dev/null
}

# Every message of OLD on NEW once, with its flags, date and folder.
verify() {
	$CORPUS --verify --host "$NEW_IP" --user "$1@example.test*$NEW_MASTER_USER" \
		--password-file "$NEW_MASTER_PASS_FILE" --manifest "$MM_DIR/$1.json" \
		--no-samples
}

state() {
	"$MAILMIGRATE" -c "$MM_DIR/$1.conf" show "$1@example.test" --json |
		"$PYTHON" -c 'import json,sys; print(json.load(sys.stdin)["state"])'
}

events() {
	"$MAILMIGRATE" -c "$MM_DIR/$1.conf" log --account "$1@example.test"
}

# run USER [VAR=VALUE ...]: the daemon until the account is copied.
run() {
	u=$1
	shift
	env "$@" "$MAILMIGRATED" -c "$MM_DIR/$u.conf" -f 2>>"$MM_DIR/daemon.err" &
	dpid=$!
	wait_for '[ "$(state "$u")" = copied ]' 240
	ok=$?
	kill -TERM "$dpid"
	wait_for '! kill -0 "$dpid" 2>/dev/null' 20 || { kill -KILL "$dpid"; ok=1; }
	wait "$dpid"
	[ "$ok" = 0 ] || { echo "not copied: $(state "$u")"; events "$u" | tail -20; }
	return "$ok"
}

# The holder's summary: "split: H of N folders copied by this worker,
# A by the worker assisting"; A > 0 and H > 0.
both_copied() {
	line=$(events "$1" | grep "split: [0-9]* of [0-9]* folders copied by this worker")
	echo "$line"
	h=$(echo "$line" | sed -n 's/.*split: \([0-9]*\) of \([0-9]*\) folders.*/\1/p')
	a=$(echo "$line" | sed -n 's/.* \([0-9]*\) by the worker assisting.*/\1/p')
	[ -n "$h" ] && [ -n "$a" ] && [ "$h" -gt 0 ] && [ "$a" -gt 0 ]
}

t_split() {
	conf sp
	adduser sp
	add sp || return 1
	run sp MAILMIGRATED_LEASE_SECONDS=20 || return 1
	both_copied sp || return 1
	events sp | grep "split: .* assisted: [1-9][0-9]* messages" || return 1
	[ "$(mm_pending_batches "$MM_DIR/sp.conf")" = 0 ] || return 1
	verify sp || return 1
	# The assistant's folders were proved with where its copy began:
	# their dates checked, OLD's HIGHESTMODSEQ recorded, so a sync round
	# asks OLD only for what changed, in every folder (none did).
	"$MAILMIGRATE" -c "$MM_DIR/sp.conf" sync sp@example.test >/dev/null || return 1
	"$MAILMIGRATED" -c "$MM_DIR/sp.conf" -f --once 2>>"$MM_DIR/daemon.err" || return 1
	line=$(grep "sp@example.test: copied: " "$MM_DIR/mailmigrated-sp.log" | tail -n 1)
	echo "$line" | grep "OLD listed 0 messages (\([0-9]*\) folders asked only for changes since the last round, \1 of them unchanged)" ||
		{ echo "sync round: $line"; return 1; }
}

# crash_run NAME VAR: NAME's account copied by a daemon whose worker
# kills itself once at the crash point VAR (mailmigrated(8)). The lease
# (300 s, the default) is longer than run's wait (240 s): copied in time
# only if nobody waits for a lease to run out.
crash_run() {
	conf "$1"
	adduser "$1"
	add "$1" || return 1
	: >"$MM_DIR/crash-$1"
	t0=$(date +%s)
	run "$1" "$2=$MM_DIR/crash-$1" || return 1
	echo "copied in $(($(date +%s) - t0)) s with a 300 s lease"
	[ ! -e "$MM_DIR/crash-$1" ] || { echo "the crash point was not reached"; return 1; }
	grep "$2" "$MM_DIR/mailmigrated-$1.log" || return 1
	# The batches in flight settled.
	events "$1" | grep "resumed after an interruption: [1-9][0-9]* of" || return 1
	[ "$(mm_pending_batches "$MM_DIR/$1.conf")" = 0 ] || return 1
	verify "$1"
}

# kill -9 of the assistant: the holder sees its process gone (same host).
t_split_crash() {
	crash_run kc MAILMIGRATED_CRASH_ASSIST_IN_FLIGHT || return 1
	events kc | grep "split: the worker assisting (.*) stopped (its process is gone)" ||
		return 1
	events kc | grep "split: [0-9]* of [0-9]* folders copied by this worker"
}

# kill -9 of the holder while its assistant copies a folder: the daemon
# gives the job back, a worker takes it up, closes the hand-out, and
# the assistant, finding it closed, gives its lease back; the new holder
# settles both slots and copies the rest.
t_split_holder_crash() {
	crash_run hc MAILMIGRATED_CRASH_HOLDER_IN_FLIGHT || return 1
	events hc | grep "died holding the job"
}

# SIGTERM to the assistant alone, mid-folder (the copy slowed by
# max_bytes_per_second so it is): it stops, gives its lease back; the
# holder settles its pending batch and copies the folder it left.
t_split_term() {
	conf st "max_bytes_per_second = 8M"
	adduser st
	add st || return 1
	log=$MM_DIR/mailmigrated-st.log
	"$MAILMIGRATED" -c "$MM_DIR/st.conf" -f 2>>"$MM_DIR/daemon.err" &
	dpid=$!
	wait_for 'grep -q "st@example.test: split: assisting the worker" "$log"' 120
	ok=$?
	apid=$(sed -n 's/.*mailmigrated\[\([0-9]*\)\]: info: st@example.test: split: assisting the worker.*/\1/p' \
		"$log" | head -n 1)
	[ "$ok" = 0 ] && [ -n "$apid" ] && kill -TERM "$apid" || ok=1
	[ "$ok" = 0 ] && wait_for '[ "$(state st)" = copied ]' 240 || ok=1
	kill -TERM "$dpid"
	wait_for '! kill -0 "$dpid" 2>/dev/null' 20 || { kill -KILL "$dpid"; ok=1; }
	wait "$dpid"
	[ "$ok" = 0 ] || { echo "not copied: $(state st)"; events st | tail -20; return 1; }
	grep "mailmigrated\[$apid\]: warning: st@example.test: split: assisting ends: stopped" \
		"$log" || return 1
	events st | grep "split: the worker assisting (.*) stopped (its lease given back" ||
		return 1
	events st | grep "split: [0-9]* of [0-9]* folders copied by this worker, [0-9]* by the worker assisting (until it stopped)" ||
		return 1
	[ "$(mm_pending_batches "$MM_DIR/st.conf")" = 0 ] || return 1
	verify st
}

# The dovecot target under a split: both workers write through their
# own doveadm mailmigrate-import, and every folder keeps OLD's
# UIDVALIDITY and every message its UID (what IMAP clients cached).
t_split_dovecot() {
	[ -n "${MM_DOVEADM_MODULES:-}" ] || { echo "doveadm plugin not built: not run"; return 0; }
	conf dv "target_driver = dovecot
target_doveadm = $NEW_DOVEADM"
	adduser dv
	add dv || return 1
	run dv MAILMIGRATED_LEASE_SECONDS=20 || return 1
	both_copied dv || return 1
	[ "$(mm_pending_batches "$MM_DIR/dv.conf")" = 0 ] || return 1
	verify dv || return 1
	$PYTHON "$HARNESS/uidsnap.py" imap --host "$OLD_IP" --user dv@example.test \
		--password-file "$MM_DIR/dv.pw" >"$MM_DIR/dv.old.snap" || return 1
	$PYTHON "$HARNESS/uidsnap.py" imap --host "$NEW_IP" --user "$NEW_MASTER_USER" \
		--authz dv@example.test --password-file "$NEW_MASTER_PASS_FILE" \
		>"$MM_DIR/dv.new.snap" || return 1
	$PYTHON "$HARNESS/uidsnap.py" compare "$MM_DIR/dv.old.snap" "$MM_DIR/dv.new.snap"
}

check "a large account is copied by two workers, folder by folder; all of it once" t_split
check "kill -9 of the assisting worker mid-batch: none twice, none missing" t_split_crash
check "kill -9 of the holder while its assistant copies: none twice, none missing" \
	t_split_holder_crash
check "SIGTERM to the assistant mid-folder: it stops, the holder finishes; all once" \
	t_split_term
check "the dovecot target split over two workers: OLD's UIDVALIDITY and UIDs kept" \
	t_split_dovecot
mm_done
