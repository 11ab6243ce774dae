#!/bin/sh
# shellcheck disable=SC2317  # t_* run through check()
# test_multihost.sh - every part on "many hosts" sharing one PostgreSQL
# store: two puller hosts (separate configurations, logs and processes),
# two relays, and NEW's Dovecot with the auth module, all with
# store = postgresql:... and the password sealed in store_password_file.
# 200 accounts queued on OLD (3 messages each): every account copied
# exactly once (no job taken twice, no message twice, none missing,
# `mailmigrate verify --all` clean); host A killed with -9 mid-run and
# host B finishing its accounts once the leases run out; PostgreSQL
# restarted mid-run: the work goes on, nothing lost, nothing twice. The
# relays answer from the shared store (queued: OLD; copied: NEW) and the
# auth module migrates a user on first login into the same store.
#
# Always on PostgreSQL: it runs in the LMDB pass of tests/run-all.sh and
# skips itself in the PostgreSQL pass.

if [ "${MM_TEST_BACKEND:-lmdb}" = postgresql ]; then
	echo "test_multihost: SKIP: runs once, in the LMDB pass (always on PostgreSQL)" >&2
	exit 77
fi
MM_TEST_BACKEND=postgresql
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

mm_require_root_and_pkgs
MAILMIGRATED=${MAILMIGRATED:-$top_builddir/puller/mailmigrated}
[ -x "$MAILMIGRATED" ] || skip "mailmigrated not built"
RELAY=${MAILMIGRATE_RELAY:-$top_builddir/relay/mailmigrate-relay}
[ -x "$RELAY" ] || skip "mailmigrate-relay not built"
MODULE=${MM_AUTH_MODULE:-$top_builddir/auth-hook/.libs/libauthdb_mailmigrate.so}
[ -f "$MODULE" ] || skip "auth module not built ($MODULE)"
command -v unshare >/dev/null 2>&1 || skip "unshare not installed"
SNIPPET=$top_srcdir/contrib/dovecot/auth-mailmigrate.conf.ext
RC="$PYTHON $HARNESS/relayclient.py"
AC="$PYTHON $HARNESS/authclient.py"
N=${MM_MULTIHOST_ACCOUNTS:-200}
# Short leases, so host B takes host A's jobs soon after A dies.
MAILMIGRATED_LEASE_SECONDS=6
export MAILMIGRATED_LEASE_SECONDS

D=$(mm_tmpdir)
mm_cleanup_dir "$D"
MM_AUTH_MODULES=$MODULE
export MM_AUTH_MODULES
MM_NEW_DOVECOT_EXTRA=$D/extra.conf
sed "s|/etc/mailmigrate/mailmigrate.conf|$D/auth.conf|" "$SNIPPET" >"$MM_NEW_DOVECOT_EXTRA"
export MM_NEW_DOVECOT_EXTRA
mm_servers_start "$D"

# A database and a role with a password, as a site would have them: the
# password only in the sealed store_password_file.
DB=mm_multihost
psql "$MM_PG_CONNINFO" -q -v ON_ERROR_STOP=1 -c "CREATE DATABASE $DB" ||
	fail "cannot create database $DB"
PGPW=$(cat "$MM_PG_DIR/pw.pass")
STORE="postgresql:host=$MM_PG_HOST port=$MM_PG_PORT user=$MM_PG_PWROLE dbname=$DB sslmode=disable"

# conf FILE LOG STORE-LINES EXTRA...: one host's configuration.
conf() {
	f=$1
	log=$2
	store=$3
	shift 3
	{
		cat <<EOC
state_dir = $D/state-unused
$store
key_file = $D/secret.key
log_file = $log
target_host = $NEW_IP:$NEW_IMAP_PORT
target_master_user = $NEW_MASTER_USER
target_master_password_file = $NEW_MASTER_PASS_FILE
target_lmtp = inet:$NEW_IP:$NEW_LMTP_PORT
target_doveadm_config = $NEW_DOVECOT_CONF
user_home = $D/new/home/%d/%n
user_mail = maildir:$D/new/mail/%d/%n
user_uid = mail
user_gid = mail
default_domain = example.test
EOC
		for l in "$@"; do printf '%s\n' "$l"; done
		cat <<EOC

[domain example.test]
source_host = $OLD_IP
source_tls = starttls
source_tls_ca_file = $CA_FILE
relay_nexthop = mm-old:[$OLD_IP]:25
EOC
	} >"$f"
	chmod 644 "$f"
}
# The pullers and the CLI log in with a password (sealed); the relays
# and the auth module with the least-privilege roles of
# contrib/postgresql/roles.sql (trusted on loopback by the harness).
PWSTORE="store = $STORE
store_password_file = $D/store.pass"
ROLESTORE() {
	echo "store = postgresql:host=$MM_PG_HOST port=$MM_PG_PORT user=$1 dbname=$DB sslmode=disable"
}
conf "$D/a.conf" "$D/a.log" "$PWSTORE" "workers = 3"
conf "$D/b.conf" "$D/b.log" "$PWSTORE" "workers = 3"
conf "$D/r1.conf" "$D/r1.log" "$(ROLESTORE mailmigrate_relay)" \
	"relay_listen = unix:$D/r1.sock" "relay_cache_ttl = 2"
conf "$D/r2.conf" "$D/r2.log" "$(ROLESTORE mailmigrate_relay)" \
	"relay_listen = unix:$D/r2.sock" "relay_cache_ttl = 2"
conf "$D/auth.conf" "$D/auth.log" "$(ROLESTORE mailmigrate_auth)"
MMA() { "$MAILMIGRATE" -c "$D/a.conf" "$@"; }
MMB() { "$MAILMIGRATE" -c "$D/b.conf" "$@"; }

# The keys on "host A", then shared (copied, as a site would).
MMA init >/dev/null 2>&1 # makes the keys, then stops at the missing password file
[ -f "$D/secret.key.pub" ] || fail "init made no public key file"
printf '%s\n' "$PGPW" | MMA store password >"$D/pw.out" 2>&1 ||
	fail "store password failed: $(cat "$D/pw.out")"
grep -q "$PGPW" "$D/a.conf" "$D/store.pass" "$D/pw.out" &&
	fail "the store password is in clear text"
MMA init >"$D/init.out" 2>&1 || fail "init failed: $(cat "$D/init.out")"
assert_contains "$(cat "$D/init.out")" "created store $STORE"
MMB init >"$D/init2.out" 2>&1 || fail "second init failed: $(cat "$D/init2.out")"
assert_contains "$(cat "$D/init2.out")" "already exists"
psql "$MM_PG_CONNINFO dbname=$DB" -q -v ON_ERROR_STOP=1 \
	-f "$top_srcdir/contrib/postgresql/roles.sql" >"$D/roles.out" 2>&1 ||
	fail "contrib/postgresql/roles.sql failed: $(cat "$D/roles.out")"
# The puller's role may read and write every table but the auth
# module's login limits (a table added to the schema and forgotten in
# roles.sql shows here, not on the first site that runs the puller
# under that role).
psql "$MM_PG_CONNINFO dbname=$DB" -At -v ON_ERROR_STOP=1 -c "
	SELECT c.relname FROM pg_class c
	JOIN pg_namespace n ON n.oid = c.relnamespace
	WHERE n.nspname = 'mailmigrate' AND c.relkind = 'r'
	AND c.relname NOT IN ('auth_limits', 'auth_fails')
	AND NOT (has_table_privilege('mailmigrate_puller', c.oid, 'SELECT')
	 AND has_table_privilege('mailmigrate_puller', c.oid, 'INSERT')
	 AND has_table_privilege('mailmigrate_puller', c.oid, 'UPDATE')
	 AND has_table_privilege('mailmigrate_puller', c.oid, 'DELETE'))
	ORDER BY 1" >"$D/ungranted.out" 2>&1 ||
	fail "the grants query failed: $(cat "$D/ungranted.out")"
[ -s "$D/ungranted.out" ] &&
	fail "roles.sql gives mailmigrate_puller no read and write on: $(tr '\n' ' ' <"$D/ungranted.out")"
# The relay's role reads; it cannot queue, change or delete anything.
psql "host=$MM_PG_HOST port=$MM_PG_PORT user=mailmigrate_relay dbname=$DB sslmode=disable" \
	-q -c "DELETE FROM mailmigrate.jobs" >/dev/null 2>&1 &&
	fail "mailmigrate_relay may delete jobs"
# The auth workers read the store password's key and the sealed file
# through the dovecot group.
chgrp dovecot "$D/secret.key.pub" && chmod 640 "$D/secret.key.pub" ||
	fail "chgrp dovecot failed"

# 200 users on OLD and NEW (one hash, written at once), 3 messages each.
mm_adduser old "u0@example.test" "multi pw"
line=$(grep '^u0@example.test:' "$D/old/users") || fail "no u0 line"
hash=${line#u0@example.test:}
sh "$SERVERS_SH" adduser "$D" new "u0@example.test" --nopass </dev/null ||
	fail "adduser new failed"
nline=$(grep '^u0@example.test:' "$D/new/users") || fail "no new u0 line"
nhash=${nline#u0@example.test:}
i=1
while [ $i -lt "$N" ]; do
	printf 'u%d@example.test:%s\n' $i "$hash" >>"$D/old/users.tmp"
	printf 'u%d@example.test:%s\n' $i "$nhash" >>"$D/new/users.tmp"
	i=$((i + 1))
done
for s in old new; do
	cat "$D/$s/users" "$D/$s/users.tmp" >"$D/$s/users.new" &&
		chgrp dovecot "$D/$s/users.new" && chmod 640 "$D/$s/users.new" &&
		mv "$D/$s/users.new" "$D/$s/users" && rm -f "$D/$s/users.tmp" ||
		fail "cannot write $s users"
done
# Plus one user only OLD has, to log in through NEW's auth module (NEW
# knows it only through the module's userdb).
mm_adduser old "late@example.test" "late pw"
printf 'multi pw\n' >"$D/u.pw"
chmod 600 "$D/u.pw"
"$PYTHON" - "$OLD_IP" "$OLD_IMAP_PORT" "$N" "$D/u.pw" "$CA_FILE" <<'EOP' ||
import imaplib, ssl, sys
host, port, n, pwfile, ca = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
pw = open(pwfile).read().rstrip("\n")
for i in range(n):
    c = imaplib.IMAP4(host, port)
    c.starttls(ssl.create_default_context(cafile=ca))
    c.login("u%d@example.test" % i, pw)
    for k in range(3):
        msg = ("From: a@example.net\r\nTo: u%d@example.test\r\n"
               "Message-ID: <m%d.%d@multi.test>\r\nSubject: %d/%d\r\n\r\n"
               "body %d %d\r\n" % (i, i, k, i, k, i, k)).encode()
        c.append("INBOX", None, None, msg)
    c.logout()
EOP
	fail "loading OLD failed"

: >"$D/bulk.txt"
chmod 600 "$D/bulk.txt"
i=0
while [ $i -lt "$N" ]; do
	printf 'u%d@example.test:multi pw\n' $i >>"$D/bulk.txt"
	i=$((i + 1))
done

relay_start() { # NAME
	"$RELAY" -c "$D/$1.conf" -f </dev/null >>"$D/$1.err" 2>&1 &
	echo $! >"$D/$1.pid"
	wait_for "[ -S '$D/$1.sock' ]" 10 || fail "relay $1 did not start: $(cat "$D/$1.err")"
}
relay_start r1
relay_start r2
mm_at_exit 'kill "$(cat "$D/r1.pid")" "$(cat "$D/r2.pid")"'

# A puller host: mailmigrated in a process group of its own.
host_start() { # a|b
	setsid "$MAILMIGRATED" -c "$D/$1.conf" -f </dev/null >>"$D/$1.err" 2>&1 &
	echo $! >"$D/$1.pid"
}
host_kill9() {
	kill -9 -- "-$(cat "$D/$1.pid")" 2>/dev/null
}
mm_at_exit 'kill -- "-$(cat "$D/a.pid")" "-$(cat "$D/b.pid")"'

count_state() { # STATE
	MMA list --state "$1" --json | "$PYTHON" -c 'import json,sys; print(len(json.load(sys.stdin)))'
}

t_queue() {
	MMA bulk "$D/bulk.txt" >"$D/bulk.out" 2>&1 || { cat "$D/bulk.out"; return 1; }
	assert_eq "$N" "$(count_state queued)" "queued accounts"
	# Queued: both relays send u7's mail to OLD, from the shared store.
	for r in r1 r2; do
		assert_eq "OK mm-old:[$OLD_IP]:25" \
			"$($RC query "$D/$r.sock" transport u7@example.test)" "$r before" || return 1
	done
}

t_run_kill_restart() {
	host_start a
	host_start b
	# Host A dies with -9 once a few accounts are copied...
	wait_for "[ \"\$(count_state copied)\" -ge 20 ]" 120 || { echo "no progress"; return 1; }
	host_kill9 a
	echo "    host A killed at $(count_state copied) copied"
	# ...and PostgreSQL restarts a little later, under host B.
	wait_for "[ \"\$(count_state copied)\" -ge 60 ]" 120 || { echo "B made no progress"; return 1; }
	sh "$HARNESS/pgsql.sh" restart "$MM_PG_DIR" >/dev/null || { echo "restart failed"; return 1; }
	echo "    PostgreSQL restarted"
	# Meanwhile a user logs in for the first time through NEW's
	# Dovecot: the auth module queues late@ in the same store.
	$AC imap "$NEW_IP" late@example.test "$(mm_pwfile "late pw")" \
		>"$D/login.out" 2>&1
	wait_for "[ \"\$(count_state copied)\" -ge $((N + 1)) ]" 300 || {
		echo "copied: $(count_state copied) of $((N + 1))"; MMA stats; return 1; }
}

t_exactly_once() {
	# Every message once on NEW, none missing.
	"$PYTHON" - "$D/new/mail/example.test" "$N" <<'EOP' || return 1
import os, sys, re
base, n = sys.argv[1], int(sys.argv[2])
bad = 0
for i in range(n):
    seen = {}
    for sub in ("cur", "new"):
        d = os.path.join(base, "u%d" % i, sub)
        for f in os.listdir(d) if os.path.isdir(d) else []:
            m = re.search(rb"Message-ID: <(m\d+\.\d+)@", open(os.path.join(d, f), "rb").read())
            if m:
                seen[m.group(1)] = seen.get(m.group(1), 0) + 1
    want = {("m%d.%d" % (i, k)).encode(): 1 for k in range(3)}
    if seen != want:
        bad += 1
        if bad < 5:
            print("u%d: %r" % (i, seen))
sys.exit(1 if bad else 0)
EOP
	MMA verify --all >"$D/verify.out" 2>&1 || { tail -n 20 "$D/verify.out"; return 1; }
	# And in the store: each account's copied-message counter is 3 (the
	# UID map takes a message once; a round cut by the kill and resumed
	# on host B settles its batch without counting it twice).
	MMA list --json >"$D/list.json" || return 1
	"$PYTHON" - "$D/list.json" "$N" <<'EOP' || return 1
import json, sys
accts = [a for a in json.load(open(sys.argv[1])) if a["account"].startswith("u")]
bad = [(a["account"], a["messages"]) for a in accts if a["messages"] != 3]
if len(accts) != int(sys.argv[2]) or bad:
    print("accounts:", len(accts), "not 3 messages:", bad[:5])
    sys.exit(1)
EOP
}

t_relays_after() {
	for r in r1 r2; do
		wait_for "[ \"\$($RC query '$D/$r.sock' transport u7@example.test)\" = 'NOTFOUND ' ]" 10 ||
			{ echo "$r still routes u7 to OLD"; return 1; }
	done
}

t_host_a_deaths_seen() {
	# The jobs host A's workers held were taken over by host B once
	# their leases ran out, each with a death counted: the events say
	# so, naming A's workers.
	n=$(MMA log -n 0 | grep -c "taken over from [^ ]*, whose lease ran out") || true
	echo "    jobs taken over from host A: $n"
	[ "$n" -ge 1 ] || { echo "no job taken over from host A"; return 1; }
}

check "200 accounts queued, both relays send their mail to OLD" t_queue
check "two puller hosts; A killed -9, PostgreSQL restarted; all copied" t_run_kill_restart
check "every message exactly once on NEW; verify --all clean" t_exactly_once
check "both relays see the copies" t_relays_after
check "host A's jobs taken up by host B" t_host_a_deaths_seen
mm_done
