#!/bin/sh
# shellcheck disable=SC2317  # t_* run through check()
# test_relay.sh - mailmigrate-relay between a real NEW Postfix (set up by
# contrib/postfix/*.mailmigrate as they are) and real OLD and NEW servers:
# an unmigrated recipient's mail lands on OLD, a migrated one's on NEW,
# an unknown recipient is refused during the SMTP dialogue (address
# verification against OLD) and nothing bounces; with the relay stopped
# mail waits, and once it is back every message arrives once. Then the
# relay's own defences: malformed and oversize queries, a slow client,
# 1,000 idle connections; SIGHUP; a store error answered TEMP.

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

mm_require_root_and_pkgs
RELAY=${MAILMIGRATE_RELAY:-$top_builddir/relay/mailmigrate-relay}
MAILMIGRATED=${MAILMIGRATED:-$top_builddir/puller/mailmigrated}
[ -x "$RELAY" ] || skip "mailmigrate-relay not built"
[ -x "$MAILMIGRATED" ] || skip "mailmigrated not built"
RC="$PYTHON $HARNESS/relayclient.py"

dir=$(mm_tmpdir)
mm_relay_snippets "$dir"
mm_servers_start "$dir"

CONF=$MM_DIR/mailmigrate.conf
cat >"$CONF" <<EOC
$(mm_store_conf $MM_DIR/state)
key_file = $MM_DIR/secret.key
log_file = $MM_DIR/mailmigrate.log
target_host = $NEW_IP:$NEW_IMAP_PORT
target_master_user = $NEW_MASTER_USER
target_master_password_file = $NEW_MASTER_PASS_FILE
relay_listen = unix:$MM_DIR/relay.sock
relay_idle_timeout = 5
relay_request_timeout = 2

[domain example.test]
source_host = $OLD_IP
source_tls = none
relay_nexthop = mm-old:[$OLD_IP]:25

[domain example.org]
type = standard
EOC
MM() { "$MAILMIGRATE" -c "$CONF" "$@"; }
SOCK=$MM_DIR/relay.sock
LOG=$MM_DIR/mailmigrate.log

# The relay runs under a small wrapper that records its pid and, when it
# ends, its exit status (checks run in subshells: no `wait` there).
relay_start() {
	rm -f "$MM_DIR/relay.status" "$MM_DIR/relay.pid"
	(
		"$RELAY" -c "$CONF" -f &
		echo $! >"$MM_DIR/relay.pid"
		wait $!
		echo $? >"$MM_DIR/relay.status"
	) </dev/null >>"$MM_DIR/relay.err" 2>&1 &
	wait_for "[ -S '$SOCK' ] && $RC query '$SOCK' transport '*'" 10 ||
		fail "relay did not start: $(tail -n 5 "$MM_DIR/relay.err")"
}
relay_pid() { cat "$MM_DIR/relay.pid"; }
relay_stop() {
	kill -TERM "$(relay_pid)" || return 1
	wait_for "[ -s '$MM_DIR/relay.status' ]" 10 || { echo "relay did not stop"; return 1; }
	st=$(cat "$MM_DIR/relay.status")
	[ "$st" = 0 ] || { echo "relay exit status $st"; return 1; }
	[ ! -e "$SOCK" ] || { echo "socket left behind"; return 1; }
}
stop_relay_at_exit() {
	if [ -f "$MM_DIR/relay.pid" ] && [ ! -f "$MM_DIR/relay.status" ]; then
		kill -TERM "$(relay_pid)" 2>/dev/null
		wait_for "[ -s '$MM_DIR/relay.status' ]" 5
	fi
	return 0
}
trap 'stop_relay_at_exit; mm__cleanup' EXIT

# Mail of user@dom on side old|new: messages in its Maildir.
count() { mm_maildir_count "$(eval echo "\$$(echo "$1" | tr "[:lower:]" "[:upper:]")_MAILDIR_ROOT")/${2#*@}/${2%@*}"; }
# Wait until user@dom has N messages on side.
wait_count() { wait_for "[ \$(count $1 $2) -eq $3 ]" 30; }
N=0
send() {
	# A fresh envelope sender each time: Postfix caches a route per
	# (sender, recipient) for 30 s.
	N=$((N + 1))
	swaks --server "$NEW_IP:25" --helo client.example.net \
		--from "sender$N@example.net" --to "$1" \
		--header "Subject: relay test $N" --timeout 30 2>&1
}
queue_empty() {
	postqueue -c "$NEW_POSTFIX_DIR" -p 2>&1 | grep -q 'Mail queue is empty'
}

# Users: una only on OLD and unknown to the store (not migrated);
# mig on both, copied by the puller; que on OLD and queued (copy pending).
mm_adduser old una@example.test "una pass"
mm_adduser old mig@example.test "mig pass"
mm_adduser old que@example.test "que pass"
for u in mig que; do
	sh "$SERVERS_SH" adduser "$MM_DIR" new "$u@example.test" --nopass </dev/null ||
		fail "adduser new $u"
done
MM init >/dev/null || fail "init failed"
printf 'mig@example.test:mig pass\n' | MM bulk - >/dev/null || fail "bulk mig"
"$MAILMIGRATED" -c "$CONF" -f --once 2>>"$MM_DIR/puller.err" || fail "puller failed"
printf 'que@example.test:que pass\n' | MM bulk - >/dev/null || fail "bulk que"
MM show mig@example.test | grep -q copied || fail "mig not copied: $(MM show mig@example.test)"
relay_start

t_unmigrated_to_old() {
	send una@example.test >"$MM_DIR/swaks.una" || { cat "$MM_DIR/swaks.una"; return 1; }
	wait_count old una@example.test 1 || return 1
	assert_eq 0 "$(count new una@example.test)" "una on NEW"
	grep -q 'relay=.*127\.0\..*:25.*status=sent' "$NEW_POSTFIX_LOG"
}

t_migrated_to_new() {
	send mig@example.test >"$MM_DIR/swaks.mig" || { cat "$MM_DIR/swaks.mig"; return 1; }
	wait_count new mig@example.test 1 || return 1
	assert_eq 0 "$(count old mig@example.test)" "mig on OLD"
}

t_queued_to_old_counts_late_mail() {
	send que@example.test >"$MM_DIR/swaks.que" || { cat "$MM_DIR/swaks.que"; return 1; }
	wait_count old que@example.test 1 || return 1
	assert_eq 0 "$(count new que@example.test)" "que on NEW"
	# Counted within about a second by the relay.
	wait_for "MM show que@example.test --json | $PYTHON -c 'import json,sys; sys.exit(json.load(sys.stdin)[\"late_mail\"] < 1)'" 10 ||
		{ MM show que@example.test --json; return 1; }
}

t_unknown_refused_no_bounce() {
	if send ghost@example.test >"$MM_DIR/swaks.ghost"; then
		cat "$MM_DIR/swaks.ghost"
		echo "mail for an unknown user was accepted"
		return 1
	fi
	grep -q '<\*\* 550.*ghost@example.test' "$MM_DIR/swaks.ghost" ||
		{ cat "$MM_DIR/swaks.ghost"; return 1; }
	# Refused during the dialogue: nothing queued, nothing bounced.
	wait_for queue_empty 20 || { postqueue -c "$NEW_POSTFIX_DIR" -p; return 1; }
	if grep -q 'status=bounced' "$NEW_POSTFIX_LOG" "$OLD_POSTFIX_LOG"; then
		grep 'status=bounced' "$NEW_POSTFIX_LOG" "$OLD_POSTFIX_LOG"
		return 1
	fi
}

# Relay down: SMTP clients are told to retry (4xx), mail already in
# NEW's hands waits in its queue; relay up again: each message arrives
# once, where it belongs.
t_relay_down_nothing_lost() {
	old_before=$(count old una@example.test)
	new_before=$(count new mig@example.test)
	relay_stop || return 1
	if send una@example.test >"$MM_DIR/swaks.down"; then
		echo "accepted while the relay was down"; return 1
	fi
	grep -q '<\*\* 4[0-9][0-9]' "$MM_DIR/swaks.down" || { cat "$MM_DIR/swaks.down"; return 1; }
	# Submitted locally while it is down: held, not bounced.
	for rcpt in una@example.test mig@example.test una@example.test; do
		N=$((N + 1))
		printf 'Subject: while the relay was down %s\n\nbody\n' "$N" |
			sendmail -C "$NEW_POSTFIX_DIR" -f "down$N@example.net" "$rcpt" ||
			return 1
	done
	sleep 2	# let pickup and the queue manager try (and fail) at least once
	assert_eq "$old_before" "$(count old una@example.test)" "una while down"
	assert_eq "$new_before" "$(count new mig@example.test)" "mig while down"
	relay_start
	postkick -c "$NEW_POSTFIX_DIR" public pickup W 2>/dev/null
	postqueue -c "$NEW_POSTFIX_DIR" -f
	wait_count old una@example.test $((old_before + 2)) || return 1
	wait_count new mig@example.test $((new_before + 1)) || return 1
	wait_for queue_empty 30 || return 1
	# And not twice.
	sleep 2
	assert_eq $((old_before + 2)) "$(count old una@example.test)" "una after"
	assert_eq $((new_before + 1)) "$(count new mig@example.test)" "mig after"
	! grep -q 'status=bounced' "$NEW_POSTFIX_LOG"
}

t_defences() {
	$RC abuse "$SOCK" "$LOG" --idle 1000
}

t_sighup() {
	kill -HUP "$(relay_pid)"
	wait_for "grep -q 'SIGHUP: configuration read again' '$LOG'" 10 || return 1
	# A broken file is reported and the running configuration kept.
	cp "$CONF" "$CONF.good"
	echo "no_such_key = 1" >>"$CONF"
	kill -HUP "$(relay_pid)"
	wait_for "grep -q 'SIGHUP: keeping the running configuration' '$LOG'" 10 || return 1
	mv "$CONF.good" "$CONF"
	r=$($RC query "$SOCK" transport una@example.test) || return 1
	assert_eq "OK mm-old:[$OLD_IP]:25" "$r" "after a bad SIGHUP"
}

t_mailbox_and_alias_maps() {
	r=$($RC query "$SOCK" mailbox mig@example.test mailbox nobody@example.org \
		alias mig@example.test) || return 1
	assert_eq "OK mig@example.test
NOTFOUND 
NOTFOUND " "$r" "replies"
}

# A second relay on the same store, on inet:127.0.0.1:PORT, with
# relay_max_clients = 3 (no Postfix talks to this one): it answers as the
# first, and refuses a fourth client, saying so.
t_inet_and_max_clients() {
	port=$("$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	{
		echo "relay_max_clients = 3"
		sed -e "s|^relay_listen = .*|relay_listen = inet:127.0.0.1:$port|" \
		    -e "s|^log_file = .*|log_file = $MM_DIR/relay-inet.log|" "$CONF"
	} >"$CONF.inet"
	"$RELAY" -c "$CONF.inet" -f </dev/null >>"$MM_DIR/relay-inet.err" 2>&1 &
	ipid=$!
	wait_for "$RC query 127.0.0.1:$port transport '*'" 10 || { kill "$ipid"; return 1; }
	r=$($RC query "127.0.0.1:$port" transport una@example.test transport mig@example.test)
	"$PYTHON" - "$port" <<'EOP'
import socket, sys
port = int(sys.argv[1])
conns = [socket.create_connection(("127.0.0.1", port)) for i in range(3)]
s = socket.create_connection(("127.0.0.1", port)); s.settimeout(10)
assert s.recv(10) == b"", "a fourth client was served"
q = b"transport *"
conns[0].sendall(b"%d:%s," % (len(q), q)); conns[0].settimeout(10)
assert conns[0].recv(100) == b"9:NOTFOUND ,", "the first three are served"
EOP
	st=$?
	kill -TERM "$ipid"
	wait "$ipid" || return 1
	[ "$st" = 0 ] || return 1
	assert_eq "OK mm-old:[$OLD_IP]:25
NOTFOUND " "$r" "inet replies"
	grep -q 'refused: 3 clients connected (relay_max_clients)' "$MM_DIR/relay-inet.log"
}

# The static maps that replace the relay give the same answers.
t_export_postfix_maps() {
	mkdir -p "$MM_DIR/maps" || return 1
	MM export postfix-maps "$MM_DIR/maps" >"$MM_DIR/export.out" 2>&1 ||
		{ cat "$MM_DIR/export.out"; return 1; }
	grep -q 'example.test is still type = backup' "$MM_DIR/export.out" || return 1
	for m in transport virtual_mailbox virtual_alias; do
		postmap -c "$NEW_POSTFIX_DIR" "lmdb:$MM_DIR/maps/$m" || return 1
	done
	assert_eq "mm-old:[$OLD_IP]:25" \
		"$(postmap -c "$NEW_POSTFIX_DIR" -q que@example.test "lmdb:$MM_DIR/maps/transport")" \
		"transport of que"
	postmap -c "$NEW_POSTFIX_DIR" -q mig@example.test "lmdb:$MM_DIR/maps/transport" &&
		{ echo "mig routed to OLD"; return 1; }
	assert_eq OK "$(postmap -c "$NEW_POSTFIX_DIR" -q mig@example.test \
		"lmdb:$MM_DIR/maps/virtual_mailbox")" "mailbox of mig"
	grep -q "^virtual_alias_maps = lmdb:$MM_DIR/maps/virtual_alias\$" "$MM_DIR/maps/main.cf"
}

check "unmigrated recipient: mail lands on OLD" t_unmigrated_to_old
check "migrated recipient: mail lands on NEW" t_migrated_to_new
check "queued recipient: OLD, and late_mail counted" t_queued_to_old_counts_late_mail
check "unknown recipient refused at RCPT (verified with OLD), no bounce" t_unknown_refused_no_bounce
check "relay down: deferred; back up: delivered once" t_relay_down_nothing_lost
check "mailbox and alias maps" t_mailbox_and_alias_maps
check "malformed, oversize, slow and 1000 idle clients: logged, others served" t_defences
check "SIGHUP reloads; a bad file keeps the running configuration" t_sighup
check "inet: listener; relay_max_clients refuses one more" t_inet_and_max_clients
check "export postfix-maps: lmdb maps with the relay's answers" t_export_postfix_maps
# finish says which accounts had mail relayed to OLD late (que).
t_finish_names_late_mail() {
	out=$(MM finish) || { printf '%s\n' "$out"; return 1; }
	assert_contains "$out" "1 account had mail relayed to OLD after the copy was queued"
}

check "SIGTERM: clean exit, socket removed" relay_stop
check "finish counts the accounts with late mail" t_finish_names_late_mail

# The benchmark runs (a tiny one: no figures are judged here).
t_bench_smoke() {
	out=$(MM_BUILDDIR=$top_builddir sh "$top_srcdir/bench/relay-bench.sh" -a 50 -q 400 -c "1 4" -s 3 2>&1) ||
		{ printf '%s\n' "$out"; return 1; }
	assert_contains "$out" "relay, 4 clients"
	assert_contains "$out" "postmap -q - lmdb: (1 process)"
	assert_contains "$out" "postmap -q KEY lmdb: (1 per lookup)"
}
check "bench/relay-bench.sh runs (smoke)" t_bench_smoke
mm_done
