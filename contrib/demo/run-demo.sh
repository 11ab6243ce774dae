#!/bin/sh
# The mailmigrate demo: the whole life of a migration between two mail
# servers on loopback, in the order an administrator goes through it.
#
# Installs what it needs (Debian 12, as root), builds mailmigrate (or uses
# the installed packages), starts an OLD mail server (Dovecot + Postfix on
# 127.0.0.2) with sample mailboxes and a NEW one (127.0.0.3) whose Dovecot
# runs the auth module (contrib/dovecot/auth-mailmigrate.conf.ext), then:
#   init        the store and the key pair;
#   configure   NEW's Postfix asks mailmigrate-relay
#               (contrib/postfix/main.cf.mailmigrate);
#   preflight   everything checked, read-only, before a mailbox is queued;
#   queue       `mailmigrate bulk` queues the sample users, and erin, on
#               OLD only and in no bulk file, queues herself by logging in
#               to NEW with her OLD password;
#   watch       mailmigrated copies in the background (mail, alice's
#               Sieve filters, her calendars and address book from OLD's
#               Radicale to NEW's) while `mailmigrate
#               top` watches; NEW is checked against OLD message by
#               message, and `mailmigrate verify --all` proves each folder;
#   mail        two messages sent to NEW's Postfix: one for a user not
#               migrated lands on OLD, one for a migrated user on NEW;
#   finish      the last round, every account finished;
#   export      the accounts as a Dovecot passwd-file, for when NEW no
#               longer needs the module.
# (Install and remove are the Debian packages': tests/integration/
# test_packages.sh installs them, runs this with --installed, purges.)
# Everything lives in one temp dir and is stopped and removed at the end
# (MM_KEEP=1 keeps the servers running and the dir in place).
#
# Usage: sh contrib/demo/run-demo.sh [--installed]
#   --installed   run the installed programs (/usr/sbin, the Debian
#                 packages' paths, and Dovecot's auth module dir) instead
#                 of building the tree; tests/integration/test_packages.sh
#                 runs the demo so against the packages it installed.
set -eu
INSTALLED=
case ${1:-} in
--installed) INSTALLED=1 ;;
'') ;;
*) echo "usage: $0 [--installed]" >&2; exit 2 ;;
esac
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top"

say() { printf '\n==> %s\n' "$*"; }

say "installing packages"
sh tests/install-deps.sh

if [ -n "$INSTALLED" ]; then
	MM=/usr/sbin/mailmigrate
	MMD=/usr/sbin/mailmigrated
	RELAY=/usr/sbin/mailmigrate-relay
	AUTH_MODULE=/usr/lib/dovecot/modules/auth/libauthdb_mailmigrate.so
	# The doveadm plugin is in doveadm's own module directory: the
	# stock doveadm loads it.
	DOVEADM_PLUGIN=
	for f in "$MM" "$MMD" "$RELAY" "$AUTH_MODULE" \
		/usr/lib/dovecot/modules/doveadm/lib10_doveadm_mailmigrate_plugin.so; do
		[ -f "$f" ] || { echo "--installed: $f is not installed"; exit 1; }
	done
	say "using the installed programs ($MM, $MMD, $RELAY, $AUTH_MODULE)"
else
	if [ ! -x cli/mailmigrate ]; then
		say "building mailmigrate"
		autoreconf -fi >/dev/null 2>&1
		./configure --quiet
		make -j2 >/dev/null
	fi
	MM="$top/cli/mailmigrate"
	MMD="$top/puller/mailmigrated"
	RELAY="$top/relay/mailmigrate-relay"
	AUTH_MODULE="$top/auth-hook/.libs/libauthdb_mailmigrate.so"
	# Loaded into NEW's doveadm in a private mount namespace
	# (tests/harness/servers.sh: DIR/new/doveadm).
	DOVEADM_PLUGIN="$top/doveadm-plugin/.libs/lib10_doveadm_mailmigrate_plugin.so"
fi

DIR=$(mktemp -d /tmp/mmdemo.XXXXXX)
chmod 755 "$DIR"
RELAY_PID= DAEMON_PID=
stop_daemons() {
	for pid in $DAEMON_PID $RELAY_PID; do
		kill -TERM "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	DAEMON_PID= RELAY_PID=
}
cleanup() {
	stop_daemons
	if [ -n "${MM_KEEP:-}" ]; then
		echo "kept: $DIR (stop with: sh tests/harness/servers.sh stop $DIR)"
		return
	fi
	sh tests/harness/radicale.sh stop "$DIR/dav-old" >/dev/null 2>&1 || true
	sh tests/harness/radicale.sh stop "$DIR/dav-new" >/dev/null 2>&1 || true
	sh tests/harness/servers.sh stop "$DIR" >/dev/null 2>&1 || true
	rm -rf "$DIR"
}
trap cleanup EXIT INT TERM

say "starting the OLD and NEW mail servers on loopback"
# NEW asks the auth module who may log in (the Dovecot snippet as shipped,
# with the demo's mailmigrate.conf; loaded in a private mount namespace).
MM_AUTH_MODULES="$AUTH_MODULE"
MM_NEW_DOVECOT_EXTRA="$DIR/auth.conf"
sed "s|/etc/mailmigrate/mailmigrate.conf|$DIR/mailmigrate.conf|" \
	contrib/dovecot/auth-mailmigrate.conf.ext >"$MM_NEW_DOVECOT_EXTRA"
# Both Dovecots also run ManageSieve (Pigeonhole) on port 4190: alice's
# filters move with her mail (migrate_sieve).
cat >"$DIR/sieve.conf" <<EOC
protocols = \$protocols sieve
service managesieve-login {
  inet_listener sieve {
    port = 4190
  }
}
plugin {
  sieve = file:~/sieve;active=~/.dovecot.sieve
}
EOC
cat "$DIR/sieve.conf" >>"$MM_NEW_DOVECOT_EXTRA"
MM_OLD_DOVECOT_EXTRA="$DIR/sieve.conf"
MM_DOVEADM_MODULES="$DOVEADM_PLUGIN"
export MM_AUTH_MODULES MM_NEW_DOVECOT_EXTRA MM_OLD_DOVECOT_EXTRA MM_DOVEADM_MODULES
sh tests/harness/servers.sh start "$DIR"
. "$DIR/env"
echo "OLD: $OLD_IP (IMAP 143/993, POP3 110/995, SMTP 25)   NEW: $NEW_IP (IMAP 143, SMTP 25)"

say "creating sample users on OLD and filling their mailboxes"
# Only the files that hold passwords are private (mode 0600).
(umask 077 && : > "$DIR/bulk.txt")
for user in $(grep -v '^#' contrib/demo/users.txt); do
	pass=$(openssl rand -hex 12)
	(umask 077 && printf '%s\n' "$pass" > "$DIR/$user.pass")
	printf '%s\n' "$pass" | sh tests/harness/servers.sh adduser "$DIR" old "$user@example.test"
	# On NEW the account exists; only the master user (the puller) opens it.
	sh tests/harness/servers.sh adduser "$DIR" new "$user@example.test" --nopass </dev/null
	printf '%s@example.test:%s\n' "$user" "$pass" >> "$DIR/bulk.txt"
	# The calendar servers beside each Dovecot take the same password.
	for s in old new; do
		sh tests/harness/radicale.sh adduser "$DIR/dav-$s" "$user@example.test" \
			<"$DIR/$user.pass"
	done
	/usr/bin/python3 tests/harness/corpus.py --host "$OLD_IP" --port "$OLD_IMAP_PORT" \
		--user "$user@example.test" --password-file "$DIR/$user.pass" \
		--seed "$(printf '%s' "$user" | cksum | cut -d' ' -f1)" \
		--big-mb 0 --count 12 --manifest "$DIR/$user.manifest.json" >/dev/null
	echo "  $user@example.test: mailbox filled"
done

/usr/bin/python3 tests/harness/netcheck.py wait 10 "OLD managesieve=$OLD_IP:4190" \
	"NEW managesieve=$NEW_IP:4190" >/dev/null
# alice's mail client put her filters on OLD's ManageSieve: a rule and a
# vacation reply (UTF-8), the rule active.
mkdir -p "$DIR/alice.sieve"
printf 'require ["fileinto", "mailbox"];\r\n# Newsletters out of the inbox\r\nif header :contains "list-id" "newsletter" {\r\n  fileinto :create "Newsletters";\r\n}\r\n' \
	>"$DIR/alice.sieve/rules.sieve"
printf 'require "vacation";\n# Abwesenheitsnotiz\nvacation :days 7 :subject "Im Urlaub" "Ich bin bis Montag nicht im Büro.";\n' \
	>"$DIR/alice.sieve/vacation.sieve"
/usr/bin/python3 tests/harness/sieveclient.py "$OLD_IP" 4190 alice@example.test \
	"$DIR/alice.sieve" rules <"$DIR/alice.pass"
echo "  alice@example.test: two Sieve scripts on OLD's ManageSieve, \"rules\" active"

# alice's calendars and address book on OLD's CalDAV/CardDAV server (a
# Radicale beside each Dovecot): a work calendar with an event in a time
# zone, a weekly meeting with an exception, an attachment; a family
# calendar; 25 contacts.
/usr/bin/python3 tests/integration/dav_data.py populate \
	"$DIR/dav-old/collections/collection-root" alice@example.test 25
sh tests/harness/radicale.sh start "$DIR/dav-old" "$OLD_IP" >/dev/null
OLD_DAV=$(. "$DIR/dav-old/env" && echo "$MM_DAV_URL")
sh tests/harness/radicale.sh start "$DIR/dav-new" "$NEW_IP" >/dev/null
NEW_DAV=$(. "$DIR/dav-new/env" && echo "$MM_DAV_URL")
echo "  alice@example.test: 2 calendars (4 events) and an address book (25 contacts) on OLD's $OLD_DAV"

sed -e "s|@DIR@|$DIR|g" -e "s|@OLD_IP@|$OLD_IP|g" -e "s|@NEW_IP@|$NEW_IP|g" \
    -e "s|@OLD_DAV@|$OLD_DAV|g" -e "s|@NEW_DAV@|$NEW_DAV|g" \
    -e "s|@CA_FILE@|$CA_FILE|g" -e "s|@NEW_MASTER_PASS_FILE@|$NEW_MASTER_PASS_FILE|g" \
    -e "s|@NEW_POSTFIX_DIR@|$NEW_POSTFIX_DIR|g" -e "s|@NEW_DOVECOT_CONF@|$NEW_DOVECOT_CONF|g" \
    contrib/demo/mailmigrate.conf.in > "$DIR/mailmigrate.conf"
# target_driver = dovecot: the copy keeps OLD's UIDVALIDITY and UIDs.
# doveadm runs on this host (NEW): the installed one loads the plugin
# from its module directory; the built one through servers.sh's wrapper.
if [ -n "$INSTALLED" ]; then
	sed -i "s|^target_doveadm_config = |target_doveadm = /usr/bin/doveadm\ntarget_doveadm_config = |" \
		"$DIR/mailmigrate.conf"
else
	sed -i "s|^target_doveadm_config = |target_doveadm = $NEW_DOVEADM\ntarget_doveadm_config = |" \
		"$DIR/mailmigrate.conf"
fi
export MAILMIGRATE_CONF="$DIR/mailmigrate.conf"

say "mailmigrate init"
"$MM" init
# The auth workers (user dovecot) reach the store and the public key by
# the group; secret.key (opens the passwords) stays root's 0600.
chgrp -R dovecot "$DIR/state" "$DIR/secret.key.pub"
chmod 640 "$DIR/secret.key.pub"
chmod 644 "$DIR/mailmigrate.conf"

# list_count STATE: how many accounts are in STATE.
list_count() {
	"$MM" list --state "$1" --json |
		/usr/bin/python3 -c 'import json, sys; print(len(json.load(sys.stdin)))'
}
# wait_state STATE N: until N accounts are in STATE (at most 3 minutes).
wait_state() {
	n=0
	until [ "$(list_count "$1")" -ge "$2" ]; do
		n=$((n + 1))
		[ "$n" -le 1800 ] || { "$MM" list; tail -n 20 "$DIR/mailmigrate.log"; \
			echo "accounts did not reach $1"; exit 1; }
		sleep 0.1
	done
}
count() {
	n=0
	for f in "$1"/new/* "$1"/cur/*; do [ -f "$f" ] && n=$((n + 1)); done
	echo "$n"
}

say "configure: NEW's Postfix asks mailmigrate-relay for each recipient"
# dave is on OLD only, and never migrated: his mail goes to OLD.
openssl rand -hex 12 | sh tests/harness/servers.sh adduser "$DIR" old dave@example.test
"$RELAY" -f </dev/null >>"$DIR/relay.out" 2>&1 &
RELAY_PID=$!
n=0
until [ -S "$DIR/relay.sock" ]; do
	n=$((n + 1))
	[ "$n" -le 100 ] || { cat "$DIR/relay.out"; echo "mailmigrate-relay did not start"; exit 1; }
	sleep 0.1
done
# NEW's Postfix as contrib/postfix/main.cf.mailmigrate says, with the
# demo's names in place of the example ones.
sed -e "s|/run/mailmigrate/relay.sock|$DIR/relay.sock|g" \
    -e "s|lmtp:unix:private/dovecot-lmtp|lmtp:inet:$NEW_IP:24|" \
    -e "s|example\.com|example.test|g" contrib/postfix/main.cf.mailmigrate |
	grep -v '^#' | while IFS= read -r line; do
		[ -z "$line" ] || postconf -c "$NEW_POSTFIX_DIR" -e "$line"
	done
postfix -c "$NEW_POSTFIX_DIR" reload 2>/dev/null
postconf -c "$NEW_POSTFIX_DIR" -n | grep socketmap | sed 's/^/  /'

say "mailmigrate preflight alice@example.test (read-only, before anything is queued)"
"$MM" preflight alice@example.test <"$DIR/alice.pass" || {
	echo "preflight found something to fix: the demo stops here"; exit 1; }

say "mailmigrate bulk (queue the sample users)"
"$MM" bulk "$DIR/bulk.txt"

say "erin, on OLD only, logs in to NEW with her OLD password"
(umask 077 && openssl rand -hex 12 >"$DIR/erin.pass")
sh tests/harness/servers.sh adduser "$DIR" old erin@example.test <"$DIR/erin.pass"
for s in old new; do
	sh tests/harness/radicale.sh adduser "$DIR/dav-$s" erin@example.test <"$DIR/erin.pass"
done
/usr/bin/python3 tests/harness/corpus.py --host "$OLD_IP" --port "$OLD_IMAP_PORT" \
	--user erin@example.test --password-file "$DIR/erin.pass" --seed 5 \
	--big-mb 0 --count 6 --no-samples --manifest "$DIR/erin.manifest.json" >/dev/null
echo "  first login:  $(/usr/bin/python3 tests/harness/authclient.py imap "$NEW_IP" \
	erin@example.test "$DIR/erin.pass")"
"$MM" show erin@example.test | grep -E "^(Account|State):" | sed 's/^/  /'

say "mailmigrate stats (queued)"
"$MM" stats

say "watch: mailmigrated copies in the background; mailmigrate top (not a terminal: a line a second)"
users=$(grep -cv '^#' contrib/demo/users.txt)
accounts=$((users + 1))
"$MMD" -f </dev/null >>"$DIR/mailmigrated.out" 2>&1 &
DAEMON_PID=$!
"$MM" top -n 3
wait_state copied "$accounts"

say "checking NEW against OLD, message by message"
for user in $(grep -v '^#' contrib/demo/users.txt) erin; do
	/usr/bin/python3 tests/harness/corpus.py --verify --host "$NEW_IP" \
		--user "$user@example.test*$NEW_MASTER_USER" \
		--password-file "$NEW_MASTER_PASS_FILE" \
		--manifest "$DIR/$user.manifest.json"
done
say "what IMAP clients cached: alice's INBOX and fullest folder, on OLD and on NEW"
/usr/bin/python3 tests/harness/uidsnap.py imap --host "$OLD_IP" --user alice@example.test \
	--password-file "$DIR/alice.pass" >"$DIR/alice.old.snap"
/usr/bin/python3 tests/harness/uidsnap.py imap --host "$NEW_IP" --user "$NEW_MASTER_USER" \
	--authz alice@example.test --password-file "$NEW_MASTER_PASS_FILE" >"$DIR/alice.new.snap"
/usr/bin/python3 - "$DIR/alice.old.snap" "$DIR/alice.new.snap" <<'EOP'
import json, sys
snaps = [json.load(open(f)) for f in sys.argv[1:3]]
full = max(sorted(snaps[0]), key=lambda k: len(snaps[0][k]["uids"]))
for name in ["INBOX"] + ([full] if full != "INBOX" else []):
    for side, snap in zip(("OLD", "NEW"), snaps):
        i = snap[name]
        print("  %s %s: UIDVALIDITY %d, UIDs %s" % (side, name, i["uidvalidity"],
              " ".join(sorted(i["uids"], key=int))))
EOP
/usr/bin/python3 tests/harness/uidsnap.py compare "$DIR/alice.old.snap" "$DIR/alice.new.snap" \
	--extra-ok Sent && echo "  every folder: the same UIDVALIDITY, UIDs and flags"
echo "  erin logs in again: $(/usr/bin/python3 tests/harness/authclient.py imap "$NEW_IP" \
	erin@example.test "$DIR/erin.pass") (her session is on NEW now)"

say "alice's Sieve filters: what OLD has, and what NEW has now"
for f in "$DIR"/alice.sieve/*.sieve; do
	name=$(basename "$f" .sieve)
	on_new="$DIR/new/home/example.test/alice/sieve/$name.sieve"
	if cmp -s "$f" "$on_new"; then same="byte for byte on NEW"; else same="NOT the same on NEW"; fi
	echo "  $name: $(wc -c <"$f") bytes, sha256 $(sha256sum "$f" | cut -c1-12), $same"
	[ "$same" = "byte for byte on NEW" ] || exit 1
done
echo "  active on NEW: $(readlink "$DIR/new/home/example.test/alice/.dovecot.sieve")"
"$MM" show alice@example.test | sed -n '/^Sieve scripts copied:/,/^$/p' | sed '/^$/d; s/^/  /'

say "alice's calendars and address book: what OLD has, and what NEW has now"
/usr/bin/python3 tests/integration/dav_data.py compare "$OLD_DAV" "$NEW_DAV" \
	alice@example.test <"$DIR/alice.pass" | sed 's/^/  on NEW as on OLD: /'
"$MM" show alice@example.test | sed -n '/^Calendars and address books copied:/,/^$/p' |
	sed '/^$/d; s/^/  /'

say "mailmigrate verify --all (each folder: OLD now, the store's record, NEW now)"
"$MM" verify --all

say "mail during the migration: mailmigrate-relay routes each recipient"
for user in dave alice; do
	route=$(postmap -c "$NEW_POSTFIX_DIR" -q "$user@example.test" \
		"socketmap:unix:$DIR/relay.sock:transport" || true)
	echo "  transport lookup of $user@example.test: ${route:-not found (delivered on NEW)}"
	old_before=$(count "$OLD_MAILDIR_ROOT/example.test/$user")
	new_before=$(count "$NEW_MAILDIR_ROOT/example.test/$user")
	swaks --server "$NEW_IP:25" --helo demo.example.net --from "demo-$user@example.net" \
		--to "$user@example.test" --header "Subject: sent to NEW's Postfix during the migration" \
		--silent 2 --timeout 30
	n=0
	while [ "$(count "$OLD_MAILDIR_ROOT/example.test/$user")" = "$old_before" ] &&
	      [ "$(count "$NEW_MAILDIR_ROOT/example.test/$user")" = "$new_before" ]; do
		n=$((n + 1))
		[ "$n" -le 300 ] || { echo "the message for $user did not arrive"; exit 1; }
		sleep 0.1
	done
	if [ "$(count "$OLD_MAILDIR_ROOT/example.test/$user")" != "$old_before" ]; then
		echo "  $user@example.test: the message landed on OLD ($OLD_IP)"
	else
		echo "  $user@example.test: the message landed on NEW ($NEW_IP)"
	fi
done

say "mailmigrate finish (the last round of every account)"
"$MM" finish
wait_state finished "$accounts"
"$MM" list

say "mailmigrate stats"
"$MM" stats

say "mailmigrate export passwd-file (NEW without the module: the same passwords)"
"$MM" export passwd-file "$DIR/passwd"
# The hashes shortened here: they are the users' passwords' hashes.
sed -e 's/^\([^:]*\):\([^:]\{22\}\)[^:]*:/  \1:\2...:/' "$DIR/passwd"

say "the end: mailmigrated and mailmigrate-relay stopped"
stop_daemons
echo "  every mailbox finished; to remove mailmigrate, see README (\"The whole life of a migration\")"
