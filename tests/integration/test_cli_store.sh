#!/bin/sh
# shellcheck disable=SC2317  # t_* run through check()
# shellcheck source-path=SCRIPTDIR
# test_cli_store.sh - mailmigrate(8) against a real store: init, add, bulk,
# list, show, stats, log (text and JSON), --messages-only, pause, resume,
# reset; and no test password in any output, the event log, the LMDB files
# or the process table.
#
# Needs no mail server and no root: only the built CLI and python3 (to
# check the JSON). Skipped (77) only when the CLI is missing.

# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

MAILMIGRATE=${MAILMIGRATE:-${top_builddir:-$(dirname "$0")/../..}/cli/mailmigrate}
[ -x "$MAILMIGRATE" ] || skip "no mailmigrate binary at $MAILMIGRATE (run make)"
command -v "$PYTHON" >/dev/null 2>&1 ||
	fail "python3 is needed to check the JSON (run tests/install-deps.sh)"

T0=$(date +%s%N)
D=$(mm_tmpdir) || exit 1
mm_cleanup_dir "$D"
CONF=$D/mailmigrate.conf
STATE=$D/state
KEY=$D/secret.key
ALL=$D/all-output		# every stdout and stderr, for the secrets check
PWS=$D/passwords		# the test passwords, one a line (grep -f)
: >"$ALL"

# Passwords go through shell builtins only (printf), never an argv.
PW_ALICE='alice-Pw_7Qz!x'
PW_ALICE2='alice-NEW-pw#99'
PW_ERIN='erin pw with spaces'
PW_BOB='bob-pwonly-Kk3'
PW_CAROL='carol:pw:with:colons'
PW_DAVE='dave-pw-Zz8'
PW_FRANK='frank-pwonly-Vv2'
PW_GRACE='grace-crlf-Pp5'
PW_HEIDI='heidi-stdin-Hh6'
PW_IVAN='ivan-ps-check-Ii7'
PW_JUDY='judy-ps-check-Jj8'
for p in "$PW_ALICE" "$PW_ALICE2" "$PW_ERIN" "$PW_BOB" "$PW_CAROL" "$PW_DAVE" \
	"$PW_FRANK" "$PW_GRACE" "$PW_HEIDI" "$PW_IVAN" "$PW_JUDY"; do
	printf '%s\n' "$p"
done >"$PWS"

cat >"$CONF" <<EOF
# test_cli_store.sh
$(mm_store_conf $STATE)
key_file = $KEY
default_domain = example.test

[domain example.test]
source_host = 127.0.0.2

[domain example.org]
source_host = 127.0.0.2:143

[domain pwonly.test]
source_host = 127.0.0.2
passwords_only = yes
EOF

# Run CMD... with TEXT and a newline on stdin: a here-document, so the
# text is on no command line (a pipe would run CMD in a subshell).
feed() {
	feed_text=$1
	shift
	"$@" <<EOF
$feed_text
EOF
}

# Run the CLI: stdout in $D/out, stderr in $D/err, status in $RC.
mm() {
	"$MAILMIGRATE" -c "$CONF" "$@" >"$D/out" 2>"$D/err"
	RC=$?
	cat "$D/out" "$D/err" >>"$ALL"
}

# The same with another configuration file: run CONF ARGS...
run() {
	run_conf=$1
	shift
	"$MAILMIGRATE" -c "$run_conf" "$@" >"$D/out" 2>"$D/err"
	RC=$?
	cat "$D/out" "$D/err" >>"$ALL"
}

out() { cat "$D/out"; }
err() { cat "$D/err"; }

# Evaluate Python expressions on the JSON in $D/out (bound to d); print
# their values joined by spaces. One interpreter per call: it is slow.
jget() {
	"$PYTHON" -c '
import json, sys
d = json.load(open(sys.argv[1]))
print(" ".join(str(eval(e)) for e in sys.argv[2:]))' "$D/out" "$@" ||
		fail "bad JSON or expression: $*"
}

# The JSON in $D/out is valid (python3 -m json.tool).
json_ok() {
	"$PYTHON" -m json.tool "$D/out" >/dev/null 2>&1 ||
		fail "${1:-output} is not valid JSON: $(head -c 300 "$D/out")"
}

t_init() {
	mm init
	assert_eq 0 "$RC" "init status ($(err))"
	if [ "$MM_TEST_BACKEND" = lmdb ]; then
		assert_contains "$(out)" "created state_dir $STATE"
		assert_contains "$(out)" "created store in $STATE"
	else
		assert_contains "$(out)" "created store postgresql:"
		[ ! -e "$STATE" ] || fail "init made state_dir for a PostgreSQL store"
	fi
	assert_contains "$(out)" "created key file $KEY (mode 0600)"
	assert_eq 600 "$(stat -c %a "$KEY")" "key file mode"
	assert_eq 64 "$(stat -c %s "$KEY")" "key file size"
	# The auth workers' file, next to key_file (issue 9).
	assert_contains "$(out)" "created public key file $KEY.pub (mode 0600"
	assert_eq 600 "$(stat -c %a "$KEY.pub")" "public key file mode"
	assert_eq 64 "$(stat -c %s "$KEY.pub")" "public key file size"
	sha256sum "$KEY" "$KEY.pub" >"$D/key.sum"
	mm_lmdb_only && return 0
	assert_eq 2770 "$(stat -c %a "$STATE")" "state_dir mode"
	[ -f "$STATE/data.mdb" ] || fail "no data.mdb after init"
}

t_init_again() {
	mm init
	assert_eq 0 "$RC" "second init status ($(err))"
	if [ "$MM_TEST_BACKEND" = lmdb ]; then
		assert_contains "$(out)" "store in $STATE already exists"
	else
		assert_contains "$(out)" "already exists (schema up to date)"
	fi
	assert_contains "$(out)" "key file $KEY already exists and is valid"
	case $(out) in *created*) fail "second init created something: $(out)" ;; esac
	assert_contains "$(out)" "public key file $KEY.pub already exists and matches"
	sha256sum -c --quiet "$D/key.sum" || fail "second init changed the key"
}

# An install from before the key pair: a 32-byte key_file. init keeps
# that key (old records open with it) and adds the pair and the public
# key file; a public key file of another pair is refused (issue 9).
t_init_upgrade() {
	# A store of its own (on PostgreSQL, a database of its own).
	oldstore=$(mm_store_conf "$D/old" | sed -n 's/^store = //p')
	sed -e "s|^state_dir = .*|state_dir = $D/old|" \
	    -e "s|^store = .*|store = $oldstore|" \
	    -e "s|^key_file = .*|key_file = $D/old.key|" "$CONF" >"$D/old.conf"
	head -c 32 /dev/urandom >"$D/old.key"
	chmod 640 "$D/old.key"
	cp -p "$D/old.key" "$D/old.key.orig"
	run "$D/old.conf" init
	assert_eq 0 "$RC" "init over an old key file ($(err))"
	assert_contains "$(out)" "added an X25519 key pair to key file $D/old.key"
	assert_contains "$(out)" "created public key file $D/old.key.pub"
	assert_eq 64 "$(stat -c %s "$D/old.key")" "upgraded key file size"
	assert_eq 640 "$(stat -c %a "$D/old.key")" "upgraded key file mode"
	cmp -s -n 32 "$D/old.key" "$D/old.key.orig" || fail "init lost the old key"
	assert_contains "$(err)" "is readable by its group"
	feed "$PW_ALICE" run "$D/old.conf" add alice
	assert_eq 0 "$RC" "add after the upgrade ($(err))"
	run "$D/old.conf" init
	assert_contains "$(out)" "key file $D/old.key already exists and is valid"
	# The public key file of another install: refused.
	cp -p "$KEY.pub" "$D/old.key.pub"
	run "$D/old.conf" init
	assert_eq 3 "$RC" "init with a mismatched public key file"
	assert_contains "$(err)" "does not hold the public key of the key file"
}

t_add_stdin() {
	feed "$PW_ALICE" mm add alice
	assert_eq 0 "$RC" "add alice ($(err))"
	assert_eq "alice@example.test: queued for migration" "$(out)"
	# $MAILMIGRATE_CONF instead of -c, --domain, CRLF on stdin.
	printf '%s\r\n' "$PW_ERIN" | MAILMIGRATE_CONF=$CONF \
		"$MAILMIGRATE" add Erin --domain example.org >"$D/out" 2>"$D/err"
	assert_eq 0 "$?" "add erin --domain ($(err))"
	cat "$D/out" "$D/err" >>"$ALL"
	assert_eq "erin@example.org: queued for migration" "$(out)"
	feed "$PW_BOB" mm add bob@pwonly.test
	assert_eq 0 "$RC" "add bob@pwonly.test ($(err))"
	assert_contains "$(out)" "passwords only"
}

t_add_exists() {
	mm list --json
	cp "$D/out" "$D/list.before"
	feed "$PW_ALICE2" mm add ALICE@Example.Test
	assert_eq 1 "$RC" "add existing account"
	assert_eq "mailmigrate: add: account 'alice@example.test' already exists, cannot migrate" \
		"$(err)"
	mm list --json
	cmp -s "$D/out" "$D/list.before" || fail "a refused add changed the store"
}

t_bulk_good() {
	{
		printf '# accounts for test_cli_store.sh\n\n   \n'
		printf 'carol:%s:example.test\n' "$PW_CAROL"
		printf 'dave@example.org:%s\n' "$PW_DAVE"
		printf '\t# indented comment\n'
		printf 'frank:%s:pwonly.test\n' "$PW_FRANK"
		printf 'grace:%s\r\n' "$PW_GRACE"
	} >"$D/users.txt"
	chmod 600 "$D/users.txt"
	mm bulk "$D/users.txt"
	assert_eq 0 "$RC" "bulk status ($(err))"
	assert_eq "4 accounts queued, 0 lines rejected" "$(out)"
	assert_eq "" "$(err)" "bulk stderr"
	feed "heidi:$PW_HEIDI" mm bulk -
	assert_eq 0 "$RC" "bulk - ($(err))"
	assert_eq "1 accounts queued, 0 lines rejected" "$(out)"
}

# Expected now: queued alice carol dave erin grace heidi; passwords-only
# bob frank: 8 accounts.
t_list_text() {
	mm list
	assert_eq 0 "$RC" "list ($(err))"
	assert_eq "ACCOUNT STATE MESSAGES SIZE UPDATED" \
		"$(out | head -n 1 | tr -s ' ')" "list header"
	assert_eq 9 "$(out | wc -l)" "list lines"
	assert_contains "$(out)" "carol@example.test  queued"
	out | grep -q '^bob@pwonly.test  *passwords-only  *0  *0 B  *20[0-9][0-9]-' ||
		fail "no aligned row for bob: $(out)"
	# Columns line up: STATE starts at the same offset on every line.
	n=$(out | awk '{ print index($0, $2) }' | sort -u | wc -l)
	assert_eq 1 "$n" "STATE column alignment"
	mm list --state passwords-only
	assert_eq 3 "$(out | wc -l)" "list --state passwords-only lines"
}

t_list_json() {
	mm list --json
	assert_eq 0 "$RC" "list --json ($(err))"
	json_ok "list --json"
	assert_eq "8 6 2 True True" \
		"$(jget 'len(d)' 'sum(a["state"] == "queued" for a in d)' \
			'sum(a["state"] == "passwords-only" for a in d)' \
			'all(isinstance(a["messages"], int) and a["copy_started"] is None for a in d)' \
			'all(a["created"].endswith("Z") and len(a["created"]) == 20 for a in d)')" \
		"accounts, per state, numbers, null and UTC times"
	assert_eq "alice@example.test,bob@pwonly.test,carol@example.test,dave@example.org,erin@example.org,frank@pwonly.test,grace@example.test,heidi@example.test" \
		"$(jget '",".join(a["account"] for a in d)')" "account names"
	mm list --json --state queued
	assert_eq 6 "$(jget 'len(d)')" "list --state queued"
}

t_show() {
	mm show alice
	assert_eq 0 "$RC" "show alice ($(err))"
	assert_contains "$(out)" "Account:                  alice@example.test"
	assert_contains "$(out)" "Password hash:            {SHA512-CRYPT}"
	assert_contains "$(out)" "Captured password:        stored (sealed)"
	assert_contains "$(out)" "Job:                      copy (#"
	assert_contains "$(out)" "queued for migration by mailmigrate add"
	# shellcheck disable=SC2016  # a literal "$6$", the SHA512-CRYPT prefix
	case $(out) in *'$6$'*) fail "show printed the hash" ;; esac
	mm show alice@example.test --json
	json_ok "show --json"
	assert_eq "queued SHA512-CRYPT True copy 0 False [] [] [] info alice@example.test" \
		"$(jget 'd["state"]' 'd["password_scheme"]' 'd["captured_password"]' \
			'd["job"]["kind"]' 'd["job"]["attempts"]' 'd["job"]["leased"]' \
			'd["folders"]' 'd["aliases"]' 'd["flags"]' \
			'd["events"][0]["severity"]' 'd["events"][0]["account"]')" \
		"show alice fields"
	mm show bob@pwonly.test --json
	assert_eq "passwords-only False None" \
		"$(jget 'd["state"]' 'd["captured_password"]' 'd["job"]')" \
		"passwords-only account: no captured password, no job"
	mm show nobody
	assert_eq 1 "$RC" "show missing account"
	assert_eq "mailmigrate: show: account 'nobody@example.test' does not exist" "$(err)"
}

t_stats() {
	mm stats
	assert_eq 0 "$RC" "stats ($(err))"
	assert_contains "$(out)" "Mailboxes total:          8"
	assert_contains "$(out)" "Mailboxes queued:         6"
	assert_contains "$(out)" "Mailboxes migrated:       0"
	assert_contains "$(out)" "Mailboxes passwords-only: 2"
	assert_contains "$(out)" "Jobs pending:             6"
	assert_contains "$(out)" "Last migrated mailbox:    never"
	assert_contains "$(out)" "Paused:                   no"
	out | grep -q '^Start of migration:       20[0-9][0-9]-[0-9][0-9]-[0-9][0-9] [0-9:]\{8\} [+-][0-9]\{4\}$' ||
		fail "no local ISO-8601 start time: $(out)"
	mm stats --json
	json_ok "stats --json"
	assert_eq "8 6 0 0 0 2 0 0 6 0 False None True" \
		"$(jget '" ".join(str(d[k]) for k in ("mailboxes_total", "mailboxes_queued", "mailboxes_migrating", "mailboxes_migrated", "mailboxes_failed", "mailboxes_passwords_only", "messages", "bytes", "jobs_pending", "jobs_leased", "paused", "last_migrated"))' \
			'd["started"].endswith("Z")')" \
		"stats figures"
}

t_log() {
	mm log
	assert_eq 0 "$RC" "log ($(err))"
	# init's event, then one per account added.
	assert_eq 9 "$(out | wc -l)" "log lines"
	assert_contains "$(out | head -n 1)" "store created by mailmigrate init"
	assert_contains "$(out | tail -n 1)" "heidi@example.test: queued for migration by mailmigrate bulk"
	mm log -n 2 --json
	json_ok "log --json"
	assert_eq "2 grace@example.test heidi@example.test True" \
		"$(jget 'len(d)' 'd[0]["account"]' 'd[1]["account"]' 'd[0]["id"] < d[1]["id"]')" \
		"log -n 2, oldest first"
	mm log --errors --json
	assert_eq 0 "$(jget 'len(d)')" "no error events"
	mm log --account bob@pwonly.test --json
	assert_eq 1 "$(jget 'len(d)')" "bob's events"
	mm log -n 0 --json
	assert_eq "9 None" "$(jget 'len(d)' 'd[0]["account"]')" \
		"log -n 0: all; a global event has a null account"
}

t_messages_only() {
	feed "$PW_ALICE2" mm add alice --messages-only
	assert_eq 0 "$RC" "add --messages-only existing ($(err))"
	assert_eq "alice@example.test: queued for a messages-only copy" "$(out)"
	mm show alice --json
	assert_eq "['messages-only'] queued copy True" \
		"$(jget 'd["flags"]' 'd["state"]' 'd["job"]["kind"]' 'd["captured_password"]')"
	feed "$PW_ALICE2" mm add ghost --messages-only
	assert_eq 1 "$RC" "add --messages-only missing"
	assert_eq "mailmigrate: add: account 'ghost@example.test' does not exist" "$(err)"
	printf 'dave@example.org:%s\nghost:%s\n' "$PW_DAVE" "$PW_DAVE" >"$D/mo.txt"
	chmod 600 "$D/mo.txt"
	mm bulk --messages-only "$D/mo.txt"
	assert_eq 1 "$RC" "bulk --messages-only with a missing account"
	assert_eq "1 accounts queued, 1 lines rejected" "$(out)"
	assert_eq "mailmigrate: $D/mo.txt:2: account 'ghost@example.test' does not exist" "$(err)"
	mm stats --json
	assert_eq 8 "$(jget 'd["mailboxes_total"]')" "messages-only adds no account"
}

t_pause_resume() {
	mm pause
	assert_eq 0 "$RC" "pause ($(err))"
	assert_eq "Paused:                   yes" "$(out)"
	mm stats
	assert_contains "$(out)" "Paused:                   yes"
	mm stats --json
	assert_eq True "$(jget 'd["paused"]')" "paused in stats --json"
	mm resume
	assert_eq 0 "$RC" "resume ($(err))"
	assert_eq "Paused:                   no" "$(out)"
	mm stats --json
	assert_eq False "$(jget 'd["paused"]')" "resumed in stats --json"
	mm log -n 2
	assert_contains "$(out)" "migration paused by mailmigrate pause"
	assert_contains "$(out)" "migration resumed by mailmigrate resume"
}

t_reset() {
	mm reset carol
	assert_eq 0 "$RC" "reset carol ($(err))"
	assert_contains "$(out)" "carol@example.test: copy progress forgotten"
	assert_contains "$(out)" "Nothing was deleted on either mail server."
	mm show carol --json
	assert_eq "queued copy 0" "$(jget 'd["state"]' 'd["job"]["kind"]' 'd["messages"]')"
	mm reset ghost
	assert_eq 1 "$RC" "reset missing account"
	assert_eq "mailmigrate: reset: account 'ghost@example.test' does not exist" "$(err)"
	mm reset
	assert_eq 0 "$RC" "reset all ($(err))"
	assert_contains "$(out)" "8 accounts: copy progress forgotten"
	mm stats --json
	assert_eq "8 6 2 6" "$(jget 'd["mailboxes_total"]' 'd["mailboxes_queued"]' \
		'd["mailboxes_passwords_only"]' 'd["jobs_pending"]')" "after reset"
}

# No password in the process table while the CLI holds them: a bulk fed
# through a FIFO is caught mid-run.
t_no_password_in_ps() {
	mkfifo "$D/fifo"
	"$MAILMIGRATE" -c "$CONF" bulk - <"$D/fifo" >"$D/out" 2>"$D/err" &
	pid=$!
	exec 3>"$D/fifo"
	printf 'ivan:%s\n' "$PW_IVAN" >&3
	sleep 0.3
	ps -eo pid,args >"$D/ps.txt"
	grep -q "^ *$pid " "$D/ps.txt" || fail "bulk ended before the ps snapshot"
	printf 'judy:%s\n' "$PW_JUDY" >&3
	ps -eo pid,args >>"$D/ps.txt"
	exec 3>&-
	wait "$pid"
	assert_eq 0 "$?" "bulk through a FIFO ($(err))"
	cat "$D/out" "$D/err" >>"$ALL"
	assert_eq "2 accounts queued, 0 lines rejected" "$(out)"
	if grep -F -f "$PWS" "$D/ps.txt" >/dev/null; then
		fail "a test password is in the process table"
	fi
}

t_no_password_anywhere() {
	mm log -n 0 --json
	mm list --json
	if [ "$MM_TEST_BACKEND" = postgresql ]; then
		# The whole database, as a dump would leave it on disk.
		db=$(sed -n 's/^store = .*dbname=\([^ ]*\).*/\1/p' "$CONF")
		pg_dump -h "$MM_PG_HOST" -p "$MM_PG_PORT" -U postgres "$db" >"$D/dump.sql" ||
			fail "pg_dump failed"
		stores="$D/dump.sql"
	else
		stores="$STATE/data.mdb $STATE/lock.mdb"
	fi
	for f in "$ALL" $stores; do
		if grep -a -F -f "$PWS" "$f" >/dev/null; then
			fail "a test password is in $f"
		fi
	done
	# The captured passwords are there, sealed: the store holds
	# the accounts and is not empty of creds.
	mm show ivan --json
	assert_eq True "$(jget 'd["captured_password"]')" "ivan's password is stored"
	sha256sum -c --quiet "$D/key.sum" || fail "the key changed"
}

check "init creates state_dir 2770, store, key 0600" t_init
check "init again is idempotent" t_init_again
check "init adds the key pair to an old key file, keeps its key" t_init_upgrade
check "add reads the password from stdin" t_add_stdin
check "add refuses an existing account, store unchanged" t_add_exists
check "bulk queues good lines, skips comments, CRLF, stdin" t_bulk_good
check "list: aligned table, --state" t_list_text
check "list --json: valid, counts per state" t_list_json
check "show: text and --json, missing account" t_show
check "stats: text and --json figures" t_stats
check "log: text, --json, -n, --errors, --account" t_log
check "--messages-only on existing and missing accounts" t_messages_only
check "pause and resume show in stats" t_pause_resume
check "reset one, a missing one, all" t_reset
check "no password in ps while bulk runs" t_no_password_in_ps
check "no password in outputs, event log, LMDB files" t_no_password_anywhere

echo "$MM_TEST: $((($(date +%s%N) - T0) / 1000000)) ms"
mm_done
