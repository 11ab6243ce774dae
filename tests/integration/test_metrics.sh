#!/bin/sh
# shellcheck disable=SC2317  # t_* run through check()
# test_metrics.sh - Prometheus metrics of mailmigrate-relay and
# mailmigrated, scraped over HTTP after known work, checked for values
# (not only format) and with `promtool check metrics`: lookups through the
# socketmap counted by map and answer, one account copied (its messages
# and bytes), one given up (a wrong password). A metrics address in use
# stops either daemon at start with a message naming it, the store as
# it was. Runs on both store backends (mm_store_conf).

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

mm_require_root_and_pkgs
RELAY=${MAILMIGRATE_RELAY:-$top_builddir/relay/mailmigrate-relay}
MAILMIGRATED=${MAILMIGRATED:-$top_builddir/puller/mailmigrated}
[ -x "$RELAY" ] || skip "mailmigrate-relay not built"
[ -x "$MAILMIGRATED" ] || skip "mailmigrated not built"
command -v promtool >/dev/null 2>&1 || skip "promtool missing (Debian package prometheus)"
RC="$PYTHON $HARNESS/relayclient.py"
MC="$PYTHON $HARNESS/metricscheck.py"
CORPUS="$PYTHON $HARNESS/corpus.py"

mm_servers_start
free_port() {
	"$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
RPORT=$(free_port)
PPORT=$(free_port)
[ "$RPORT" != "$PPORT" ] || PPORT=$(free_port)
RURL=http://127.0.0.1:$RPORT/metrics
PURL=http://127.0.0.1:$PPORT/metrics
SOCK=$MM_DIR/relay.sock

# conf FILE METRICS_PORT RELAY_METRICS_PORT
conf() {
	cat >"$1" <<EOC
$(mm_store_conf $MM_DIR/state)
key_file = $MM_DIR/secret.key
log_file = $MM_DIR/mailmigrate.log
workers = 2
target_host = $NEW_IP:$NEW_IMAP_PORT
target_master_user = $NEW_MASTER_USER
target_master_password_file = $NEW_MASTER_PASS_FILE
relay_listen = unix:$SOCK
metrics_listen = inet:127.0.0.1:$2
relay_metrics_listen = inet:127.0.0.1:$3

[domain example.test]
source_host = $OLD_IP
source_tls = none
relay_nexthop = smtp:[$OLD_IP]:25

[domain example.org]
type = standard
EOC
}
CONF=$MM_DIR/mailmigrate.conf
conf "$CONF" "$PPORT" "$RPORT"
MM() { "$MAILMIGRATE" -c "$CONF" "$@"; }

# ann's mailbox on OLD: the known work of the copy.
mm_adduser old ann@example.test "ann pw"
mm_adduser old bob@example.test "bob pw"
for u in ann bob; do
	sh "$SERVERS_SH" adduser "$MM_DIR" new "$u@example.test" --nopass </dev/null ||
		fail "adduser new $u failed"
done
pw=$(mm_pwfile "ann pw")
$CORPUS --host "$OLD_IP" --user ann@example.test --password-file "$pw" --seed 7 \
	--count 25 --manifest "$MM_DIR/ann.json" >/dev/null || fail "corpus load failed"
rm -f "$pw"
ANN_MSGS=$("$PYTHON" -c 'import json, sys; print(len(json.load(open(sys.argv[1]))["messages"]))' "$MM_DIR/ann.json")
MM init >/dev/null || fail "init failed"

# Checks run in subshells: what they start is remembered in pid files.
stop_all() {
	for f in relay daemon holder; do
		[ -s "$MM_DIR/$f.pid" ] && kill -TERM "$(cat "$MM_DIR/$f.pid")" 2>/dev/null
	done
	return 0
}
trap 'stop_all; mm__cleanup' EXIT

# What an admin would look at to see that nothing changed.
store_snapshot() {
	{ MM list --json; MM log; MM stats --json | grep -v -e '"rate' -e '"now'; } 2>&1
}

# A port held by another program: both daemons refuse to start, saying
# which address, and leave the store alone.
t_port_in_use() {
	"$PYTHON" -c '
import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(1)
print(s.getsockname()[1], flush=True); time.sleep(300)' >"$MM_DIR/held" &
	HOLDER_PID=$!
	echo "$HOLDER_PID" >"$MM_DIR/holder.pid"
	wait_for "[ -s '$MM_DIR/held' ]" 10 || return 1
	held=$(cat "$MM_DIR/held")
	conf "$MM_DIR/busy.conf" "$held" "$held"
	before=$(store_snapshot)
	# mailmigrated without -f: the message must reach stderr before it
	# would have gone to the background.
	out=$("$MAILMIGRATED" -c "$MM_DIR/busy.conf" 2>&1 </dev/null)
	st=$?
	[ "$st" = 3 ] || { echo "mailmigrated: status $st: $out"; return 1; }
	case $out in
	*"metrics_listen: cannot listen on inet:127.0.0.1:$held: Address already in use; not started"*) ;;
	*) echo "mailmigrated said: $out"; return 1 ;;
	esac
	out=$("$RELAY" -c "$MM_DIR/busy.conf" 2>&1 </dev/null)
	st=$?
	[ "$st" = 3 ] || { echo "relay: status $st: $out"; return 1; }
	case $out in
	*"relay_metrics_listen: cannot listen on inet:127.0.0.1:$held: Address already in use; not started"*) ;;
	*) echo "relay said: $out"; return 1 ;;
	esac
	[ ! -e "$SOCK" ] || { echo "relay socket made"; return 1; }
	after=$(store_snapshot)
	[ "$before" = "$after" ] || { echo "store changed:"; echo "$before" >"$MM_DIR/b"; echo "$after" | diff "$MM_DIR/b" -; return 1; }
	kill "$HOLDER_PID"
	rm -f "$MM_DIR/holder.pid"
	# A bad value is refused by the configuration, naming the key.
	sed "s|^metrics_listen = .*|metrics_listen = unix:$MM_DIR/m.sock|" "$CONF" >"$MM_DIR/bad.conf"
	out=$("$MAILMIGRATED" -c "$MM_DIR/bad.conf" -f --once 2>&1)
	st=$?
	[ "$st" = 3 ] || { echo "bad value: status $st"; return 1; }
	case $out in
	*metrics_listen*"expected inet:ADDRESS:PORT"*) ;;
	*) echo "bad value said: $out"; return 1 ;;
	esac
}

t_relay() {
	"$RELAY" -c "$CONF" -f </dev/null >>"$MM_DIR/relay.err" 2>&1 &
	echo $! >"$MM_DIR/relay.pid"
	wait_for "$RC query '$SOCK' transport '*'" 10 || { tail -n 5 "$MM_DIR/relay.err"; return 1; }
	# Known lookups: transport 5 ok (unknown users of a backup domain),
	# 3 notfound (a standard domain) and 1 more notfound ('*', above);
	# mailbox 4 ok; alias 2 notfound.
	$RC query "$SOCK" transport u1@example.test transport u2@example.test \
		transport u3@example.test transport u4@example.test transport u5@example.test \
		transport a@example.org transport b@example.org transport c@example.org \
		mailbox m1@example.test mailbox m2@example.test mailbox m3@example.test \
		mailbox m4@example.test alias x@example.test alias y@example.test \
		>"$MM_DIR/answers" || return 1
	[ "$(grep -c '^OK' "$MM_DIR/answers")" = 9 ] || { cat "$MM_DIR/answers"; return 1; }
	$MC "$RURL" --save "$MM_DIR/relay.page" \
		'mailmigrate_relay_lookups_total{map="transport",answer="ok"}=5' \
		'mailmigrate_relay_lookups_total{map="transport",answer="notfound"}=4' \
		'mailmigrate_relay_lookups_total{map="transport",answer="temp"}=0' \
		'mailmigrate_relay_lookups_total{map="mailbox",answer="ok"}=4' \
		'mailmigrate_relay_lookups_total{map="mailbox",answer="notfound"}=0' \
		'mailmigrate_relay_lookups_total{map="alias",answer="notfound"}=2' \
		'mailmigrate_relay_lookup_duration_seconds_count{map="transport"}=9' \
		'mailmigrate_relay_lookup_duration_seconds_bucket{map="transport",le="+Inf"}=9' \
		'mailmigrate_relay_lookup_duration_seconds_bucket{map="alias",le="1"}=2' \
		'mailmigrate_relay_lookup_duration_seconds_sum{map="mailbox"}=>0' \
		'mailmigrate_relay_store_errors_total=0' \
		'mailmigrate_relay_clients=0' || return 1
	promtool check metrics <"$MM_DIR/relay.page" || return 1
	# Not /metrics, not GET: refused, and the relay keeps answering.
	code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$RPORT/")
	[ "$code" = 404 ] || { echo "GET / gave $code"; return 1; }
	code=$(curl -s -o /dev/null -w '%{http_code}' -X POST "$RURL")
	[ "$code" = 405 ] || { echo "POST gave $code"; return 1; }
	[ "$($RC query "$SOCK" transport u6@example.test)" = "OK smtp:[$OLD_IP]:25" ] || return 1
	$MC "$RURL" 'mailmigrate_relay_lookups_total{map="transport",answer="ok"}=6'
}

t_puller() {
	printf 'ann@example.test:ann pw\nbob@example.test:not bob pw\n' | MM bulk - >/dev/null ||
		return 1
	"$MAILMIGRATED" -c "$CONF" -f </dev/null >>"$MM_DIR/daemon.err" 2>&1 &
	DAEMON_PID=$!
	echo "$DAEMON_PID" >"$MM_DIR/daemon.pid"
	# Both jobs end: ann copied, bob given up (OLD refuses his password).
	wait_for "$MC '$PURL' 'mailmigrate_accounts{state=\"copied\"}=1' \
		'mailmigrate_accounts{state=\"failed\"}=1'" 60 || {
		$MC "$PURL" --save "$MM_DIR/p.page"; cat "$MM_DIR/p.page"; tail -n 20 "$MM_DIR/mailmigrate.log"
		return 1
	}
	store_bytes=$(MM stats --json | "$PYTHON" -c 'import json, sys; print(json.load(sys.stdin)["bytes"])')
	$MC "$PURL" --save "$MM_DIR/puller.page" \
		"mailmigrate_copied_messages_total=$ANN_MSGS" \
		"mailmigrate_copied_bytes_total=$store_bytes" \
		"mailmigrate_store_messages=$ANN_MSGS" \
		"mailmigrate_store_bytes=$store_bytes" \
		'mailmigrate_rounds_total{kind="copy"}=1' \
		'mailmigrate_rounds_total{kind="sync"}=0' \
		'mailmigrate_copy_errors_total{class="give_up"}=1' \
		'mailmigrate_copy_errors_total{class="retry_now"}=0' \
		'mailmigrate_copy_errors_total{class="retry_later"}=0' \
		'mailmigrate_failed_items_total=0' \
		'mailmigrate_store_errors_total=0' \
		'mailmigrate_accounts{state="queued"}=0' \
		'mailmigrate_accounts{state="migrating"}=0' \
		'mailmigrate_jobs{state="pending"}=0' \
		'mailmigrate_auth_first_logins_total{outcome="migrated"}=0' \
		'mailmigrate_auth_first_logins_total{outcome="refused"}=0' \
		'mailmigrate_auth_first_logins_total{outcome="unavailable"}=0' \
		'mailmigrate_auth_first_logins_total{outcome="failed"}=0' \
		'mailmigrate_paused=0' || return 1
	[ "$store_bytes" -gt 0 ] || return 1
	promtool check metrics <"$MM_DIR/puller.page" || return 1
	# A sync round of ann: counted, nothing copied twice.
	MM sync ann@example.test >/dev/null || return 1
	wait_for "$MC '$PURL' 'mailmigrate_rounds_total{kind=\"sync\"}=1'" 30 || return 1
	$MC "$PURL" "mailmigrate_copied_messages_total=$ANN_MSGS" || return 1
	kill -TERM "$DAEMON_PID"
	wait_for "! kill -0 $DAEMON_PID" 20 || { echo "daemon did not stop"; return 1; }
	rm -f "$MM_DIR/daemon.pid"
	# The metrics process went with it.
	! curl -s -o /dev/null "$PURL"
}

check "a metrics port in use stops both daemons, the store unchanged" t_port_in_use
check "relay: lookups by map and answer, latency, promtool" t_relay
check "mailmigrated: copied, given up, rounds, accounts, promtool" t_puller
# The pages as scraped, for the log (and the README's excerpt).
for page in relay puller; do
	[ -f "$MM_DIR/$page.page" ] || continue
	echo "# --- $page page ---"
	sed 's/^/#   /' "$MM_DIR/$page.page"
done
mm_done
