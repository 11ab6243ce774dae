#!/bin/sh
# shellcheck disable=SC2317  # t_* run through check()
# shellcheck source-path=SCRIPTDIR
# test_cli_errors.sh - every class of bad input to mailmigrate(8) gets a
# clear message and the documented exit status, and leaves the store as it
# was: `list --json`, `stats --json` and the hash of data.mdb are compared
# before and after. Classes: configuration errors (FILE:LINE, exit 3), bulk
# file errors (exit 1, good lines still queued), a corrupt or foreign file
# where the store should be, a state_dir that is a file, a missing or
# group-readable key file (exit 3), bad add input (exit 1), usage (exit 2);
# preflight (read-only; exit 1 when a check failed) and tls-forget usage;
# and the secret files (a symlinked or loose password file, a symlinked
# log_file: mailmigrated exits 3) and core dumps (/proc/PID/limits of a
# running mailmigrated, relay and CLI).
#
# Needs no mail server and no root; mdb_load (lmdb-utils) makes the foreign
# LMDB environments. Skipped (77) only when the CLI is missing.

# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

MAILMIGRATE=${MAILMIGRATE:-${top_builddir:-$(dirname "$0")/../..}/cli/mailmigrate}
[ -x "$MAILMIGRATE" ] || skip "no mailmigrate binary at $MAILMIGRATE (run make)"
MAILMIGRATED=${MAILMIGRATED:-${top_builddir:-$(dirname "$0")/../..}/puller/mailmigrated}
RELAY=${MAILMIGRATE_RELAY:-${top_builddir:-$(dirname "$0")/../..}/relay/mailmigrate-relay}

T0=$(date +%s%N)
D=$(mm_tmpdir) || exit 1
mm_cleanup_dir "$D"
CONF=$D/mailmigrate.conf
STATE=$D/state
KEY=$D/secret.key
PW='errors-test-Pw_4Rt'		# the only password used; never on an argv
printf '%s\n' "$PW" >"$D/pw.pattern"

write_conf() {		# FILE STATE_DIR KEY_FILE [EXTRA GLOBAL LINE]
	cat >"$1" <<EOF
$(mm_store_conf $2)
key_file = $3
default_domain = example.test
${4:-}

[domain example.test]
source_host = 127.0.0.2

[domain example.org]
source_host = 127.0.0.2
EOF
}
write_conf "$CONF" "$STATE" "$KEY"

# Run CMD... with TEXT and a newline on stdin: a here-document, so the
# text is on no command line (a pipe would run CMD in a subshell).
feed() {
	feed_text=$1
	shift
	"$@" <<EOF
$feed_text
EOF
}

# Run the CLI with a config: stdout in $D/out, stderr in $D/err, status in
# $RC. Usage: run CONF ARGS... (stdin is passed through).
run() {
	c=$1
	shift
	"$MAILMIGRATE" -c "$c" "$@" >"$D/out" 2>"$D/err"
	RC=$?
	cat "$D/out" "$D/err" >>"$D/all"
}
mm() { run "$CONF" "$@"; }
out() { cat "$D/out"; }
err() { cat "$D/err"; }

# What the store looks like, to compare before and after a bad command.
snapshot() {
	{
		"$MAILMIGRATE" -c "$CONF" list --json
		"$MAILMIGRATE" -c "$CONF" stats --json
		"$MAILMIGRATE" -c "$CONF" log -n 0 --json
		if [ "$MM_TEST_BACKEND" = postgresql ]; then
			db=$(sed -n 's/^store = .*dbname=\([^ ]*\).*/\1/p' "$CONF")
			# (pg_dump's \restrict lines carry a random key; rows
			# come in storage order, which an update changes.)
			pg_dump --data-only -h "$MM_PG_HOST" -p "$MM_PG_PORT" \
				-U postgres "$db" | grep -v '^\\\(un\)\{0,1\}restrict ' |
				LC_ALL=C sort | sha256sum
		else
			sha256sum <"$STATE/data.mdb"
		fi
	} >"$D/snap.$1" 2>&1
}
unchanged() {
	snapshot after
	cmp -s "$D/snap.before" "$D/snap.after" ||
		fail "the store changed: $(diff "$D/snap.before" "$D/snap.after" | head -n 20)"
}

# expect STATUS MESSAGE: the last run exited STATUS and said MESSAGE.
expect() {
	assert_eq "$1" "$RC" "exit status (stderr: $(err | head -n 3))"
	assert_contains "$(err)" "$2" "stderr"
}

setup() {
	mm init
	assert_eq 0 "$RC" "init ($(err))"
	feed "$PW" mm add alice
	assert_eq 0 "$RC" "add alice ($(err))"
	printf 'bob@example.org:%s\n' "$PW" >"$D/seed.txt"
	mm bulk "$D/seed.txt"
	assert_eq 0 "$RC" "bulk seed ($(err))"
}

t_config_errors() {
	snapshot before
	cp "$CONF" "$D/unknown.conf"
	printf 'no_such_key = 1\n' >>"$D/unknown.conf"
	line=$(wc -l <"$D/unknown.conf")
	for verb in list stats init pause; do
		run "$D/unknown.conf" "$verb"
		expect 3 "$D/unknown.conf:$line:"
		assert_contains "$(err)" "no_such_key"
	done
	feed "$PW" run "$D/unknown.conf" add carol
	expect 3 "$D/unknown.conf:$line:"
	write_conf "$D/badvalue.conf" "$STATE" "$KEY" "workers = many"
	run "$D/badvalue.conf" stats
	expect 3 "$D/badvalue.conf:$(grep -n '^workers' "$D/badvalue.conf" | cut -d: -f1):"
	assert_contains "$(err)" "workers"
	write_conf "$D/badsize.conf" "$STATE" "$KEY" "store_max_size = 12Q"
	run "$D/badsize.conf" list
	expect 3 "$D/badsize.conf:$(grep -n '^store_max_size' "$D/badsize.conf" | cut -d: -f1):"
	run "$D/missing.conf" list
	expect 3 "cannot read $D/missing.conf"
	MAILMIGRATE_CONF=$D/unknown.conf "$MAILMIGRATE" stats >/dev/null 2>"$D/err"
	assert_eq 3 "$?" "\$MAILMIGRATE_CONF with an unknown key"
	assert_contains "$(err)" "$D/unknown.conf:$line:"
	unchanged
}

t_bulk_bad_lines() {
	snapshot before
	# One file per class, each line bad: nothing may change.
	n=0
	for case in \
		'nocolon|no colon' \
		':pw|empty user' \
		'carol:|empty password' \
		'carol:pw:bad_domain!|bad domain field (the text after the last '"'"':'"'"', not shown' \
		'carol:pw:|empty domain field' \
		'carol:pw:example.net|the domain field (the text after the last '"'"':'"'"', not shown' \
		'carol@example.net:pw|domain '"'"'example.net'"'"' is not configured' \
		'car ol:pw|bad character in user name' \
		'carol@example.org:pw:example.test|user'"'"'s domain differs from the domain given' \
		'alice:pw|account '"'"'alice@example.test'"'"' already exists, cannot migrate'
	do
		n=$((n + 1))
		line=${case%%|*}
		reason=${case#*|}
		printf '%s\n' "$line" >"$D/bad$n.txt"
		mm bulk "$D/bad$n.txt"
		expect 1 "$D/bad$n.txt:1: $reason"
		assert_eq "0 accounts queued, 1 lines rejected" "$(out)" "summary for '$line'"
	done
	# The password is never echoed: the same lines with $PW as password.
	{
		printf 'nocolon%s\n' "$PW"
		printf 'car ol:%s\n' "$PW"
		printf 'carol:%s:example.net\n' "$PW"
		printf 'alice:%s\n' "$PW"
	} >"$D/pwbad.txt"
	mm bulk "$D/pwbad.txt"
	expect 1 "$D/pwbad.txt:4: account 'alice@example.test' already exists"
	assert_eq "0 accounts queued, 4 lines rejected" "$(out)"
	if grep -F -f "$D/pw.pattern" "$D/err" >/dev/null; then
		fail "a bulk error message shows the password: $(err)"
	fi
	# A password holding ':' without the domain field: its tail is
	# taken for the domain, and must not be echoed either (issue 9).
	{
		printf 'carol:Front:S3cret!x\n'
		printf 'carol:Front:s3crettail.example\n'
		printf 'carol:Front:%s\n' "$PW"
	} >"$D/pwcolon.txt"
	mm bulk "$D/pwcolon.txt"
	expect 1 "$D/pwcolon.txt:1: bad domain field"
	expect 1 "$D/pwcolon.txt:2: the domain field"
	assert_eq "0 accounts queued, 3 lines rejected" "$(out)"
	for tail in 'S3cret' 's3crettail' "$PW"; do
		case $(err) in
		*"$tail"*) fail "a bulk error message shows a password's tail '$tail': $(err)" ;;
		esac
	done
	# A NUL byte.
	printf 'carol:p\000w\n' >"$D/nul.txt"
	mm bulk "$D/nul.txt"
	expect 1 "$D/nul.txt:1: NUL byte"
	# Only comments and blank lines: nothing to do, success.
	printf '# nothing\n\n\t\n   # more\r\n' >"$D/empty.txt"
	mm bulk "$D/empty.txt"
	assert_eq 0 "$RC" "comments only ($(err))"
	assert_eq "0 accounts queued, 0 lines rejected" "$(out)"
	# A missing file is bad input.
	mm bulk "$D/no-such-file.txt"
	expect 1 "cannot open $D/no-such-file.txt"
	unchanged
}

t_bulk_long_line() {
	snapshot before
	# 10 MB on one line: refused without being buffered, then the next
	# line (also bad) is still read.
	{
		printf 'carol:'
		head -c 10485760 /dev/zero | tr '\0' 'x'
		printf ':example.test\n'
		printf 'nocolon\n'
	} >"$D/long.txt"
	: >"$D/rss"
	if [ -x /usr/bin/time ]; then
		/usr/bin/time -f %M -o "$D/rss" "$MAILMIGRATE" -c "$CONF" bulk \
			"$D/long.txt" >"$D/out" 2>"$D/err"
	else
		"$MAILMIGRATE" -c "$CONF" bulk "$D/long.txt" >"$D/out" 2>"$D/err"
	fi
	RC=$?
	expect 1 "$D/long.txt:1: line too long (over 4096 bytes)"
	assert_contains "$(err)" "$D/long.txt:2: no colon"
	assert_eq "0 accounts queued, 2 lines rejected" "$(out)"
	[ "$(wc -c <"$D/err")" -lt 1000 ] || fail "the long line was echoed"
	if [ -s "$D/rss" ]; then
		# Against the same command on a short bad line: what the
		# program needs anyway (libraries: libpq brings its own).
		printf 'nocolon\n' >"$D/short.txt"
		/usr/bin/time -f %M -o "$D/rss0" "$MAILMIGRATE" -c "$CONF" bulk \
			"$D/short.txt" >/dev/null 2>&1
		rss=$(tail -n 1 "$D/rss")
		rss0=$(tail -n 1 "$D/rss0")
		[ "$rss" -lt $((rss0 + 4096)) ] ||
			fail "bulk used $rss KB for a 10 MB line ($rss0 KB for a short one)"
	fi
	unchanged
}

t_bulk_good_and_bad() {
	# CRLF lines are accepted; good lines are queued next to bad ones.
	printf '# mixed\r\ncarol:%s\r\n\r\nnocolon\r\ndave:%s:example.org\r\n' \
		"$PW" "$PW" >"$D/mixed.txt"
	mm bulk "$D/mixed.txt"
	expect 1 "$D/mixed.txt:4: no colon"
	assert_eq "2 accounts queued, 1 lines rejected" "$(out)"
	mm list
	assert_contains "$(out)" "carol@example.test"
	assert_contains "$(out)" "dave@example.org"
}

t_add_bad_input() {
	snapshot before
	feed "" mm add carol2
	expect 1 "empty password"
	mm add carol2 </dev/null
	expect 1 "no password on stdin"
	head -c 5000 /dev/zero | tr '\0' 'p' >"$D/long.pw"
	mm add carol2 <"$D/long.pw"
	expect 1 "over 4096 bytes"
	printf 'p\000w\n' >"$D/nul.pw"
	mm add carol2 <"$D/nul.pw"
	expect 1 "NUL byte"
	feed "$PW" mm add 'car ol'
	expect 1 "bad character in user name"
	feed "$PW" mm add carol2@example.net
	expect 1 "domain 'example.net' is not configured"
	feed "$PW" mm add carol2@bad_domain
	expect 1 "bad domain 'bad_domain'"
	feed "$PW" mm add carol2@example.org --domain example.test
	expect 1 "differs"
	feed "$PW" mm add alice
	expect 1 "account 'alice@example.test' already exists, cannot migrate"
	feed "$PW" mm add ghost --messages-only
	expect 1 "account 'ghost@example.test' does not exist"
	mm show ghost
	expect 1 "account 'ghost@example.test' does not exist"
	mm reset ghost
	expect 1 "account 'ghost@example.test' does not exist"
	mm verify ghost
	expect 1 "verify: account 'ghost@example.test' does not exist"
	# alice is only queued: no round to verify, no login to OLD tried.
	mm verify alice
	expect 1 "verify: account 'alice@example.test' is queued: no round has started"
	# No default_domain: a bare user is a usage error.
	grep -v '^default_domain' "$CONF" >"$D/nodefault.conf"
	feed "$PW" run "$D/nodefault.conf" add carol2
	expect 2 "no domain for 'carol2'"
	assert_contains "$(err)" "usage: mailmigrate"
	unchanged
}

t_usage() {
	snapshot before
	for args in "" "frobnicate" "--bogus list" "list --bogus" "list extra" \
		"add" "add a b" "add -d" "bulk" "bulk a b" "show" "list --state bogus" \
		"log -n abc" "log -n -1" "reset a b" "reset --domain example.test" \
		"stats --json extra" "pause now" "init now" "verify" "verify a b" \
		"verify --all a" "verify --json"; do
		# shellcheck disable=SC2086  # split on purpose
		"$MAILMIGRATE" -c "$CONF" $args </dev/null >"$D/out" 2>"$D/err"
		RC=$?
		expect 2 "usage: mailmigrate"
		case $(head -n 1 "$D/err") in
		"mailmigrate: "*) ;;
		*) fail "'$args': no 'mailmigrate: why' line: $(head -n 1 "$D/err")" ;;
		esac
		assert_eq "" "$(out)" "stdout of '$args'"
	done
	for args in "--help" "help" "list --help" "-h"; do
		# shellcheck disable=SC2086
		"$MAILMIGRATE" -c "$CONF" $args >"$D/out" 2>"$D/err"
		assert_eq 0 "$?" "'$args'"
		assert_contains "$(out)" "usage: mailmigrate"
	done
	unchanged
}

t_key_errors() {
	snapshot before
	# Missing key file.
	write_conf "$D/nokey.conf" "$STATE" "$D/no-such.key"
	feed "$PW" run "$D/nokey.conf" add carol3
	expect 3 "cannot open key file $D/no-such.key"
	run "$D/nokey.conf" bulk "$D/seed.txt"
	expect 3 "cannot open key file"
	# Group-writable and world-readable key files are refused, also by
	# init (group read is allowed: the auth workers' group).
	for mode in 620 604 660; do
		cp -p "$KEY" "$D/loose.key"
		chmod "$mode" "$D/loose.key"
		write_conf "$D/loose.conf" "$STATE" "$D/loose.key"
		feed "$PW" run "$D/loose.conf" add carol3
		expect 3 "writable by group or accessible by others"
		run "$D/loose.conf" init
		expect 3 "writable by group or accessible by others"
	done
	# A short key file.
	head -c 16 /dev/urandom >"$D/short.key"
	chmod 600 "$D/short.key"
	write_conf "$D/short.conf" "$STATE" "$D/short.key"
	run "$D/short.conf" init
	expect 3 "16 bytes"
	unchanged
	assert_eq 600 "$(stat -c %a "$KEY")" "the real key's mode"
}

# A corrupt or foreign file where the store should be: refused, untouched.
t_corrupt_store() {
	mm_lmdb_only && return 0
	mkdir -m 2770 "$D/bad"
	head -c 65536 /dev/urandom >"$D/bad/data.mdb"
	sum=$(sha256sum <"$D/bad/data.mdb")
	write_conf "$D/bad.conf" "$D/bad" "$KEY"
	for verb in list stats init "log" "show alice" pause "reset"; do
		# shellcheck disable=SC2086
		run "$D/bad.conf" $verb
		expect 3 "not an LMDB store"
	done
	feed "$PW" run "$D/bad.conf" add carol4
	expect 3 "not an LMDB store"
	assert_eq "$sum" "$(sha256sum <"$D/bad/data.mdb")" "the corrupt file changed"
	[ ! -e "$D/bad/lock.mdb" ] || fail "a lock file was made next to the corrupt file"
	# An empty data.mdb is no store either.
	mkdir "$D/empty"
	: >"$D/empty/data.mdb"
	write_conf "$D/empty.conf" "$D/empty" "$KEY"
	run "$D/empty.conf" init
	expect 3 "not an LMDB store"
	assert_eq 0 "$(stat -c %s "$D/empty/data.mdb")" "the empty file grew"
}

t_foreign_lmdb() {
	mm_lmdb_only && return 0
	command -v mdb_load >/dev/null 2>&1 ||
		fail "mdb_load is needed (Debian lmdb-utils: run tests/install-deps.sh)"
	# An LMDB environment of some other program: one unnamed database.
	mkdir "$D/foreign"
	printf 'VERSION=3\nformat=bytevalue\ntype=btree\nHEADER=END\n 6b6579\n 76616c7565\nDATA=END\n' |
		mdb_load "$D/foreign" || fail "mdb_load failed"
	sum=$(sha256sum <"$D/foreign/data.mdb")
	write_conf "$D/foreign.conf" "$D/foreign" "$KEY"
	for verb in list init stats; do
		run "$D/foreign.conf" "$verb"
		expect 3 "not a mailmigrate store"
	done
	assert_eq "$sum" "$(sha256sum <"$D/foreign/data.mdb")" "the foreign store changed"
	# A store of a newer schema.
	mkdir "$D/newer"
	printf 'VERSION=3\nformat=bytevalue\ntype=btree\nHEADER=END\n 736368656d615f76657273696f6e\n 39\nDATA=END\n' |
		mdb_load -s meta "$D/newer" || fail "mdb_load -s meta failed"
	sum=$(sha256sum <"$D/newer/data.mdb")
	write_conf "$D/newer.conf" "$D/newer" "$KEY"
	run "$D/newer.conf" list
	expect 3 "schema version '9'"
	run "$D/newer.conf" init
	expect 3 "schema version '9'"
	assert_eq "$sum" "$(sha256sum <"$D/newer/data.mdb")" "the newer store changed"
}

t_state_dir_file() {
	if [ "$MM_TEST_BACKEND" = lmdb ]; then
		t_state_dir_is_file || return 1
	fi
	# A missing store is no store: init is needed first (PostgreSQL:
	# a database without the schema).
	write_conf "$D/nostore.conf" "$D/nostore" "$KEY"
	run "$D/nostore.conf" list
	expect 3 "mailmigrate init"
	[ ! -e "$D/nostore" ] || fail "list created the missing state_dir"
}
t_state_dir_is_file() {
	printf 'not a directory\n' >"$D/statefile"
	write_conf "$D/file.conf" "$D/statefile" "$KEY"
	run "$D/file.conf" init
	expect 3 "is not a directory"
	run "$D/file.conf" list
	expect 3 "is not a directory"
	assert_eq "not a directory" "$(cat "$D/statefile")" "the file changed"
}

# preflight reads only: a missing store is a failed check (exit 1), the
# domains' TLS still shown; with a store, warnings only (exit 0), the store
# unchanged; --json is JSON with the counts. tls-forget's usage errors.
# How preflight names CONF's store: LMDB's directory, PostgreSQL's spec.
store_shown() {
	sed -n -e 's/^state_dir = //p' -e 's/^store = //p' "$1" | tail -n 1
}

# PostgreSQL: a schema newer than this build, a server that is not
# there, a password in the conninfo: exit 3, a clear message, nothing
# written.
t_pg_store_errors() {
	[ "$MM_TEST_BACKEND" = postgresql ] || { echo "    (PostgreSQL only)"; return 0; }
	snapshot before
	version=$(mm_store_sql "$CONF" "SELECT value FROM mailmigrate.meta WHERE name = 'schema_version'")
	[ -n "$version" ] || return 1
	mm_store_sql "$CONF" "UPDATE mailmigrate.meta SET value = 99 WHERE name = 'schema_version'" ||
		return 1
	for verb in list init; do
		run "$CONF" $verb
		expect 3 "schema version 99, newer than this mailmigrate"
	done
	mm_store_sql "$CONF" "UPDATE mailmigrate.meta SET value = $version WHERE name = 'schema_version'"
	sed "s/^store = .*/store = postgresql:host=127.0.0.1 port=1 dbname=x connect_timeout=2/" \
		"$CONF" >"$D/down.conf"
	run "$D/down.conf" list
	expect 3 "127.0.0.1:1/x: cannot connect"
	sed "s/^store = .*/& password=$PW/" "$CONF" >"$D/pwin.conf"
	run "$D/pwin.conf" list
	expect 3 "a password in the connection string is refused"
	rm -f "$D/pwin.conf"
	unchanged
}

t_preflight() {
	# OLD, NEW and the relay where nothing listens (port 1 refuses at
	# once), no Postfix or Dovecot configuration: failed and warning
	# lines that are the same on every machine.
	write_conf "$D/pf.conf" "$STATE" "$KEY" "relay_listen = unix:$D/relay.sock
postfix_config_dir = $D/nopostfix
target_doveadm_config = $D/nodovecot.conf
target_master_password_file = $D/nomaster.pass
target_host = 127.0.0.1:1"
	sed -i 's/^source_host = .*/source_host = 127.0.0.1:1/' "$D/pf.conf"
	run "$D/nostore.conf" preflight
	assert_eq 1 "$RC" "preflight without a store ($(err))"
	assert_contains "$(out)" "failed  store $(store_shown "$D/nostore.conf"): "
	assert_contains "$(out)" "warning example.test: imap: source_tls = detect, and whether OLD offered STARTTLS is unknown (no store)"
	[ ! -e "$D/nostore" ] || fail "preflight created the missing state_dir"
	snapshot before
	run "$D/pf.conf" preflight
	assert_eq 1 "$RC" "preflight ($(err))"
	assert_contains "$(out)" "ok      store $(store_shown "$CONF") readable"
	assert_contains "$(out)" "warning example.org: pop3: source_tls = detect and STARTTLS never seen on OLD: passwords may go in clear; set source_tls = starttls (or direct) if OLD has TLS"
	assert_contains "$(out)" "ok      example.org: OLD's TLS certificate is verified"
	assert_contains "$(out)" "ok      key_file $KEY holds the key pair, public_key_file $KEY.pub matches it"
	assert_contains "$(out)" "failed  example.test: imap 127.0.0.1:1: 127.0.0.1 port 1: connect: Connection refused; start OLD's IMAP service"
	assert_contains "$(out)" "failed  relay unix:$D/relay.sock: No such file or directory; start mailmigrate-relay, or fix relay_listen"
	assert_contains "$(out)" "warning postconf -c $D/nopostfix failed: postconf: fatal: open $D/nopostfix/main.cf: No such file or directory; set postfix_config_dir"
	assert_contains "$(out)" "warning doveconf -c $D/nodovecot.conf failed: doveconf: Fatal: open($D/nodovecot.conf) failed: No such file or directory; set target_doveadm_config"
	assert_contains "$(out)" "failed  target_master_password_file: cannot read $D/nomaster.pass: No such file or directory"
	assert_contains "$(out)" "5 ok, 6 warnings, 6 failed"
	run "$D/pf.conf" preflight --json
	assert_eq 1 "$RC" "preflight --json"
	"$PYTHON" - "$D/out" <<'EOP' || fail "preflight --json: $(out)"
import json, sys
d = json.load(open(sys.argv[1]))
assert (d["ok"], d["warnings"], d["failed"]) == (5, 6, 6), d
c = d["checks"][2]
assert c == {"check": "source_tls", "domain": "example.test", "status": "warning",
             "message": "imap: source_tls = detect and STARTTLS never seen on OLD: passwords may go in clear",
             "hint": "set source_tls = starttls (or direct) if OLD has TLS"}, c
assert d["checks"][0]["domain"] is None and d["checks"][0]["hint"] is None
EOP
	unchanged
	# An old 32-byte key_file (no key pair yet): a warning that says to
	# run init; a key pair whose public_key_file is gone: failed.
	head -c 32 "$KEY" >"$D/old.key"
	chmod 600 "$D/old.key"
	write_conf "$D/oldkey.conf" "$STATE" "$D/old.key"
	# (OLD and the relay are not there: exit 1 for them, not the key.)
	run "$D/oldkey.conf" preflight
	assert_eq 1 "$RC" "preflight with an old key_file ($(err))"
	if out | grep -q '^failed  key_file'; then fail "an old key_file failed: $(out)"; fi
	assert_contains "$(out)" "warning key_file $D/old.key has the old layout: the auth workers seal with it"
	assert_contains "$(out)" "run \`mailmigrate init\`"
	cp -p "$KEY" "$D/nopub.key"
	write_conf "$D/nopub.conf" "$STATE" "$D/nopub.key"
	run "$D/nopub.conf" preflight
	assert_eq 1 "$RC" "preflight without public_key_file"
	out | grep '^failed  ' | grep -qF "$D/nopub.key.pub" ||
		fail "no failed line for $D/nopub.key.pub: $(out)"
	rm -f "$D/old.key" "$D/oldkey.conf" "$D/nopub.key" "$D/nopub.conf"
	unchanged
	mm tls-forget
	expect 2 "tls-forget: one DOMAIN"
	mm tls-forget example.test --protocol smtp
	expect 2 "tls-forget: --protocol is imap or pop3"
	mm tls-forget example.test
	assert_eq 0 "$RC" "tls-forget with nothing remembered"
	assert_contains "$(out)" "example.test: no STARTTLS remembered; nothing to forget"
}

t_no_password_leaked() {
	if [ "$MM_TEST_BACKEND" = postgresql ]; then
		db=$(sed -n 's/^store = .*dbname=\([^ ]*\).*/\1/p' "$CONF")
		pg_dump -h "$MM_PG_HOST" -p "$MM_PG_PORT" -U postgres "$db" \
			>"$D/dump.sql" || fail "pg_dump failed"
		stores="$D/dump.sql"
	else
		stores="$STATE/data.mdb $STATE/lock.mdb"
	fi
	for f in "$D/all" $stores; do
		if grep -a -F -f "$D/pw.pattern" "$f" >/dev/null; then
			fail "the test password is in $f"
		fi
	done
}

# A store of its own (empty queue, so mailmigrated --once only starts,
# reads its password file and stops) for the secret-file checks (issue 9).
hard_conf() {		# FILE MASTER_PASSWORD_FILE [LOG_FILE]
	cat >"$1" <<EOF
$(mm_store_conf $D/hard)
key_file = $D/hard.key
target_master_password_file = $2
log_file = ${3:-}
relay_listen = unix:$D/hard-relay.sock
default_domain = example.test

[domain example.test]
source_host = 127.0.0.2
EOF
}

# mailmigrated --once with CONF: status in $RC, stderr in $D/err.
puller_once() {
	"$MAILMIGRATED" -c "$1" -f --once >"$D/out" 2>"$D/err"
	RC=$?
}

t_secret_files() {
	hard_conf "$D/hard.conf" "$D/master.pass"
	run "$D/hard.conf" init
	assert_eq 0 "$RC" "init of the second store ($(err))"
	(umask 077 && printf '%s\n' "$PW" >"$D/master.pass")
	puller_once "$D/hard.conf"
	assert_eq 0 "$RC" "mailmigrated --once with a 0600 password file ($(err))"
	# Group read is allowed (the puller's group), as for key_file.
	chmod 640 "$D/master.pass"
	puller_once "$D/hard.conf"
	assert_eq 0 "$RC" "mailmigrated --once with a 0640 password file ($(err))"
	# Group-writable, world-readable, world-writable: refused.
	for mode in 660 620 604 644 602; do
		chmod "$mode" "$D/master.pass"
		puller_once "$D/hard.conf"
		expect 3 "writable by group or accessible by others (mode 0$mode)"
	done
	chmod 600 "$D/master.pass"
	# A symbolic link to a good password file: refused, not followed.
	ln -s "$D/master.pass" "$D/master.link"
	hard_conf "$D/link.conf" "$D/master.link"
	puller_once "$D/link.conf"
	expect 3 "a symbolic link: refused"
	# The log file: a symbolic link is refused, its target untouched.
	printf 'not a log\n' >"$D/victim"
	ln -s "$D/victim" "$D/puller.log"
	hard_conf "$D/log.conf" "$D/master.pass" "$D/puller.log"
	puller_once "$D/log.conf"
	expect 3 "cannot open log_file $D/puller.log"
	assert_eq "not a log" "$(cat "$D/victim")" "the symlink's target"
	case $(err) in
	*"$PW"*) fail "an error shows the master password: $(err)" ;;
	esac
}

# "Max core file size 0 0" in /proc/PID/limits; the same call sets
# PR_SET_DUMPABLE 0 (test_crypto.c checks that part).
# Else the program is stopped (it would hold the check's output open).
no_core() {		# PID WHAT
	wait_for "grep -q '^Max core file size *0 *0 ' /proc/$1/limits" 5 && return 0
	nc_bad=$(grep '^Max core' "/proc/$1/limits")
	kill "$1"
	wait "$1"
	fail "$2 may dump core: $nc_bad"
}

t_no_core_dumps() {
	# Let the shell allow cores, so only the programs can lower it.
	ulimit -c unlimited 2>/dev/null || ulimit -c 1024
	# The puller, idle on an empty queue.
	"$MAILMIGRATED" -c "$D/hard.conf" -f >/dev/null 2>"$D/daemon.err" &
	pid=$!
	wait_for "grep -q 'starting' '$D/daemon.err'" 10 ||
		{ kill "$pid"; fail "mailmigrated did not start: $(cat "$D/daemon.err")"; }
	no_core "$pid" mailmigrated
	kill "$pid" && wait "$pid"
	# The relay, listening.
	"$RELAY" -c "$D/hard.conf" -f >/dev/null 2>"$D/relay.err" &
	pid=$!
	wait_for "[ -S '$D/hard-relay.sock' ]" 10 ||
		{ kill "$pid"; fail "the relay did not start: $(cat "$D/relay.err")"; }
	no_core "$pid" mailmigrate-relay
	kill "$pid" && wait "$pid"
	# The CLI, blocked opening a bulk file that is a FIFO.
	mkfifo "$D/bulk.fifo"
	"$MAILMIGRATE" -c "$D/hard.conf" bulk "$D/bulk.fifo" >/dev/null 2>&1 &
	pid=$!
	wait_for "[ -r /proc/$pid/limits ]" 5
	no_core "$pid" mailmigrate
	: >"$D/bulk.fifo"
	wait "$pid"
}

check "setup: init, add, bulk" setup
check "config errors name FILE:LINE, exit 3, store unchanged" t_config_errors
check "bulk: each bad line class, exit 1, store unchanged" t_bulk_bad_lines
check "bulk: a 10 MB line is refused without buffering" t_bulk_long_line
check "bulk: CRLF, good lines queued next to bad ones" t_bulk_good_and_bad
check "add: bad input, exit 1, store unchanged" t_add_bad_input
check "usage errors exit 2 with the usage text" t_usage
check "missing, loose or short key file: exit 3" t_key_errors
check "corrupt data.mdb: refused and untouched" t_corrupt_store
check "foreign LMDB environment: refused and untouched" t_foreign_lmdb
check "state_dir that is a file, missing store" t_state_dir_file
check "PostgreSQL: newer schema, no server, password in the conninfo" t_pg_store_errors
check "preflight: read-only, ok/warning/failed, exit 0/1, --json; tls-forget usage" t_preflight
check "no password in outputs or store files" t_no_password_leaked
check "password files and log file: symlink or loose mode refused" t_secret_files
check "mailmigrated, the relay and the CLI cannot dump core" t_no_core_dumps

echo "$MM_TEST: $((($(date +%s%N) - T0) / 1000000)) ms"
mm_done
