#!/bin/sh
# shellcheck disable=SC2317  # t_* run through check()
# shellcheck source-path=SCRIPTDIR
# test_preflight.sh - `mailmigrate preflight [USER...] [--json]` against
# the real servers: OLD's IMAP and POP3 with STARTTLS (a valid certificate,
# then an expired one), a USER whose mail the test put on OLD (folders,
# messages, bytes and the largest message checked against what was put
# there, and POP3 STAT), an unknown USER, NEW's master login and
# APPENDLIMIT, NEW's user_home on a 1 MiB tmpfs smaller than the mail,
# NEW's Postfix (postconf) and a dovecot.conf with the auth module
# (doveconf) as contrib/ has them, the relay, and OLD down. preflight is
# read-only: the store, OLD's mailbox (counts and flags) and NEW's
# Maildir are the same before and after every run.

# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

mm_require_root_and_pkgs
RELAY=${MAILMIGRATE_RELAY:-$top_builddir/relay/mailmigrate-relay}
[ -x "$RELAY" ] || skip "mailmigrate-relay not built"
RC="$PYTHON $HARNESS/relayclient.py"

dir=$(mm_tmpdir)
mm_relay_snippets "$dir"
mm_servers_start "$dir"
VMAIL=$MM_DIR/vmail
mkdir -p "$VMAIL"
CONF=$MM_DIR/mailmigrate.conf
SOCK=$MM_DIR/relay.sock
PW='preflight Pw "q" 7'

# NEW's dovecot.conf with contrib/dovecot/auth-mailmigrate.conf.ext as
# it is (only the configuration path replaced), for doveconf.
sed "s|/etc/mailmigrate/mailmigrate.conf|$CONF|" \
	"$top_srcdir/contrib/dovecot/auth-mailmigrate.conf.ext" >"$MM_DIR/auth-mm.conf.ext"
printf '!include %s\n!include %s\n' "$NEW_DOVECOT_CONF" "$MM_DIR/auth-mm.conf.ext" \
	>"$MM_DIR/dovecot-mm.conf"

write_conf() {		# FILE [EXTRA GLOBAL LINES]
	cat >"$1" <<EOC
$(mm_store_conf $MM_DIR/state)
key_file = $MM_DIR/secret.key
log_file = $MM_DIR/mailmigrate.log
target_host = $NEW_IP:$NEW_IMAP_PORT
target_master_user = $NEW_MASTER_USER
target_master_password_file = $NEW_MASTER_PASS_FILE
relay_listen = unix:$SOCK
relay_socket_group = postfix
postfix_config_dir = $NEW_POSTFIX_DIR
target_doveadm_config = $MM_DIR/dovecot-mm.conf
user_home = $VMAIL/%d/%n
default_domain = example.test
${2:-}

[domain example.test]
source_host = $OLD_IP
source_tls = starttls
source_tls_ca_file = $MM_DIR/old-ca.pem
EOC
}
cp "$CA_FILE" "$MM_DIR/old-ca.pem"
write_conf "$CONF"
MM() { "$MAILMIGRATE" -c "$CONF" "$@"; }

mm_adduser old ann@example.test "$PW"
mm_adduser old bob@example.test "bob's pw"
sh "$SERVERS_SH" adduser "$MM_DIR" new ann@example.test --nopass </dev/null ||
	fail "adduser new ann failed"
ANN_PW=$(mm_pwfile "$PW")

# ann's mail on OLD: INBOX 3 messages, Archive 2; sizes known to the byte
# (CRLF lines), 1.3 MB in all: more than the 1 MiB tmpfs below.
"$PYTHON" - "$OLD_IP" "$ANN_PW" >"$MM_DIR/sizes" <<'EOP' || fail "cannot fill ann's mailbox"
import imaplib, sys
host, pwfile = sys.argv[1], sys.argv[2]
pw = open(pwfile, encoding="utf-8").read().rstrip("\n")
m = imaplib.IMAP4(host)
m.login("ann@example.test", pw)
m.create("Archive")
sizes = []
for folder, n, body in (("INBOX", 3, 300000), ("Archive", 2, 200000)):
    for i in range(n):
        line = b"x" * 998 + b"\r\n"
        text = (b"From: a@example.test\r\nTo: ann@example.test\r\nSubject: m%d %s\r\n"
                b"Message-ID: <%s.%d@pf>\r\n\r\n" % (i, folder.encode(), folder.encode(), i))
        text += line * (body // 1000 + i)
        m.append(folder, "\\Seen" if i == 0 else None, None, text)
        sizes.append(len(text))
m.logout()
print(len(sizes), sum(sizes), max(sizes))
EOP
read -r ANN_MSGS ANN_BYTES ANN_LARGEST <"$MM_DIR/sizes"
INBOX_MSGS=3

MM init >/dev/null || fail "init failed"

relay_start() {
	(
		"$RELAY" -c "$CONF" -f &
		echo $! >"$MM_DIR/relay.pid"
		wait $!
	) </dev/null >>"$MM_DIR/relay.err" 2>&1 &
	wait_for "[ -S '$SOCK' ] && $RC query '$SOCK' transport '*'" 10 ||
		fail "relay did not start: $(tail -n 5 "$MM_DIR/relay.err")"
}
relay_stop() {
	[ -f "$MM_DIR/relay.pid" ] || return 0
	kill -TERM "$(cat "$MM_DIR/relay.pid")" 2>/dev/null
	wait_for "[ ! -S '$SOCK' ]" 10
	rm -f "$MM_DIR/relay.pid"
}
unmount_vmail() {
	if mountpoint -q "$VMAIL" 2>/dev/null; then
		umount "$VMAIL"
	fi
	return 0
}
mm_at_exit relay_stop
mm_at_exit unmount_vmail
relay_start

# What preflight must not change: the store (accounts, figures, events),
# OLD's view of ann's mailbox (counts, flags, UIDs) and NEW's Maildir.
state() {
	MM list --json
	MM stats --json
	MM log -n 0 --json
	# NEW: no message appended (a login may make ann's empty Maildir).
	echo "NEW ann: $(mm_maildir_count "$NEW_MAILDIR_ROOT/example.test/ann")"
	find "$VMAIL" | sort
}
old_state() {
	"$PYTHON" - "$OLD_IP" "$ANN_PW" <<'EOP'
import imaplib, sys
pw = open(sys.argv[2], encoding="utf-8").read().rstrip("\n")
m = imaplib.IMAP4(sys.argv[1])
m.login("ann@example.test", pw)
for f in ("INBOX", "Archive"):
    m.select(f, readonly=True)
    # \Recent left out: a POP3 session (preflight's STAT, as the
    # puller's) makes Dovecot forget it; RFC 9051 dropped the flag.
    print(f, [x.replace(b"\\Recent", b"").replace(b" )", b")")
              for x in m.fetch("1:*", "(UID FLAGS RFC822.SIZE)")[1]])
m.logout()
EOP
}
state >"$MM_DIR/state.before" 2>&1 || fail "cannot read the state"
old_state >"$MM_DIR/old.before" 2>&1 || fail "cannot read OLD's state"
# unchanged [noold]: the same as before (OLD's part unless it is down).
unchanged() {
	state >"$MM_DIR/state.after" 2>&1
	[ "${1:-}" = noold ] || old_state >>"$MM_DIR/state.after" 2>&1
	cat "$MM_DIR/state.before" >"$MM_DIR/state.expected"
	[ "${1:-}" = noold ] || cat "$MM_DIR/old.before" >>"$MM_DIR/state.expected"
	cmp -s "$MM_DIR/state.expected" "$MM_DIR/state.after" || {
		echo "preflight changed something:"
		diff "$MM_DIR/state.expected" "$MM_DIR/state.after" | head -n 20
		return 1
	}
}

# Run preflight with ann's password on stdin: $OUT, $RC_PF.
OUT=$MM_DIR/out
pf() {
	printf '%s\n' "$PW" | "$MAILMIGRATE" "$@" >"$OUT" 2>"$OUT.err"
	RC_PF=$?
	cat "$OUT" "$OUT.err" >>"$MM_DIR/all.out"
}
has() { grep -qF -- "$1" "$OUT" || { echo "no line with: $1"; cat "$OUT" "$OUT.err"; return 1; }; }
hasx() { grep -qE -- "$1" "$OUT" || { echo "no line matching: $1"; cat "$OUT" "$OUT.err"; return 1; }; }

t_all_ok() {
	pf -c "$CONF" preflight ann
	[ "$RC_PF" = 0 ] || { echo "exit $RC_PF"; cat "$OUT" "$OUT.err"; return 1; }
	has "ok      example.test: imap $OLD_IP:143 answers (TLSv1.3" &&
	hasx "^ok      example.test: imap: certificate /CN=$OLD_IP, issuer /CN=$OLD_IP, valid until [0-9-]+ [0-9:]+ UTC \(36[0-9][0-9] days\); chain and name for $OLD_IP: ok$" &&
	has "ok      example.test: imap capabilities before login: IDLE LITERAL+; not listed: UIDPLUS NAMESPACE UTF8=ACCEPT CONDSTORE APPENDLIMIT" &&
	has "ok      example.test: pop3 $OLD_IP:110 answers (TLSv1.3" &&
	has "ok      example.test: pop3 capabilities: UIDL yes, UTF8 no" &&
	hasx "^ok      ann@example.test: imap login as ann@example.test ok; 2 folders, $ANN_MSGS messages, [0-9.]+ [KM]iB \(largest [0-9.]+ KiB\); capabilities: IDLE UIDPLUS LITERAL\+ NAMESPACE CONDSTORE" &&
	hasx "^ok      ann@example.test: pop3 login as ann@example.test ok; STAT: $INBOX_MSGS messages" &&
	has "ok      NEW $NEW_IP:143: master login as ann@example.test*$NEW_MASTER_USER works" &&
	has "ok      postconf -c $NEW_POSTFIX_DIR: transport_maps, virtual_mailbox_maps and virtual_alias_maps ask the relay (socketmap:unix:$SOCK)" &&
	has "ok      doveconf $MM_DIR/dovecot-mm.conf: passdb and userdb with driver = mailmigrate" &&
	has "ok      relay unix:$SOCK answers (NOTFOUND for transport *)" &&
	hasx "^ok      [0-9.]+ [KMGT]iB free under $VMAIL \(user_home\) for 1\.[0-9] MiB of mail on OLD; with the margin" &&
	hasx "^[0-9]+ ok, [0-9]+ warnings, 0 failed$" || return 1
	pf -c "$CONF" preflight ann --json
	[ "$RC_PF" = 0 ] || { echo "--json exit $RC_PF"; return 1; }
	"$PYTHON" - "$OUT" "$ANN_MSGS" "$ANN_BYTES" "$ANN_LARGEST" "$INBOX_MSGS" <<'EOP' || { cat "$OUT"; return 1; }
import json, sys
d = json.load(open(sys.argv[1]))
msgs, nbytes, largest, inbox = map(int, sys.argv[2:])
assert d["failed"] == 0, d
by = {}
for c in d["checks"]:
    by.setdefault(c["check"], []).append(c)
u = [c for c in by["old_user"] if c["protocol"] == "imap"][0]
assert u["user"] == "ann@example.test" and u["status"] == "ok", u
assert (u["folders"], u["messages"], u["bytes"], u["largest"]) == (2, msgs, nbytes, largest), u
p = [c for c in by["old_user"] if c["protocol"] == "pop3"][0]
# POP3 sees INBOX only: its three messages, sizes as IMAP counts them.
assert p["messages"] == inbox and p["bytes"] < nbytes and p["largest"] <= largest, p
imap = by["old_imap"]
cert = [c for c in imap if "days_left" in c][0]
assert 3600 < cert["days_left"] <= 3650 and cert["verify"] == "ok", cert
assert cert["subject"].startswith("/CN="), cert
hello = [c for c in imap if "greeting" in c][0]
assert hello["port"] == 143 and hello["greeting"] == "Dovecot (Debian) ready.", hello
assert hello["server"] and hello["server"].startswith("Dovecot"), hello
sp = by["new_space"][0]
assert sp["need_bytes"] == nbytes and sp["status"] == "ok", sp
assert sp["required_bytes"] == nbytes + max(nbytes // 5, 16 << 20), sp
al = by["new_appendlimit"][0]
assert al["largest"] == largest and al["status"] == "ok", al
assert by["relay"][0]["reply"].startswith("NOTFOUND"), by["relay"]
assert by["postconf"][0]["missing"] == 0 and by["doveconf"][0]["passdb"] == 1
EOP
	unchanged
}

# An unknown USER, and USERs that are no account: clear failed lines,
# exit 1, nothing changed anywhere.
t_unknown_user() {
	printf 'wrong pw\n' | "$MAILMIGRATE" -c "$CONF" preflight nobody@example.test \
		>"$OUT" 2>"$OUT.err"
	RC_PF=$?
	[ "$RC_PF" = 1 ] || { echo "exit $RC_PF"; cat "$OUT" "$OUT.err"; return 1; }
	hasx "^failed  nobody@example.test: imap login as nobody@example.test on OLD: login refused: NO \[AUTHENTICATIONFAILED\] .*; check the user name and password on OLD" &&
	hasx "^failed  NEW $NEW_IP:143: master login as nobody@example.test\*$NEW_MASTER_USER: " || return 1
	grep -q "^ok      NEW" "$OUT" && { echo "NEW login ok for nobody?"; return 1; }
	pf -c "$CONF" preflight carl@nowhere.test 'bad name@example.test' --json
	[ "$RC_PF" = 1 ] || { echo "exit $RC_PF"; return 1; }
	"$PYTHON" - "$OUT" <<'EOP' || { cat "$OUT"; return 1; }
import json, sys
d = json.load(open(sys.argv[1]))
u = [c for c in d["checks"] if c["check"] == "old_user"]
assert [c["status"] for c in u] == ["failed", "failed"], u
assert u[0]["user"] == "carl@nowhere.test" and u[0]["message"] == "no [domain] section for nowhere.test", u
assert u[1]["hint"] == "give USER@DOMAIN of a configured [domain]", u
EOP
	unchanged
}

# NEW's user_home on a 1 MiB tmpfs: ann's 1.3 MB do not fit.
t_full_new() {
	mount -t tmpfs -o size=1m mmpreflight "$VMAIL" || return 1
	pf -c "$CONF" preflight ann --json
	umount "$VMAIL" || return 1
	[ "$RC_PF" = 1 ] || { echo "exit $RC_PF"; cat "$OUT"; return 1; }
	"$PYTHON" - "$OUT" "$ANN_BYTES" "$VMAIL" <<'EOP' || { cat "$OUT"; return 1; }
import json, sys
d = json.load(open(sys.argv[1]))
nbytes, vmail = int(sys.argv[2]), sys.argv[3]
sp = [c for c in d["checks"] if c["check"] == "new_space"][0]
assert sp["status"] == "failed" and sp["path"] == vmail, sp
assert sp["free_bytes"] <= 1 << 20 and sp["need_bytes"] == nbytes, sp
assert "it does not fit" in sp["message"] and "make room on NEW" in sp["hint"], sp
assert d["failed"] == 1, [c for c in d["checks"] if c["status"] == "failed"]
EOP
	unchanged
}

# The host misconfigured: OLD's Postfix has none of the relay's lines,
# NEW's own dovecot.conf no auth module, the relay is stopped.
t_host_missing() {
	write_conf "$MM_DIR/bad.conf"
	sed -i -e "s|^postfix_config_dir = .*|postfix_config_dir = $OLD_POSTFIX_DIR|" \
		-e "s|^target_doveadm_config = .*|target_doveadm_config = $NEW_DOVECOT_CONF|" \
		"$MM_DIR/bad.conf"
	relay_stop
	pf -c "$MM_DIR/bad.conf" preflight
	relay_start
	[ "$RC_PF" = 1 ] || { echo "exit $RC_PF"; cat "$OUT"; return 1; }
	has "failed  postconf -c $OLD_POSTFIX_DIR lacks: transport_maps = socketmap:unix:$SOCK:transport, virtual_mailbox_maps = socketmap:unix:$SOCK:mailbox, virtual_alias_maps = socketmap:unix:$SOCK:alias; add them as contrib/postfix/main.cf.mailmigrate says" &&
	has "failed  doveconf $NEW_DOVECOT_CONF: no passdb and no userdb with driver = mailmigrate" &&
	hasx "^failed  relay unix:$SOCK: (No such file or directory|Connection refused); start mailmigrate-relay" &&
	has "warning NEW's master login not tried: no USER and no notice_account to log in as" &&
	has "3 failed" || return 1
	PATH=/nonexistent "$MAILMIGRATE" -c "$CONF" preflight >"$OUT" 2>&1 </dev/null
	has "warning postconf is not installed here: not checked" &&
	has "warning doveconf is not installed here: not checked" || return 1
	unchanged
}

# target_driver = dovecot with a doveadm that has no mailmigrate-import
# (here /bin/false, as a doveadm without the plugin exits): failed,
# saying what to install.
t_no_doveadm_plugin() {
	sed 's|^target_host = |target_driver = dovecot\ntarget_doveadm = /bin/false\n&|' \
		"$CONF" >"$MM_DIR/dovecot.conf"
	pf -c "$MM_DIR/dovecot.conf" preflight ann
	[ "$RC_PF" = 1 ] || { echo "exit $RC_PF"; cat "$OUT"; return 1; }
	has "failed  NEW's doveadm for ann@example.test: /bin/false mailmigrate-import failed (exit 1); install dovecot-mailmigrate (its doveadm plugin) on this host" &&
	has "1 failed" || return 1
	unchanged
}

# --local: only this host's files; no USER.
t_local() {
	pf -c "$CONF" preflight --local
	[ "$RC_PF" = 0 ] || { echo "exit $RC_PF"; cat "$OUT" "$OUT.err"; return 1; }
	has "ok      store " && has "ok      example.test: source_tls = starttls: TLS required" &&
	has "5 ok, 0 warnings, 0 failed" || return 1
	if grep -q "imap\|NEW\|relay\|postconf" "$OUT"; then echo "--local went out:"; cat "$OUT"; return 1; fi
	pf -c "$CONF" preflight --local ann
	[ "$RC_PF" = 2 ] && grep -qF "preflight: --local takes no USER" "$OUT.err" ||
		{ echo "exit $RC_PF"; cat "$OUT.err"; return 1; }
	unchanged
}

# An expired certificate on OLD (its name and chain still right): failed,
# with the days and what to do; OLD's Dovecot reloaded to take it.
t_expired_cert() {
	"$PYTHON" - "$OLD_IP" "$MM_DIR/expired" <<'EOP' || return 1
import datetime, ipaddress, sys
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
ip, out = sys.argv[1], sys.argv[2]
key = ec.generate_private_key(ec.SECP256R1())
name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, ip)])
now = datetime.datetime.now(datetime.timezone.utc)
cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=40))
        .not_valid_after(now - datetime.timedelta(days=10, hours=2))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(ip))]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256()))
open(out + ".pem", "wb").write(cert.public_bytes(serialization.Encoding.PEM))
open(out + ".key", "wb").write(key.private_bytes(serialization.Encoding.PEM,
    serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
EOP
	cp "$MM_DIR/old/cert.pem" "$MM_DIR/valid-cert.pem"
	cp "$MM_DIR/old/key.pem" "$MM_DIR/valid-key.pem"
	cp "$MM_DIR/expired.pem" "$MM_DIR/old/cert.pem"
	cp "$MM_DIR/expired.key" "$MM_DIR/old/key.pem"
	cp "$MM_DIR/expired.pem" "$MM_DIR/old-ca.pem"
	doveadm -c "$OLD_DOVECOT_CONF" reload || return 1
	wait_for "MM preflight | grep -q 'expired 10 days ago'" 10 || { MM preflight; return 1; }
	pf -c "$CONF" preflight --json
	[ "$RC_PF" = 1 ] || { echo "exit $RC_PF"; cat "$OUT"; return 1; }
	"$PYTHON" - "$OUT" <<'EOP' || { cat "$OUT"; return 1; }
import json, sys
d = json.load(open(sys.argv[1]))
certs = [c for c in d["checks"] if "days_left" in c]
assert [c["protocol"] for c in certs] == ["imap", "pop3"], certs
for c in certs:
    assert c["status"] == "failed" and c["days_left"] == -11, c  # 10 days 2 hours ago
    assert c["verify"] == "certificate has expired", c
    assert "the puller and the auth module refuse it" in c["message"], c
    assert c["hint"].startswith("renew OLD's certificate"), c
EOP
	# source_tls_verify = no: the same certificate is a warning.
	sed 's/^source_tls = starttls$/&\nsource_tls_verify = no/' "$CONF" >"$MM_DIR/noverify.conf"
	pf -c "$MM_DIR/noverify.conf" preflight
	hasx "^warning example.test: imap: certificate /CN=$OLD_IP expired 10 days ago \([0-9-]+ [0-9:]+ UTC\); chain and name for $OLD_IP: certificate has expired; renew OLD's certificate$" ||
		return 1
	cp "$MM_DIR/valid-cert.pem" "$MM_DIR/old/cert.pem"
	cp "$MM_DIR/valid-key.pem" "$MM_DIR/old/key.pem"
	cp "$CA_FILE" "$MM_DIR/old-ca.pem"
	doveadm -c "$OLD_DOVECOT_CONF" reload || return 1
	wait_for "MM preflight | grep -q '^ok      example.test: imap: certificate'" 10 || return 1
	unchanged
}

# OLD down: nothing listens; a failed line per protocol, exit 1.
t_old_down() {
	doveadm -c "$OLD_DOVECOT_CONF" stop || return 1
	wait_for "! MM preflight | grep -q 'imap $OLD_IP:143 answers'" 10 || return 1
	pf -c "$CONF" preflight ann
	[ "$RC_PF" = 1 ] || { echo "exit $RC_PF"; cat "$OUT"; return 1; }
	has "failed  example.test: imap $OLD_IP:143: $OLD_IP port 143: connect: Connection refused; start OLD's IMAP service, or fix source_host, source_protocols or the firewall" &&
	has "failed  example.test: pop3 $OLD_IP:110: $OLD_IP port 110: connect: Connection refused; start OLD's POP3 service" &&
	has "failed  ann@example.test: imap login as ann@example.test on OLD: $OLD_IP port 143: connect: Connection refused" || return 1
	unchanged noold
}

check "all well: OLD, ann's mailbox to the byte, NEW, Postfix, Dovecot, relay; text and --json" t_all_ok
check "an unknown USER, a USER of no domain: failed, clear, nothing changed" t_unknown_user
check "NEW's user_home on a 1 MiB tmpfs: failed free-space line" t_full_new
check "postconf, doveconf, relay missing: failed; not installed: warning" t_host_missing
check "target_driver = dovecot, doveadm without the plugin: failed" t_no_doveadm_plugin
check "--local: this host's files only" t_local
check "OLD's certificate expired: failed with the days (verify = no: warning)" t_expired_cert
check "OLD down: failed per protocol, exit 1" t_old_down
mm_done
