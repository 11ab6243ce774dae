#!/bin/sh
# shellcheck disable=SC2317  # t_* run through check()
# test_puller.sh - mailmigrated copies queued accounts from OLD to NEW:
# every folder, message (byte for byte), flag, keyword, date and
# subscription, checked by corpus.py --verify, with OLD's \Sent folder
# "Sent Messages" mapped to NEW's "Sent"; a second round copies
# nothing twice; kill -9 of the daemon at random moments, ten times,
# then a restart: nothing missing, nothing twice.
#
# MM_BIG_MB (default 20) sets the size of one corpus's big message.

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

mm_require_root_and_pkgs
MAILMIGRATED=${MAILMIGRATED:-$top_builddir/puller/mailmigrated}
[ -x "$MAILMIGRATED" ] || skip "mailmigrated not built"

BIG_MB=${MM_BIG_MB:-20}
CORPUS="$PYTHON $HARNESS/corpus.py"

# NEW as an administrator sets it up: its \Sent folder exists, so OLD's
# "Sent Messages" (\Sent) must land in it.
MM_NEW_DOVECOT_EXTRA=$(mktemp /tmp/mmx.XXXXXX)
cat >"$MM_NEW_DOVECOT_EXTRA" <<'EOD'
namespace inbox {
  mailbox Sent {
    auto = create
  }
}
EOD
export MM_NEW_DOVECOT_EXTRA
mm_servers_start
rm -f "$MM_NEW_DOVECOT_EXTRA"
CONF=$MM_DIR/mailmigrate.conf
cat >"$CONF" <<EOC
$(mm_store_conf $MM_DIR/state)
key_file = $MM_DIR/secret.key
log_file = $MM_DIR/mailmigrated.log
workers = 2
target_host = $NEW_IP:$NEW_IMAP_PORT
target_master_user = $NEW_MASTER_USER
target_master_password_file = $NEW_MASTER_PASS_FILE
default_domain = example.test
post_migrate_script = $MM_DIR/post.sh

[domain example.test]
source_host = $OLD_IP
source_tls = starttls
source_tls_ca_file = $CA_FILE

[domain example.org]
source_host = $OLD_IP
source_protocols = pop3
source_tls = starttls
source_tls_ca_file = $CA_FILE
EOC
MM() { "$MAILMIGRATE" -c "$CONF" "$@"; }

# Users on OLD with their corpora; on NEW only the master can open them.
(umask 077 && : >"$MM_DIR/bulk.txt")
for u in ann ben cid kim; do
	pass="pw $u \"x\" ü"
	mm_adduser old "$u@example.test" "$pass"
	sh "$SERVERS_SH" adduser "$MM_DIR" new "$u@example.test" --nopass </dev/null ||
		fail "adduser new $u failed"
	pw=$(mm_pwfile "$pass")
	mv "$pw" "$MM_DIR/$u.pw"
	big=0
	count=20
	[ "$u" = ann ] && big=$BIG_MB
	[ "$u" = kim ] && count=400
	$CORPUS --host "$OLD_IP" --user "$u@example.test" --password-file "$MM_DIR/$u.pw" \
		--seed "$(printf %s "$u" | cksum | cut -d' ' -f1)" --count "$count" \
		--big-mb "$big" --manifest "$MM_DIR/$u.json" >/dev/null ||
		fail "corpus load for $u failed"
	printf '%s@example.test:%s\n' "$u" "$pass" >>"$MM_DIR/bulk.txt"
done
mm_adduser old "pop@example.org" "pop pass ü"
sh "$SERVERS_SH" adduser "$MM_DIR" new "pop@example.org" --nopass </dev/null ||
	fail "adduser new pop failed"
pw=$(mm_pwfile "pop pass ü")
mv "$pw" "$MM_DIR/pop.pw"
$CORPUS --host "$OLD_IP" --user pop@example.org --password-file "$MM_DIR/pop.pw" \
	--seed 99 --count 40 --manifest "$MM_DIR/pop.json" >/dev/null ||
	fail "corpus load for pop failed"
# The post-migrate script records what it was given.
cat >"$MM_DIR/post.sh" <<'EOS'
#!/bin/sh
out=$(dirname "$0")/post.out
printf 'args=%s|%s\n' "$#" "$*" >>"$out"
printf 'stdin=%s\n' "$(head -n 1 | sha256sum | cut -c1-16)" >>"$out"
env >>"$(dirname "$0")/post.env"
echo "post for $1 done"
[ "$1" != cid@example.test ] || exit 4
EOS
chmod 755 "$MM_DIR/post.sh"
MM init >/dev/null || fail "init failed"

verify() {
	$CORPUS --verify --host "$NEW_IP" --user "$1@example.test*$NEW_MASTER_USER" \
		--password-file "$NEW_MASTER_PASS_FILE" --manifest "$MM_DIR/$1.json" \
		--folder-map "Sent Messages=Sent"
}

t_copy() {
	printf 'ann@example.test:pw ann "x" ü\nben@example.test:pw ben "x" ü\ncid@example.test:pw cid "x" ü\n' |
		MM bulk - >/dev/null || return 1
	"$MAILMIGRATED" -c "$CONF" -f --once 2>>"$MM_DIR/daemon.err" || return 1
	for u in ann ben cid; do verify "$u" || return 1; done
	MM list --json >"$MM_DIR/list.json"
	"$PYTHON" - "$MM_DIR/list.json" <<'EOP'
import json, sys
accts = json.load(open(sys.argv[1]))
states = {a["account"]: a["state"] for a in accts}
assert all(states[u + "@example.test"] == "copied" for u in ("ann", "ben", "cid")), states
EOP
}

t_stats() {
	MM stats --json >"$MM_DIR/stats.json"
	"$PYTHON" - "$MM_DIR" <<'EOP'
import json, sys
d = sys.argv[1]
st = json.load(open(d + "/stats.json"))
want = sum(len(json.load(open("%s/%s.json" % (d, u)))["messages"]) for u in ("ann", "ben", "cid"))
assert st["messages"] == want, (st["messages"], want)
assert st["mailboxes_migrated"] == 3, st
assert st["mailboxes_total"] == 3, st
assert st["errors"] == 0, st["errors"]
# Just copied: the rate of the last minutes counts those messages.
assert st["rate_messages"] == want and st["rate_window_seconds"] > 0, st
EOP
}

# Another round copies nothing twice.
t_second_round() {
	MM sync --all >/dev/null || return 1
	"$MAILMIGRATED" -c "$CONF" -f --once 2>>"$MM_DIR/daemon.err" || return 1
	for u in ann ben cid; do verify "$u" || return 1; done
}

# OLD's INBOX and NEW's, message by message: body, flags, date.
same_inbox() {
	"$PYTHON" - "$OLD_IP" "$NEW_IP" "$1" "$MM_DIR/$1.pw" "$NEW_MASTER_USER" \
		"$NEW_MASTER_PASS_FILE" "${2:-}" <<'EOP'
import hashlib, imaplib, sys
old, new, user, pwf, master, mpwf, action = sys.argv[1:8]
def login(host, authz, authc, pw):
    m = imaplib.IMAP4(host)
    m.authenticate("PLAIN", lambda _: ("%s\0%s\0%s" % (authz, authc, pw)).encode())
    return m
def inbox(m, ro=True):
    m.select("INBOX", readonly=ro)
    typ, data = m.uid("FETCH", "1:*", "(FLAGS INTERNALDATE BODY.PEEK[])")
    out = []
    for item in data:
        if isinstance(item, tuple):
            meta = item[0].decode()
            flags = sorted(f for f in imaplib.ParseFlags(item[0]) if f != b"\\Recent")
            date = imaplib.Internaldate2tuple(item[0])
            out.append((hashlib.sha256(item[1]).hexdigest(), tuple(flags), date))
    return sorted(out)
o = login(old, "", user + "@example.test", open(pwf, encoding="utf-8").read().rstrip("\n"))
if action == "change":
    o.select("INBOX")
    typ, data = o.uid("SEARCH", "ALL")
    uids = data[0].split()
    o.uid("STORE", uids[0], "+FLAGS", "(\\Flagged $Label7)")
    o.uid("STORE", uids[1], "-FLAGS", "(\\Seen)")
    o.append("INBOX", "(\\Answered)", '"05-Jun-2019 10:11:12 +0200"',
             b"From: a@example.test\r\nSubject: between rounds\r\n"
             b"Message-ID: <between@example.test>\r\n\r\nnew on OLD\r\n")
    sys.exit(0)
n = login(new, user + "@example.test", master, open(mpwf).read().strip())
a, b = inbox(o), inbox(n)
if a != b:
    print("INBOX differs: %d on OLD, %d on NEW; first difference: %s" %
          (len(a), len(b), next(((x, y) for x, y in zip(a, b) if x != y), None)))
    sys.exit(1)
EOP
}

# Flags changed and a message added on OLD between rounds reach NEW
# with sync, and nothing else changes.
t_rounds() {
	same_inbox ben change || return 1
	# The comparison sees the difference before the round...
	if same_inbox ben >/dev/null; then
		echo "OLD and NEW compare equal before the sync: the check is blind"
		return 1
	fi
	MM sync ben@example.test >/dev/null || return 1
	"$MAILMIGRATED" -c "$CONF" -f --once 2>>"$MM_DIR/daemon.err" || return 1
	same_inbox ben || return 1
	grep -q "ben@example.test: copied: 1 messages .* flags updated on 2," \
		"$MM_DIR/mailmigrated.log" || { grep ben "$MM_DIR/mailmigrated.log"; return 1; }
}

# kill -9 at moments from a fixed seed and while batches are in flight,
# then a restart: nothing lost or doubled.
t_kill9() {
	printf 'kim@example.test:pw kim "x" ü\n' | MM bulk - >/dev/null || return 1
	# Slowed down, so that every kill lands in the middle of the copy,
	# and often of a batch (one MULTIAPPEND) on its way to NEW.
	sed 's/^workers = 2$/workers = 2\nmax_bytes_per_second = 4M/' "$CONF" >"$CONF.kill"
	# Trials 2, 4 and 6 kill once a batch is in flight (a pending batch
	# in the store), so at least three restarts resume one, however
	# loaded the machine is; the others at a moment from 50 ms to 3 s
	# (before, during and between batches; one takes about 1.5 s at this
	# rate), drawn from a fixed seed.
	# shellcheck disable=SC2046  # the numbers, one word each
	set -- $(awk 'BEGIN { srand(20261203); for (i = 0; i < 10; i++) printf "%d ", int(rand() * 2950) + 50 }')
	trial=0
	while [ "$trial" -lt 10 ]; do
		trial=$((trial + 1))
		ms=$1
		shift
		# Its own process group, killed whole, as systemd would.
		setsid "$MAILMIGRATED" -c "$CONF.kill" -f 2>>"$MM_DIR/daemon.err" &
		pid=$!
		# Its group exists once setsid has run: a kill of the group
		# before that finds none, and the daemon would run on (a
		# batch left by the last kill makes the wait below true at
		# once).
		wait_for '[ "$(ps -o pgid= -p "$pid" | tr -d " ")" = "$pid" ]' 5 ||
			{ echo "trial $trial: no process group $pid"; kill -KILL "$pid"; return 1; }
		if [ "$trial" = 2 ] || [ "$trial" = 4 ] || [ "$trial" = 6 ]; then
			wait_for '[ "$(mm_pending_batches "$CONF")" -gt 0 ] 2>/dev/null' 10 ||
				{ echo "trial $trial: no batch in flight within 10 s"; /bin/kill -KILL -- "-$pid"; return 1; }
		else
			sleep "$(printf '%d.%03d' $((ms / 1000)) $((ms % 1000)))"
		fi
		/bin/kill -KILL -- "-$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
		# Wait for every worker to be gone before the next start.
		n=0
		while pgrep -f "$MAILMIGRATED -c $CONF" >/dev/null && [ "$n" -lt 50 ]; do
			sleep 0.1
			n=$((n + 1))
		done
	done
	"$MAILMIGRATED" -c "$CONF" -f --once 2>>"$MM_DIR/daemon.err" || return 1
	verify kim || return 1
	resumed=$(grep -c "kim@example.test: resumed after an interruption" "$MM_DIR/mailmigrated.log")
	[ "$resumed" -ge 3 ] || { echo "only $resumed kills hit a batch in flight"; return 1; }
	MM show kim@example.test --json | "$PYTHON" -c '
import json, sys
a = json.load(sys.stdin)
assert a["state"] == "copied", a["state"]'
}

verify_pop() {
	$CORPUS --verify --host "$NEW_IP" --user "pop@example.org*$NEW_MASTER_USER" \
		--password-file "$NEW_MASTER_PASS_FILE" --manifest "$MM_DIR/pop.json" \
		--only-folder INBOX --loose-headers --no-flags --no-dates --no-subscriptions
}

# POP3: INBOX byte for byte but for an X-UIDL header holding OLD's UIDL,
# dates from the headers (not the time of the copy), and nothing twice on
# a second round.
t_pop3() {
	printf 'pop@example.org:pop pass ü\n' | MM bulk - >/dev/null || return 1
	"$MAILMIGRATED" -c "$CONF" -f --once 2>>"$MM_DIR/daemon.err" || return 1
	verify_pop || return 1
	"$PYTHON" - "$OLD_IP" "$NEW_IP" "$MM_DIR/pop.pw" "$NEW_MASTER_USER" \
		"$NEW_MASTER_PASS_FILE" <<'EOP' || return 1
import imaplib, poplib, re, sys, time
old, new, pwf, master, mpwf = sys.argv[1:6]
pw = open(pwf, encoding="utf-8").read().rstrip("\n")
p = poplib.POP3(old)
p.user("pop@example.org")
p.pass_(pw)
uidls = sorted(l.split()[1].decode() for l in p.uidl()[1])
p.quit()
m = imaplib.IMAP4(new)
m.authenticate("PLAIN", lambda _: ("\0pop@example.org*%s\0%s" % (master, open(mpwf).read().strip())).encode())
m.select("INBOX", readonly=True)
typ, data = m.uid("FETCH", "1:*", "(INTERNALDATE BODY.PEEK[HEADER.FIELDS (X-UIDL)])")
got, dates = [], []
for item in data:
    if isinstance(item, tuple):
        hdr = item[1].decode()
        got.append(re.match(r"X-UIDL: (\S+)", hdr).group(1))
        dates.append(imaplib.Internaldate2tuple(item[0]))
m.logout()
assert sorted(got) == uidls, ("X-UIDL on NEW differs from OLD's UIDLs", len(got), len(uidls))
recent = [d for d in dates if time.mktime(d) > time.time() - 86400]
assert not recent, "%d messages dated now, not from their headers" % len(recent)
EOP
	MM sync pop@example.org >/dev/null || return 1
	"$MAILMIGRATED" -c "$CONF" -f --once 2>>"$MM_DIR/daemon.err" || return 1
	verify_pop
}

# mailmigrate verify proves each copy against OLD and NEW now; a copy
# gone from NEW behind the puller's back is a difference: the next
# round is held back from "copied", records it as a failed item, and
# the retry copies the messages again, byte for byte.
verify_json() {
	MM verify "$@" --json >"$MM_DIR/verify.json"
	rc=$?
	"$PYTHON" - "$MM_DIR" <<'EOP' || return 1
import json, sys
d = sys.argv[1]
v = json.load(open(d + "/verify.json"))
for a in v["accounts"]:
    u = a["account"].split("@")[0]
    try:
        want = len(json.load(open("%s/%s.json" % (d, u)))["messages"])
    except FileNotFoundError:
        continue
    copied = sum(f["copied"] for f in a["folders"])
    old = sum(f["old_messages"] for f in a["folders"])
    print(a["account"], a["result"], "old", old, "copied", copied, "want", want,
          [(f["folder"], f["gone"], f["missing"]) for f in a["folders"] if f["state"] != "ok"])
EOP
	return $rc
}
t_verify() {
	MM verify ben@example.test >"$MM_DIR/verify.txt" || { cat "$MM_DIR/verify.txt"; return 1; }
	grep -q "^ben@example.test: every message accounted for" "$MM_DIR/verify.txt" &&
		grep -Eq "^INBOX +[0-9]+ .* ok$" "$MM_DIR/verify.txt" ||
		{ cat "$MM_DIR/verify.txt"; return 1; }
	MM verify pop@example.org >"$MM_DIR/verify.txt" || { cat "$MM_DIR/verify.txt"; return 1; }
	verify_json --all >"$MM_DIR/verify.sum" || { cat "$MM_DIR/verify.sum"; return 1; }
	# Every account ok, and for each the corpus's count copied.
	"$PYTHON" - "$MM_DIR" <<'EOP' || return 1
import json, sys
d = sys.argv[1]
v = json.load(open(d + "/verify.json"))
assert v["accounts_differ"] == 0 and v["accounts_not_verified"] == 0, v
for a in v["accounts"]:
    assert a["result"] == "ok", a
    u = a["account"].split("@")[0]
    msgs = json.load(open("%s/%s.json" % (d, u)))["messages"]
    # POP3 (pop@example.org) copies INBOX only.
    want = len([m for m in msgs if u != "pop" or m["folder"] == "INBOX"])
    got = sum(f["copied"] for f in a["folders"])
    # ben got one more message on OLD between rounds (t_rounds).
    assert got == want + (u == "ben"), (a["account"], got, want)
    assert all(f["missing"] == 0 and f["gone"] == 0 for f in a["folders"]), a
EOP
	# Two of ben's copies go from NEW.
	"$PYTHON" - "$NEW_IP" "$NEW_MASTER_USER" "$NEW_MASTER_PASS_FILE" <<'EOP' || return 1
import imaplib, sys
new, master, mpwf = sys.argv[1:4]
m = imaplib.IMAP4(new)
m.authenticate("PLAIN", lambda _: ("ben@example.test\0%s\0%s" % (master, open(mpwf).read().strip())).encode())
m.select("INBOX")
typ, data = m.uid("SEARCH", "ALL")
uids = data[0].split()
assert len(uids) >= 3, uids
m.uid("STORE", b",".join(uids[0:2]), "+FLAGS.SILENT", "(\\Deleted)")
m.expunge()
m.logout()
EOP
	if MM verify ben@example.test >"$MM_DIR/verify.txt"; then
		echo "verify says ben is fine with two copies gone from NEW"; cat "$MM_DIR/verify.txt"; return 1
	fi
	grep -q "differs: INBOX: copies no longer on NEW: 2" "$MM_DIR/verify.txt" ||
		{ cat "$MM_DIR/verify.txt"; return 1; }
	MM sync ben@example.test >/dev/null || return 1
	"$MAILMIGRATED" -c "$CONF" -f --once 2>>"$MM_DIR/daemon.err" || return 1
	# Not copied: migrating, with the reason, a failed item and an event.
	MM show ben@example.test --json >"$MM_DIR/ben.json" || return 1
	"$PYTHON" - "$MM_DIR/ben.json" <<'EOP' || return 1
import json, sys
a = json.load(open(sys.argv[1]))
assert a["state"] != "copied", a["state"]
assert a["job"] and "verify: 1 of" in (a["job"]["last_error"] or ""), a["job"]
EOP
	MM failed ben@example.test | grep -q "INBOX .* verify: copies no longer on NEW: 2" ||
		{ MM failed ben@example.test; return 1; }
	grep -q "ben@example.test: verify: INBOX differs from OLD" "$MM_DIR/mailmigrated.log" ||
		return 1
	# The retry (a few seconds on) copies them again and verifies.
	wait_for '"$MAILMIGRATED" -c "$CONF" -f --once 2>>"$MM_DIR/daemon.err";
		MM show ben@example.test --json | grep -q "\"state\": \"copied\""' 60 || {
		MM show ben@example.test; return 1; }
	same_inbox ben || return 1
	grep -q "ben@example.test: verify: INBOX matches OLD again" "$MM_DIR/mailmigrated.log" ||
		return 1
	if MM failed ben@example.test | grep -q verify; then
		echo "the verify failed item stayed"; return 1
	fi
	MM verify ben@example.test >"$MM_DIR/verify.txt" || { cat "$MM_DIR/verify.txt"; return 1; }
	# POP3: a copy found by its X-UIDL:, gone from NEW, copied again.
	"$PYTHON" - "$NEW_IP" "$NEW_MASTER_USER" "$NEW_MASTER_PASS_FILE" <<'EOP' || return 1
import imaplib, sys
new, master, mpwf = sys.argv[1:4]
m = imaplib.IMAP4(new)
m.authenticate("PLAIN", lambda _: ("pop@example.org\0%s\0%s" % (master, open(mpwf).read().strip())).encode())
m.select("INBOX")
m.uid("STORE", "1", "+FLAGS.SILENT", "(\\Deleted)")
m.expunge()
m.logout()
EOP
	if MM verify pop@example.org >"$MM_DIR/verify.txt"; then
		echo "verify says pop is fine with a copy gone from NEW"; cat "$MM_DIR/verify.txt"; return 1
	fi
	grep -q "differs: INBOX: copies no longer on NEW: 1" "$MM_DIR/verify.txt" ||
		{ cat "$MM_DIR/verify.txt"; return 1; }
	MM sync pop@example.org >/dev/null || return 1
	wait_for '"$MAILMIGRATED" -c "$CONF" -f --once 2>>"$MM_DIR/daemon.err";
		MM show pop@example.org --json | grep -q "\"state\": \"copied\""' 60 || {
		MM show pop@example.org; return 1; }
	verify_pop || return 1
	grep -q "pop@example.org: verify: INBOX differs from OLD" "$MM_DIR/mailmigrated.log" ||
		return 1
	MM verify pop@example.org >"$MM_DIR/verify.txt" || { cat "$MM_DIR/verify.txt"; return 1; }
}

# finish: a last round, then finished, the captured password wiped, and
# the post-migrate script run with the address and the password on stdin.
t_finish() {
	MM finish >/dev/null || return 1
	"$MAILMIGRATED" -c "$CONF" -f --once 2>>"$MM_DIR/daemon.err" || return 1
	for u in ann ben cid; do
		MM show "$u@example.test" --json | "$PYTHON" -c '
import json, sys
a = json.load(sys.stdin)
assert a["state"] == "finished", a["state"]
assert a["captured_password"] is False, "password not wiped"' || return 1
	done
	want=$(printf 'pw ben "x" ü\n' | head -n 1 | sha256sum | cut -c1-16)
	grep -q '^args=1|ben@example.test$' "$MM_DIR/post.out" || { cat "$MM_DIR/post.out"; return 1; }
	grep -q "^stdin=$want\$" "$MM_DIR/post.out" || { cat "$MM_DIR/post.out"; return 1; }
	if grep -q -e 'pw [a-z]* "x"' "$MM_DIR/post.env"; then
		echo "a password reached the script's environment"
		return 1
	fi
	MM log --account ben@example.test | grep -q "post_migrate_script exited 0: post for ben@example.test done" ||
		{ MM log --account ben@example.test; return 1; }
	MM log --errors --account cid@example.test | grep -q "post_migrate_script exited 4" ||
		{ MM log --account cid@example.test; return 1; }
}

msgs_of() {
	MM show "$1" --json | "$PYTHON" -c 'import json,sys; print(json.load(sys.stdin)["messages"])'
}

# pause stops a running copy within a second or two and the daemon waits;
# resume goes on; SIGTERM ends the message in flight and exits 0; the
# copy then completes with nothing missing or doubled.
t_pause_term() {
	mm_adduser old "sam@example.test" "pw sam \"x\" ü"
	sh "$SERVERS_SH" adduser "$MM_DIR" new sam@example.test --nopass </dev/null || return 1
	pw=$(mm_pwfile "pw sam \"x\" ü")
	mv "$pw" "$MM_DIR/sam.pw"
	$CORPUS --host "$OLD_IP" --user sam@example.test --password-file "$MM_DIR/sam.pw" \
		--seed 11 --count 300 --manifest "$MM_DIR/sam.json" >/dev/null || return 1
	printf 'sam@example.test:pw sam "x" ü\n' | MM bulk - >/dev/null || return 1
	sed 's/^workers = 2$/workers = 1\nmax_bytes_per_second = 4M/' "$CONF" >"$CONF.one"
	"$MAILMIGRATED" -c "$CONF.one" -f 2>>"$MM_DIR/daemon.err" &
	pid=$!
	sleep 1
	MM pause >/dev/null || return 1
	sleep 2
	a=$(msgs_of sam@example.test)
	sleep 2
	b=$(msgs_of sam@example.test)
	if [ "$a" != "$b" ]; then
		echo "still copying while paused: $a then $b messages"
		kill -TERM "$pid"
		return 1
	fi
	kill -0 "$pid" || { echo "the daemon exited on pause"; return 1; }
	MM resume >/dev/null || return 1
	sleep 1.5
	c=$(msgs_of sam@example.test)
	[ "$c" -gt "$b" ] || { echo "resume did not go on ($b then $c)"; kill -TERM "$pid"; return 1; }
	kill -TERM "$pid"
	n=0
	while kill -0 "$pid" 2>/dev/null && [ "$n" -lt 100 ]; do sleep 0.1; n=$((n + 1)); done
	if kill -0 "$pid" 2>/dev/null; then
		echo "still running 10 s after SIGTERM"
		kill -KILL "$pid"
		return 1
	fi
	wait "$pid" || { echo "exit status $? after SIGTERM"; return 1; }
	grep -q "sam@example.test: stopped between batches" "$MM_DIR/mailmigrated.log" ||
		{ echo "no clean stop logged"; return 1; }
	"$MAILMIGRATED" -c "$CONF" -f --once 2>>"$MM_DIR/daemon.err" || return 1
	verify sam
}

# A message over max_message_size is not copied: it is a failed item
# (mailmigrate failed, --csv) and the rest of the account is copied.
t_failed_items() {
	mm_adduser old "fay@example.test" "pw fay \"x\" ü"
	sh "$SERVERS_SH" adduser "$MM_DIR" new fay@example.test --nopass </dev/null || return 1
	pw=$(mm_pwfile "pw fay \"x\" ü")
	mv "$pw" "$MM_DIR/fay.pw"
	$CORPUS --host "$OLD_IP" --user fay@example.test --password-file "$MM_DIR/fay.pw" \
		--seed 3 --count 8 --big-mb 2 --no-samples --manifest "$MM_DIR/fay.json" \
		>/dev/null || return 1
	sed 's/^workers = 2$/workers = 2\nmax_message_size = 1M/' "$CONF" >"$CONF.small"
	printf 'fay@example.test:pw fay "x" ü\n' | MM bulk - >/dev/null || return 1
	"$MAILMIGRATED" -c "$CONF.small" -f --once 2>>"$MM_DIR/daemon.err" || return 1
	MM failed --csv fay@example.test >"$MM_DIR/failed.csv" || return 1
	[ "$(wc -l <"$MM_DIR/failed.csv")" -eq 2 ] || { cat "$MM_DIR/failed.csv"; return 1; }
	head -n 1 "$MM_DIR/failed.csv" | grep -q '^account,folder,uidvalidity,uid,size,time,reason$' || return 1
	# The reason holds a comma: quoted, as RFC 4180 says.
	grep -q '^fay@example.test,Archive,[0-9]*,[0-9]*,2[0-9]\{6\},[-0-9T:]*Z,"[0-9]* bytes, over max_message_size (1048576 bytes)"$' \
		"$MM_DIR/failed.csv" ||
		{ cat "$MM_DIR/failed.csv"; return 1; }
	MM failed | grep -q "fay@example.test" || return 1
	MM show fay@example.test --json | "$PYTHON" -c '
import json, sys
a = json.load(sys.stdin)
assert a["state"] == "copied" and a["errors"] == 1, (a["state"], a["errors"])'
	# Everything but the big message is on NEW.
	out=$(verify fay) && return 1
	[ "$(printf '%s\n' "$out" | grep -c "missing message")" -eq 1 ] ||
		{ printf '%s\n' "$out"; return 1; }
}

# SIGHUP: a good configuration is taken up, a broken one refused while
# the daemon goes on with the one it has.
t_sighup() {
	cp "$CONF" "$CONF.hup"
	"$MAILMIGRATED" -c "$CONF.hup" -f 2>>"$MM_DIR/daemon.err" &
	pid=$!
	sleep 0.5
	sed -i 's/^workers = 2$/workers = 3/' "$CONF.hup"
	kill -HUP "$pid"
	sleep 1
	grep -q "SIGHUP: configuration read again" "$MM_DIR/mailmigrated.log" ||
		{ kill -TERM "$pid"; echo "reload not logged"; return 1; }
	grep -q "starting 3 workers" "$MM_DIR/mailmigrated.log" ||
		{ kill -TERM "$pid"; echo "new worker count not used"; return 1; }
	echo "bogus_key = 1" >>"$CONF.hup"
	kill -HUP "$pid"
	sleep 1
	grep -q "SIGHUP: keeping the running configuration: .*mailmigrate.conf.hup:[0-9]*: unknown key 'bogus_key'" \
		"$MM_DIR/mailmigrated.log" || { kill -TERM "$pid"; echo "bad config not reported"; return 1; }
	kill -0 "$pid" || { echo "the daemon died on a bad configuration"; return 1; }
	kill -TERM "$pid"
	wait "$pid"
}

# max_bytes_per_second: a copy cannot beat the limit (one second's
# burst aside). Only a lower bound is checked: that is the limit's job.
t_throttle() {
	mm_adduser old "tim@example.test" "pw tim \"x\" ü"
	sh "$SERVERS_SH" adduser "$MM_DIR" new tim@example.test --nopass </dev/null || return 1
	pw=$(mm_pwfile "pw tim \"x\" ü")
	$CORPUS --host "$OLD_IP" --user tim@example.test --password-file "$pw" \
		--seed 5 --count 10 --big-mb 2 --no-samples --manifest "$MM_DIR/tim.json" \
		>/dev/null || return 1
	sed 's/^workers = 2$/workers = 2\nmax_bytes_per_second = 1M/' "$CONF" >"$CONF.slow"
	grep -q '^max_bytes_per_second = 1M$' "$CONF.slow" || return 1
	printf 'tim@example.test:pw tim "x" ü\n' | MM bulk - >/dev/null || return 1
	t0=$(date +%s%N)
	"$MAILMIGRATED" -c "$CONF.slow" -f --once 2>>"$MM_DIR/daemon.err" || return 1
	ms=$((($(date +%s%N) - t0) / 1000000))
	bytes=$(MM show tim@example.test --json | "$PYTHON" -c 'import json,sys; print(json.load(sys.stdin)["bytes"])')
	min=$(( (bytes - 1048576) * 900 / 1048576 ))
	echo "$bytes bytes in $ms ms (at least $min ms at 1 MiB/s)"
	[ "$bytes" -gt 2000000 ] && [ "$ms" -ge "$min" ]
}

# The daemon log names no password.
t_no_password_in_logs() {
	for f in "$MM_DIR/mailmigrated.log" "$MM_DIR/daemon.err"; do
		if grep -q -e 'pw [a-z]* "x"' -e 'pop pass' "$f"; then
			echo "a password is in $f"
			return 1
		fi
	done
}

check "mailmigrated copies 3 accounts (one with a ${BIG_MB} MB message), verified" t_copy
check "stats count the copied messages" t_stats
check "a second round (sync --all) copies nothing twice" t_second_round
check "flags changed and a message added on OLD reach NEW with sync" t_rounds
check "kill -9 at 10 moments (3 in a batch), restart: nothing missing or doubled" t_kill9
check "POP3: INBOX copied with X-UIDL and header dates, no duplicates on sync" t_pop3
check "verify: every copy proven; copies gone from NEW held back, copied again" t_verify
check "finish: last round, finished, password wiped, post_migrate_script run" t_finish
check "a message over max_message_size is a failed item, the rest copied" t_failed_items
check "max_bytes_per_second holds a copy to its rate" t_throttle
check "pause stops a copy, resume goes on, SIGTERM exits cleanly, no loss" t_pause_term
check "SIGHUP takes a good configuration and refuses a broken one" t_sighup
check "no password in the logs" t_no_password_in_logs
mm_done
