#!/bin/sh
# shellcheck disable=SC2317  # t_* run through check()
# test_sieve.sh - Sieve scripts from OLD's ManageSieve to NEW's (issue
# 14, items 1 and 5), with Dovecot Pigeonhole (dovecot-managesieved) as
# OLD and NEW:
#   - every script byte for byte (CRLF, LF, UTF-8 in name and content, one
#     of 900 KB), and the one active on OLD made active on NEW;
#   - a script using an extension NEW lacks (editheader, enabled on OLD
#     only) and one of 1 MB + 1 byte (over NEW's sieve_max_script_size):
#     each a failed item "sieve:NAME" with NEW's reason, the rest copied,
#     the mail copied, the account copied;
#   - a second round puts only the script changed on OLD;
#   - an OLD without ManageSieve (nothing on source_sieve_port): an
#     event, the account copied, no failed item;
#   - OLD's ManageSieve out of reach for a round (it accepts and never
#     greets: tests/harness/silentproxy.py): an event saying the next
#     round tries again, nothing recorded; the next round copies;
#   - show (each script, its SHA-256, the active one) and stats (scripts
#     copied), in text and JSON;
#   - a domain without migrate_sieve: nothing of Sieve happens;
#   - preflight's old_sieve per domain;
#   - Cyrus 3.6's timsieved as OLD (tests/harness/oldserver.sh with
#     MM_OLDSRV_SIEVE=yes; skipped when its packages cannot be had).
# Managesieve is added to the harness's Dovecots through
# MM_OLD_DOVECOT_EXTRA / MM_NEW_DOVECOT_EXTRA only: other tests are
# unchanged.

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

mm_require_root_and_pkgs
MAILMIGRATED=${MAILMIGRATED:-$top_builddir/puller/mailmigrated}
[ -x "$MAILMIGRATED" ] || skip "mailmigrated not built"
[ -x /usr/lib/dovecot/managesieve ] ||
	skip "dovecot-managesieved not installed (tests/install-deps.sh)"

echo "store: $MM_TEST_BACKEND"
MM_DIR=$(mm_tmpdir) || exit 1
SIEVE_PORT=4190
# silentproxy.py, in front of OLD's ManageSieve for example.com
SILENT_PORT=14190
# OLD has editheader (NEW does not) and takes scripts up to 4 MB; NEW
# keeps Pigeonhole's default limit of 1M.
cat >"$MM_DIR/old-extra.conf" <<EOC
protocols = \$protocols sieve
service managesieve-login {
  inet_listener sieve {
    port = $SIEVE_PORT
  }
}
plugin {
  sieve = file:~/sieve;active=~/.dovecot.sieve
  sieve_extensions = +editheader
  sieve_max_script_size = 4M
}
EOC
cat >"$MM_DIR/new-extra.conf" <<EOC
protocols = \$protocols sieve
service managesieve-login {
  inet_listener sieve {
    port = $SIEVE_PORT
  }
}
plugin {
  sieve = file:~/sieve;active=~/.dovecot.sieve
}
EOC
MM_OLD_DOVECOT_EXTRA=$MM_DIR/old-extra.conf
MM_NEW_DOVECOT_EXTRA=$MM_DIR/new-extra.conf
export MM_OLD_DOVECOT_EXTRA MM_NEW_DOVECOT_EXTRA
mm_servers_start "$MM_DIR"
"$PYTHON" "$HARNESS/netcheck.py" wait 10 "OLD managesieve=$OLD_IP:$SIEVE_PORT" \
	"NEW managesieve=$NEW_IP:$SIEVE_PORT" || fail "managesieve did not start"

CONF=$MM_DIR/mailmigrate.conf
cat >"$CONF" <<EOC
$(mm_store_conf "$MM_DIR/state")
key_file = $MM_DIR/secret.key
log_file = $MM_DIR/mailmigrated.log
workers = 1
io_timeout = 10
connect_timeout = 5
target_host = $NEW_IP:$NEW_IMAP_PORT
target_master_user = $NEW_MASTER_USER
target_master_password_file = $NEW_MASTER_PASS_FILE

[domain example.test]
source_host = $OLD_IP
source_protocols = imap
source_tls = starttls
source_tls_ca_file = $CA_FILE
migrate_sieve = yes

[domain example.org]
source_host = $OLD_IP
source_protocols = imap
source_tls = starttls
source_tls_ca_file = $CA_FILE
migrate_sieve = yes
source_sieve_port = 1

[domain example.com]
source_host = $OLD_IP
source_protocols = imap
source_tls = starttls
source_tls_ca_file = $CA_FILE
migrate_sieve = yes
source_sieve_port = $SILENT_PORT

[domain example.net]
source_host = $OLD_IP
source_protocols = imap
source_tls = starttls
source_tls_ca_file = $CA_FILE
EOC
MM() { "$MAILMIGRATE" -c "$CONF" "$@"; }
run_once() {
	"$MAILMIGRATED" -c "$CONF" -f --once 2>>"$MM_DIR/daemon.err"
}
MM init >/dev/null || fail "init failed"

# show USER FIELD: one field of `mailmigrate show --json`
show() {
	MM show "$1" --json | "$PYTHON" -c '
import json, sys
v = json.load(sys.stdin)
for k in sys.argv[1].split("."):
    v = v[k] if v is not None else None
print(v)' "$2"
}

add_account() {
	sh "$SERVERS_SH" adduser "$MM_DIR" new "$1" --nopass </dev/null ||
		fail "adduser new $1 failed"
	printf '%s:%s\n' "$1" "$2" | MM bulk - >/dev/null
}

home() { echo "$MM_DIR/$1/home/${2#*@}/${2%@*}"; }

# OLD's scripts, written where OLD's Pigeonhole keeps them (as a user's
# PUTSCRIPT would), the active one linked from ~/.dovecot.sieve.
write_old_scripts() {
	h=$(home old "$1")
	mkdir -p "$h/sieve"
	"$PYTHON" - "$h/sieve" <<'EOP' || return 1
import os, sys
d = sys.argv[1]
def w(name, data):
    with open(os.path.join(d, name + ".sieve"), "wb") as f:
        f.write(data)
w("main", b'require ["fileinto"];\r\n# Gr\xc3\xbc\xc3\x9fe, CRLF\r\n'
          b'if header :contains "subject" "lists" {\r\n  fileinto "INBOX";\r\n}\r\n')
w("vacation \u00e4", b'require "vacation";\n# LF only, UTF-8: \xe2\x82\xac\n'
                       b'vacation :days 3 "Bin weg.";\n')
# 900 KB of comments, then a rule: under NEW's 1M limit.
w("big", b"".join(b"# line %06d of a large script, kept byte for byte ....\r\n" % i
                  for i in range(16000))[:900 * 1024] + b"\r\nkeep;\r\n")
w("edit", b'require "editheader";\naddheader "X-Moved" "yes";\n')
# 1 MB + 1 byte: OLD (4M) holds it, NEW (1M) refuses it.
huge = b"keep;\n" + b"#" * (1024 * 1024 - 6 - 1) + b"\n"
w("huge", huge + b"#")
EOP
	ln -sf sieve/main.sieve "$h/.dovecot.sieve"
	chown -R mail:mail "$h"
}

# same USER NAME: NEW holds OLD's script NAME byte for byte.
same() {
	o="$(home old "$1")/sieve/$2.sieve"
	n="$(home new "$1")/sieve/$2.sieve"
	[ -f "$n" ] || { echo "NEW has no $2 for $1"; ls -la "$(home new "$1")/sieve" 2>&1; return 1; }
	cmp "$o" "$n" || { echo "$2 differs on NEW"; return 1; }
}

t_first_round() {
	mm_adduser old sv@example.test "sv pass"
	write_old_scripts sv@example.test || return 1
	add_account sv@example.test "sv pass" || return 1
	run_once
	st=$(show sv@example.test state)
	[ "$st" = copied ] || { echo "state $st"; show sv@example.test last_error; return 1; }
	same sv@example.test main || return 1
	same sv@example.test "vacation ä" || return 1
	same sv@example.test big || return 1
	for s in edit huge; do
		[ ! -e "$(home new sv@example.test)/sieve/$s.sieve" ] ||
			{ echo "$s is on NEW"; return 1; }
	done
	act=$(readlink "$(home new sv@example.test)/.dovecot.sieve")
	assert_eq "sieve/main.sieve" "$act" "NEW's active script"
	f=$(MM failed sv@example.test --csv)
	assert_contains "$f" "sieve:edit"
	assert_contains "$f" "editheader"
	assert_contains "$f" "sieve:huge"
	assert_contains "$f" "NEW refused it"
	n=$(printf '%s\n' "$f" | grep -c "^sv@example.test,")
	assert_eq 2 "$n" "failed items"
	ev=$(MM log --account sv@example.test 2>&1)
	assert_contains "$ev" "sieve: 5 scripts on OLD: 3 copied, 0 unchanged since copied, 0 already the same on NEW, 2 not copied (failed items); active: \"main\" made active on NEW"
}

# show: the scripts copied (sorted by name), the SHA-256 of OLD's bytes
# (all of it in JSON, 12 digits in text), the active one; the failed
# ones (edit, huge) are not there. stats: the count over all accounts.
t_show_stats() {
	MM show sv@example.test --json | "$PYTHON" -c '
import hashlib, json, os, sys
d = sys.argv[1]
v = json.load(sys.stdin)["sieve"]
names = [s["name"] for s in v]
assert names == ["big", "main", "vacation \u00e4"], names
for s in v:
    with open(os.path.join(d, s["name"] + ".sieve"), "rb") as f:
        want = hashlib.sha256(f.read()).hexdigest()
    assert s["sha256"] == want, (s, want)
    assert s["active"] == (s["name"] == "main"), s
' "$(home old sv@example.test)/sieve" || return 1
	txt=$(MM show sv@example.test) || return 1
	assert_contains "$txt" "Sieve scripts copied:"
	h=$(sha256sum "$(home old sv@example.test)/sieve/main.sieve" | cut -c1-12)
	printf '%s\n' "$txt" | grep -Eq "^main +$h +yes\$" ||
		{ echo "no line for main with $h, active:"; echo "$txt"; return 1; }
	h=$(sha256sum "$(home old sv@example.test)/sieve/big.sieve" | cut -c1-12)
	printf '%s\n' "$txt" | grep -Eq "^big +$h +no\$" ||
		{ echo "no line for big with $h, not active:"; echo "$txt"; return 1; }
	if printf '%s\n' "$txt" | grep -Eq '^(edit|huge) '; then
		echo "a failed script is shown:"; echo "$txt"; return 1
	fi
	st=$(MM stats) || return 1
	printf '%s\n' "$st" | grep -Eq '^Sieve scripts copied: +3$' ||
		{ echo "$st"; return 1; }
	n=$(MM stats --json | "$PYTHON" -c 'import json,sys; print(json.load(sys.stdin)["sieve_scripts"])')
	assert_eq 3 "$n" "stats sieve_scripts"
}

# The second round: only the script changed on OLD is put again; the
# active one is not set again.
t_second_round() {
	h=$(home old sv@example.test)
	printf 'require "vacation";\nvacation :days 7 "Wieder da am Montag.";\n' \
		>"$h/sieve/vacation ä.sieve"
	MM sync sv@example.test >/dev/null || { echo "sync refused"; return 1; }
	run_once
	same sv@example.test "vacation ä" || return 1
	ev=$(MM log --account sv@example.test 2>&1)
	assert_contains "$ev" "sieve: 5 scripts on OLD: 1 copied, 2 unchanged since copied, 0 already the same on NEW, 2 not copied (failed items); active: \"main\" made active on NEW by an earlier round"
}

# What the user changed on NEW between rounds stays: a script OLD did
# not change is not put again, and the active script the user chose on
# NEW is kept; a script OLD changes again is put.
t_user_edit_kept() {
	n=$(home new sv@example.test)
	printf 'require "fileinto";\n# my own, on NEW\nkeep;\n' >"$n/sieve/main.sieve"
	ln -sf "sieve/vacation ä.sieve" "$n/.dovecot.sieve"
	printf '# big, changed on OLD\r\nkeep;\r\n' >"$(home old sv@example.test)/sieve/big.sieve"
	MM sync sv@example.test >/dev/null || { echo "sync refused"; return 1; }
	run_once
	grep -q "my own, on NEW" "$n/sieve/main.sieve" || { echo "NEW's main was replaced"; return 1; }
	act=$(readlink "$n/.dovecot.sieve")
	assert_eq "sieve/vacation ä.sieve" "$act" "NEW's active script"
	same sv@example.test big || return 1
	ev=$(MM log --account sv@example.test 2>&1)
	assert_contains "$ev" "sieve: 5 scripts on OLD: 1 copied, 2 unchanged since copied"
}

# mailmigrate verify: the scripts recorded against NEW now; main
# edited by the user there is "changed", not a loss; a script gone from
# NEW makes the account differ, named.
sieve_verify() { # USER: the "sieve" object and the result, as one line
	MM verify "$1" --json | "$PYTHON" -c '
import json, sys
a = json.load(sys.stdin)["accounts"][0]
s = a.get("sieve") or {}
print(a["result"], s.get("recorded"), s.get("same"), s.get("changed_on_new"),
      s.get("gone"), s.get("failed"), s.get("active_recorded"), s.get("active_on_new"),
      "|".join(d for d in a["differences"] if d.startswith("Sieve")))'
}
t_verify() {
	n=$(home new sv@example.test)
	assert_eq "ok 3 2 1 0 2 main vacation ä " "$(sieve_verify sv@example.test)" "verify"
	txt=$(MM verify sv@example.test)
	assert_contains "$txt" "Sieve: 3 scripts copied: 2 on NEW as copied, 1 changed on NEW since, 0 gone; 2 not copied (failed items); active on NEW: vacation ä"
	mv "$n/sieve/big.sieve" "$MM_DIR/big.sieve.aside"
	v=$(sieve_verify sv@example.test)
	mv "$MM_DIR/big.sieve.aside" "$n/sieve/big.sieve"
	assert_eq 'differs 3 1 1 1 2 main vacation ä Sieve: copied, not on NEW: "big"' "$v" \
		"verify with big gone from NEW"
	# preflight with the USER: NEW's ManageSieve takes the master login.
	printf 'sv pass\n' | MM preflight --json sv@example.test | "$PYTHON" -c '
import json, sys
n = [c for c in json.load(sys.stdin)["checks"] if c["check"] == "new_sieve"]
assert len(n) == 1 and n[0]["status"] == "ok", n
assert "master login as sv@example.test*" in n[0]["message"], n
assert n[0]["login"] == "sv@example.test" and "fileinto" in n[0]["extensions"], n
'
}

# After a reset the store has no record: scripts NEW holds with OLD's
# bytes are "already the same", the one the user changed is OLD's again.
t_after_reset() {
	MM reset sv@example.test >/dev/null ||
		{ echo "reset refused"; return 1; }
	run_once
	ev=$(MM log --account sv@example.test 2>&1)
	assert_contains "$ev" "sieve: 5 scripts on OLD: 1 copied, 0 unchanged since copied, 2 already the same on NEW, 2 not copied (failed items); active: \"main\" made active on NEW"
	same sv@example.test main
}

# OLD without ManageSieve (nothing listens on source_sieve_port): an
# event; the mail is copied; no failed item.
t_no_managesieve() {
	mm_adduser old nos@example.org "nos pass"
	add_account nos@example.org "nos pass" || return 1
	run_once
	st=$(show nos@example.org state)
	[ "$st" = copied ] || { echo "state $st"; show nos@example.org last_error; return 1; }
	ev=$(MM log --account nos@example.org 2>&1)
	assert_contains "$ev" "sieve: OLD has no ManageSieve on $OLD_IP port 1"
	f=$(MM failed nos@example.org --csv | grep -c "^nos@example.org," || true)
	assert_eq 0 "$f" "failed items"
}

# silent_start N NAME: silentproxy.py in front of OLD's ManageSieve on
# SILENT_PORT, its first N connections held silent, its log in
# MM_DIR/NAME.log; sp its pid.
silent_start() {
	"$PYTHON" "$HARNESS/silentproxy.py" "$OLD_IP:$SILENT_PORT" \
		"$OLD_IP:$SIEVE_PORT" --silent "$1" --log "$MM_DIR/$2.log" \
		>"$MM_DIR/$2.out" 2>&1 &
	sp=$!
	mm_at_exit "kill $sp 2>/dev/null"
	wait_for "grep -q ready '$MM_DIR/$2.out'" 10 ||
		{ cat "$MM_DIR/$2.out"; return 1; }
}

# one_script USER NAME TEXT: USER on OLD (password "LOCAL pass") with one
# Sieve script NAME (printf TEXT), active; queued.
one_script() {
	mm_adduser old "$1" "${1%@*} pass"
	h=$(home old "$1")
	mkdir -p "$h/sieve"
	# shellcheck disable=SC2059  # TEXT is a printf format by design
	printf "$3" >"$h/sieve/$2.sieve"
	ln -sf "sieve/$2.sieve" "$h/.dovecot.sieve"
	chown -R mail:mail "$h"
	add_account "$1" "${1%@*} pass"
}

# OLD's ManageSieve out of reach for a round: the port accepts and
# never greets (silentproxy.py, its first connection). The round copies
# the mail and says in an event that the next round tries again; no
# failed item, no Sieve record. The next round (relayed to OLD's real
# ManageSieve) copies the script.
t_transient() {
	silent_start 1 silent || return 1
	one_script tr@example.com rules 'require "fileinto";\n# out of reach once\nkeep;\n' ||
		return 1
	run_once
	st=$(show tr@example.com state)
	[ "$st" = copied ] || { echo "state $st"; show tr@example.com last_error; return 1; }
	grep -q '^silent 1$' "$MM_DIR/silent.log" || { echo "no silent session"; return 1; }
	ev=$(MM log --account tr@example.com 2>&1)
	assert_contains "$ev" "sieve: OLD's ManageSieve on $OLD_IP port $SILENT_PORT not reachable now"
	assert_contains "$ev" "the next round tries again"
	case $ev in *"has no ManageSieve"*) echo "taken for no ManageSieve"; return 1 ;; esac
	assert_eq "[]" "$(show tr@example.com sieve)" "Sieve records after the silent round"
	f=$(MM failed tr@example.com --csv | grep -c "^tr@example.com," || true)
	assert_eq 0 "$f" "failed items"
	[ ! -e "$(home new tr@example.com)/sieve/rules.sieve" ] || { echo "NEW got it"; return 1; }
	MM sync tr@example.com >/dev/null || { echo "sync refused"; return 1; }
	run_once
	grep -q '^relay 2$' "$MM_DIR/silent.log" || { cat "$MM_DIR/silent.log"; return 1; }
	same tr@example.com rules || return 1
	ev=$(MM log --account tr@example.com 2>&1)
	assert_contains "$ev" "sieve: 1 scripts on OLD: 1 copied, 0 unchanged since copied, 0 already the same on NEW, 0 not copied (failed items); active: \"rules\" made active on NEW"
	MM show tr@example.com --json | "$PYTHON" -c '
import json, sys
v = json.load(sys.stdin)["sieve"]
assert [(s["name"], s["active"]) for s in v] == [("rules", True)], v'
	rc=$?
	kill "$sp"
	wait "$sp" 2>/dev/null
	return "$rc"
}

# The finish round with OLD's ManageSieve out of reach: no round follows,
# so the scripts not copied are a failed item "sieve:", not a warning.
t_finish_transient() {
	silent_start 1000 silent2 || return 1
	one_script fin@example.com last 'keep;\n' || return 1
	MM finish >/dev/null || { echo "finish refused"; return 1; }
	run_once
	st=$(show fin@example.com state)
	[ "$st" = finished ] || { echo "state $st"; show fin@example.com last_error; return 1; }
	ev=$(MM log --account fin@example.com 2>&1)
	assert_contains "$ev" "not reachable in the finish round"
	f=$(MM failed fin@example.com --csv)
	assert_contains "$f" "sieve:"
	assert_contains "$f" "not reachable in the finish round"
	assert_eq "[]" "$(show fin@example.com sieve)" "Sieve records"
	kill "$sp"
	wait "$sp" 2>/dev/null
	return 0
}

# migrate_sieve off: no Sieve, no event about it.
t_off() {
	mm_adduser old off@example.net "off pass"
	write_old_scripts off@example.net || return 1
	add_account off@example.net "off pass" || return 1
	run_once
	[ "$(show off@example.net state)" = copied ] || return 1
	[ ! -e "$(home new off@example.net)/sieve" ] || { echo "NEW got scripts"; return 1; }
	ev=$(MM log --account off@example.net 2>&1)
	case $ev in *sieve:*) echo "$ev"; return 1 ;; esac
	assert_eq "[]" "$(show off@example.net sieve)" "Sieve records"
	assert_contains "$(MM show off@example.net)" "none copied"
	return 0
}

# Nothing in the logs holds a password.
t_no_password_logged() {
	for pw in "sv pass" "nos pass" "cy pass" "tr pass" "fin pass"; do
		if grep -rqF "$pw" "$MM_DIR/mailmigrated.log" "$MM_DIR/daemon.err" 2>/dev/null; then
			echo "password '$pw' logged"
			return 1
		fi
	done
}

# preflight: OLD's ManageSieve answers for example.test (STARTTLS,
# Pigeonhole, editheader listed); nothing on example.org's port 1 (nor
# example.com's) is a warning; example.net (migrate_sieve = no) is not asked.
t_preflight() {
	out=$(MM preflight --json </dev/null)
	printf '%s' "$out" | "$PYTHON" -c '
import json, sys
v = json.load(sys.stdin)
s = [c for c in v["checks"] if c["check"] == "old_sieve"]
by = {c["domain"]: c for c in s}
assert set(by) == {"example.test", "example.org", "example.com"}, s
# OLD lists editheader, NEW does not: the scripts using it will fail.
assert by["example.test"]["status"] == "warning", by["example.test"]
assert "TLS" in by["example.test"]["message"], by["example.test"]
assert by["example.test"]["message"].endswith("; NEW\x27s ManageSieve lacks: editheader"), by["example.test"]
assert by["example.test"]["new_lacks"] == "editheader", by["example.test"]
# No USER: the master login on NEW is not tried.
n = [c for c in v["checks"] if c["check"] == "new_sieve"]
assert len(n) == 1 and n[0]["status"] == "warning" and "not tried" in n[0]["message"], n
assert by["example.org"]["status"] == "warning", by["example.org"]
assert "no Sieve scripts would be copied" in by["example.org"]["message"], by["example.org"]
# example.com: its port refuses (silentproxy.py is not started yet)
assert by["example.com"]["status"] == "warning", by["example.com"]
assert "no ManageSieve there" in by["example.com"]["message"], by["example.com"]
'
}

# Cyrus 3.6 (timsieved) as OLD, run by tests/harness/oldserver.sh from
# Debian's packages (MM_OLDSRV_SIEVE=yes): scripts put there by a user's
# client (sieveclient.py), copied to NEW byte for byte, the active one
# active. Skipped (said so) when the packages cannot be had.
OS="sh $HARNESS/oldserver.sh"
t_cyrus() {
	if ! $OS fetch cyrus >"$MM_DIR/cyrus-fetch.log" 2>&1; then
		echo "    (Cyrus packages not available: skipped)" >&2
		return 0
	fi
	cip=${MM_OLD_IP%.*}.5
	MM_OLDSRV_SIEVE=yes MM_OLDSRV_DOMAIN=cyr.test $OS start cyrus "$MM_DIR/cy" "$cip" \
		>"$MM_DIR/cyrus-start.log" 2>&1 || { cat "$MM_DIR/cyrus-start.log"; return 1; }
	mm_at_exit "$OS stop $MM_DIR/cy"
	# shellcheck disable=SC1091
	. "$MM_DIR/cy/env"
	printf 'cy pass\n' | $OS adduser "$MM_DIR/cy" sv@cyr.test || return 1
	# The first IMAP login makes the mailbox (autocreate), which
	# timsieved needs.
	"$PYTHON" - "$cip" <<'EOP' || return 1
import imaplib, ssl, sys
i = imaplib.IMAP4(sys.argv[1], 143)
i.starttls(ssl._create_unverified_context())
i.login("sv@cyr.test", "cy pass")
i.logout()
EOP
	mkdir -p "$MM_DIR/cys"
	printf 'require ["fileinto"];\r\n# Gr\303\274\303\237e, CRLF\r\nif header :contains "subject" "x" {\r\n  fileinto "INBOX.x";\r\n}\r\n' \
		>"$MM_DIR/cys/main.sieve"
	printf 'require "vacation";\nvacation :days 3 "weg";\n' >"$MM_DIR/cys/away.sieve"
	printf 'cy pass\n' | "$PYTHON" "$HARNESS/sieveclient.py" "$cip" 4190 sv@cyr.test \
		"$MM_DIR/cys" main || return 1
	cat >>"$CONF" <<EOC

[domain cyr.test]
source_host = $cip
source_protocols = imap
source_tls = starttls
source_tls_ca_file = $OLDSRV_CA_FILE
migrate_sieve = yes
EOC
	add_account sv@cyr.test "cy pass" || return 1
	run_once
	st=$(show sv@cyr.test state)
	[ "$st" = copied ] || { echo "state $st"; show sv@cyr.test last_error; return 1; }
	n=$(home new sv@cyr.test)
	for s in main away; do
		cmp "$MM_DIR/cys/$s.sieve" "$n/sieve/$s.sieve" || { ls -la "$n/sieve"; return 1; }
	done
	assert_eq "sieve/main.sieve" "$(readlink "$n/.dovecot.sieve")" "NEW's active script"
	ev=$(MM log --account sv@cyr.test 2>&1)
	assert_contains "$ev" "sieve: 2 scripts on OLD: 2 copied, 0 unchanged since copied, 0 already the same on NEW, 0 not copied (failed items); active: \"main\" made active on NEW"
	$OS stop "$MM_DIR/cy" >/dev/null || { echo "oldserver.sh stop failed"; return 1; }
}

check "preflight: OLD's ManageSieve per domain with migrate_sieve" t_preflight
check "scripts byte for byte (CRLF, UTF-8, 900 KB), active one; editheader and 1 MB refused by NEW: failed items with NEW's reason" t_first_round
check "show: each script copied, its SHA-256, the active one; stats: scripts copied" t_show_stats
check "second round: only the script changed on OLD is put" t_second_round
check "a script and the active one the user changed on NEW stay; OLD's next change is put" t_user_edit_kept
check "verify: the scripts recorded against NEW, one edited there, one gone; preflight's NEW login" t_verify
check "after a reset: no record, scripts compared with NEW's" t_after_reset
check "OLD without ManageSieve: an event, the account copied, no failed item" t_no_managesieve
check "OLD's ManageSieve silent for a round: an event, nothing recorded, the next round copies" t_transient
check "migrate_sieve = no: nothing of Sieve" t_off
check "Cyrus 3.6 timsieved as OLD: scripts byte for byte, the active one" t_cyrus
check "the finish round with OLD's ManageSieve out of reach: a failed item sieve:" t_finish_transient
check "no password in the logs" t_no_password_logged
mm_done
