#!/bin/sh
# shellcheck disable=SC2317  # t_* run through check()
# test_store_copy.sh - a migration that started on one host (LMDB) moves
# to PostgreSQL mid-way: real OLD and NEW servers, two accounts copied by
# mailmigrated, one queued, an alias approved, events; then
# `mailmigrate store copy --to postgresql:...` into a PostgreSQL started
# here, as a role that must give a password (sealed by `mailmigrate
# store password` into store_password_file). The configuration is
# switched to the PostgreSQL store and the migration goes on:
# mailmigrated --once copies the queued account, and list, stats,
# aliases and verify --all agree with what was there before plus the new
# copy; nothing is copied twice. Refusals: a target that is not
# PostgreSQL, a password in the target spec, a target that is not empty.
#
# Always on PostgreSQL (its own server): it runs in the LMDB pass of
# tests/run-all.sh and skips itself in the PostgreSQL pass.

if [ "${MM_TEST_BACKEND:-lmdb}" = postgresql ]; then
	echo "test_store_copy: SKIP: runs once, in the LMDB pass (always on PostgreSQL)" >&2
	exit 77
fi
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

mm_require_root_and_pkgs
MAILMIGRATED=${MAILMIGRATED:-$top_builddir/puller/mailmigrated}
[ -x "$MAILMIGRATED" ] || skip "mailmigrated not built"
command -v psql >/dev/null 2>&1 || skip "psql not installed"
CORPUS="$PYTHON $HARNESS/corpus.py"

mm_servers_start
D=$MM_DIR

# PostgreSQL, ours: stopped at exit.
PGD=$(mm_tmpdir)
mm_cleanup_dir "$PGD"
sh "$HARNESS/pgsql.sh" start "$PGD/pg" >&2 || fail "PostgreSQL did not start"
mm_at_exit "sh '$HARNESS/pgsql.sh' stop '$PGD/pg'"
. "$PGD/pg/env"
DB=mm_copy
psql "$MM_PG_CONNINFO" -q -v ON_ERROR_STOP=1 -c "CREATE DATABASE $DB" ||
	fail "cannot create database $DB"
PGPW=$(cat "$PGD/pg/pw.pass")
STORE="postgresql:host=$MM_PG_HOST port=$MM_PG_PORT user=$MM_PG_PWROLE dbname=$DB sslmode=disable"
SQL() { psql "$MM_PG_CONNINFO dbname=$DB" -qAt -v ON_ERROR_STOP=1 -c "$1"; }

CONF=$D/mailmigrate.conf
# conf [STORE_LINE]: the one host's configuration, LMDB by default.
conf() {
	cat >"$CONF" <<EOC
state_dir = $D/state
${1:-}
store_password_file = $D/store.pass
key_file = $D/secret.key
log_file = $D/mailmigrated.log
workers = 2
target_host = $NEW_IP:$NEW_IMAP_PORT
target_master_user = $NEW_MASTER_USER
target_master_password_file = $NEW_MASTER_PASS_FILE
default_domain = example.test

[domain example.test]
source_host = $OLD_IP
source_tls = starttls
source_tls_ca_file = $CA_FILE
access_mode = extended
EOC
}
conf
MM() { "$MAILMIGRATE" -c "$CONF" "$@"; }

for u in ann ben cid; do
	pass="pw $u"
	mm_adduser old "$u@example.test" "$pass"
	sh "$SERVERS_SH" adduser "$D" new "$u@example.test" --nopass </dev/null ||
		fail "adduser new $u failed"
	pw=$(mm_pwfile "$pass")
	mv "$pw" "$D/$u.pw"
	$CORPUS --host "$OLD_IP" --user "$u@example.test" --password-file "$D/$u.pw" \
		--seed "$(printf %s "$u" | cksum | cut -d' ' -f1)" --count 15 \
		--manifest "$D/$u.json" >/dev/null || fail "corpus load for $u failed"
done
# eve's one message names another address of hers: a proposal,
# approved below.
mm_adduser old eve@example.test "pw eve"
sh "$SERVERS_SH" adduser "$D" new eve@example.test --nopass </dev/null ||
	fail "adduser new eve failed"
"$PYTHON" - "$OLD_IP" "$CA_FILE" <<'EOP' || fail "append to eve failed"
import imaplib, ssl, sys
m = imaplib.IMAP4(sys.argv[1], 143)
m.starttls(ssl.create_default_context(cafile=sys.argv[2]))
m.login("eve@example.test", "pw eve")
m.append("INBOX", None, None,
         b"X-Envelope-To: eve.other@example.test\r\nFrom: a@example.net\r\n"
         b"To: eve@example.test\r\nSubject: to her other address\r\n"
         b"Message-ID: <other@example.net>\r\n\r\nbody\r\n")
m.logout()
EOP
MM init >/dev/null || fail "init failed"
printf '%s\n' "$PGPW" | MM store password >"$D/pw.out" 2>&1 ||
	fail "store password failed: $(cat "$D/pw.out")"
grep -q "$PGPW" "$CONF" "$D/store.pass" "$D/pw.out" &&
	fail "the store password is in clear text"

verify() {
	$CORPUS --verify --host "$NEW_IP" --user "$1@example.test*$NEW_MASTER_USER" \
		--password-file "$NEW_MASTER_PASS_FILE" --manifest "$D/$1.json"
}

# The state of the migration as the CLI shows it, minus what moves on
# by itself (times of the next take).
snapshot() {
	MM list --json >"$D/$1.list.json" &&
		MM stats --json >"$D/$1.stats.json" &&
		MM aliases --json >"$D/$1.aliases.json" &&
		MM log -n 0 --json >"$D/$1.log.json"
}

# On LMDB: ann, ben and eve copied, eve's alias approved, cid queued.
t_start_on_lmdb() {
	printf 'ann@example.test:pw ann\nben@example.test:pw ben\neve@example.test:pw eve\n' |
		MM bulk - >/dev/null || return 1
	"$MAILMIGRATED" -c "$CONF" -f --once 2>>"$D/daemon.err" || return 1
	for u in ann ben; do verify "$u" || return 1; done
	MM aliases approve eve.other@example.test >"$D/approve.out" ||
		{ cat "$D/approve.out"; return 1; }
	printf 'pw cid\n' | MM add cid@example.test >/dev/null || return 1
	MM pause >/dev/null || return 1
	snapshot before
}

t_refusals() {
	out=$(MM store copy --to "lmdb:$D/other" 2>&1)
	assert_eq 2 "$?" "exit status, LMDB target" || return 1
	assert_contains "$out" "the target must be postgresql:" || return 1
	out=$(MM store copy --to "$STORE password=x" 2>&1)
	assert_eq 3 "$?" "exit status, password in the spec" || return 1
	assert_contains "$out" "a password in the connection string is refused" || return 1
	[ ! -d "$D/other" ] || { echo "an LMDB target was made"; return 1; }
}

t_copy() {
	MM store copy --to "$STORE" >"$D/copy.out" 2>&1 || { cat "$D/copy.out"; return 1; }
	cat "$D/copy.out"
	out=$(cat "$D/copy.out")
	for k in accounts passwords aliases proposals jobs folders uid-map events; do
		printf '%s\n' "$out" | grep -Eq "^$k +[1-9][0-9]* +[1-9][0-9]* +ok$" ||
			{ echo "no ok line for $k"; return 1; }
	done
	printf '%s\n' "$out" | grep -q DIFFERS && return 1
	assert_contains "$out" "not copied: the auth-hook's rate limits and failed-login cache" || return 1
	assert_contains "$out" "store = $STORE" || return 1
	assert_contains "$out" "store_password_file = $D/store.pass" || return 1
	assert_eq 4 "$(SQL 'SELECT count(*) FROM mailmigrate.accounts')" "accounts in PostgreSQL" || return 1
	assert_eq 0 "$(SQL 'SELECT count(*) FROM mailmigrate.auth_limits')" "auth limits" || return 1
	# The JSON form of a refusal: the target is not empty now.
	MM store copy --to "$STORE" --json >"$D/copy2.json" 2>"$D/copy2.err"
	assert_eq 1 "$?" "exit status, second copy" || return 1
	assert_contains "$(cat "$D/copy2.err")" "is not empty" || return 1
	"$PYTHON" -c '
import json, sys
j = json.load(open(sys.argv[1]))
assert j["copied"] is False and j["records"] == 0 and "not empty" in j["error"], j' \
		"$D/copy2.json" || return 1
	# The LMDB store is as it was.
	snapshot lmdb-after && cmp "$D/before.list.json" "$D/lmdb-after.list.json"
}

# From here on the host runs on PostgreSQL.
t_switch() {
	conf "store = $STORE"
	snapshot pg || return 1
	"$PYTHON" - "$D" <<'EOP'
import json, sys
d = sys.argv[1]
for what in ("list", "aliases", "log"):
    a = json.load(open("%s/before.%s.json" % (d, what)))
    b = json.load(open("%s/pg.%s.json" % (d, what)))
    assert a == b, (what, a, b)
a = json.load(open(d + "/before.stats.json"))
b = json.load(open(d + "/pg.stats.json"))
for k in a:
    # The rate, and the time to finish that comes from it, move with
    # the clock; the jobs with the leases.
    if not k.startswith("rate") and k not in ("jobs_leased", "jobs_pending",
                                              "eta_seconds"):
        assert a[k] == b[k], (k, a[k], b[k])
assert b["paused"] is True or b["paused"] == 1, b
EOP
}

t_go_on() {
	MM resume >/dev/null || return 1
	"$MAILMIGRATED" -c "$CONF" -f --once 2>>"$D/daemon.err" || { tail "$D/daemon.err"; return 1; }
	for u in ann ben cid; do verify "$u" || return 1; done
	MM list --json >"$D/end.list.json" || return 1
	MM stats --json >"$D/end.stats.json" || return 1
	"$PYTHON" - "$D" <<'EOP'
import json, sys
d = sys.argv[1]
before = {a["account"]: a for a in json.load(open(d + "/before.list.json"))}
end = {a["account"]: a for a in json.load(open(d + "/end.list.json"))}
assert end["cid@example.test"]["state"] == "copied", end["cid@example.test"]
want = len(json.load(open(d + "/cid.json"))["messages"])
assert end["cid@example.test"]["messages"] == want, (end["cid@example.test"], want)
for u in ("ann@example.test", "ben@example.test", "eve@example.test"):
    # Not copied again: the same counters as on LMDB.
    assert end[u]["state"] == "copied", end[u]
    assert end[u]["messages"] == before[u]["messages"], (end[u], before[u])
st = json.load(open(d + "/end.stats.json"))
total = sum(e["messages"] for e in end.values())
assert st["messages"] == total, (st, total)
assert st["mailboxes_migrated"] == 4, st
EOP
	MM verify --all >"$D/verify.out" 2>&1 || { cat "$D/verify.out"; return 1; }
	assert_eq 4 "$(grep -c '^[a-z]*@example.test: every message accounted for' "$D/verify.out")" "verify --all" || return 1
	MM aliases | grep -q "^eve.other@example.test  *eve@example.test" || { MM aliases; return 1; }
	# The events went on after the copied ones.
	[ "$(SQL "SELECT count(*) FROM mailmigrate.events WHERE id <= (SELECT value FROM mailmigrate.meta WHERE name = 'event_seq')")" = \
		"$(SQL 'SELECT count(*) FROM mailmigrate.events')" ]
}

check "a migration under way on LMDB" t_start_on_lmdb
check "store copy refuses an LMDB target and a password in the spec" t_refusals
check "store copy to PostgreSQL, verified; a second copy refused" t_copy
check "on PostgreSQL, list, stats, aliases and log as before" t_switch
check "the migration goes on: the queued account copied, nothing twice" t_go_on
mm_done
