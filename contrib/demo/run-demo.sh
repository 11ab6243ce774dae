#!/bin/sh
# The mailmigrate demo: a migration between two mail servers on loopback.
#
# Installs what it needs (Debian 12, as root), builds mailmigrate, starts
# an OLD mail server (Dovecot + Postfix on 127.0.0.2) with sample
# mailboxes and a NEW one (127.0.0.3), initialises the store, queues the
# sample users with `mailmigrate bulk`, lets the puller mailmigrated copy
# their mail to NEW, checks the copies message by message, and prints
# `mailmigrate stats`. Finally it starts mailmigrate-relay, points NEW's
# Postfix at it with contrib/postfix/main.cf.mailmigrate, and sends two
# messages: one to a user not migrated (it lands on OLD) and one to a
# migrated user (it lands on NEW). NEW's Dovecot runs the auth module
# (contrib/dovecot/auth-mailmigrate.conf.ext): erin, on OLD only and in no
# bulk file, migrates by logging in to NEW with her OLD password.
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
	for f in "$MM" "$MMD" "$RELAY" "$AUTH_MODULE"; do
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
fi

DIR=$(mktemp -d /tmp/mmdemo.XXXXXX)
chmod 755 "$DIR"
RELAY_PID=
cleanup() {
	if [ -n "$RELAY_PID" ]; then
		kill -TERM "$RELAY_PID" 2>/dev/null || true
		wait "$RELAY_PID" 2>/dev/null || true
	fi
	if [ -n "${MM_KEEP:-}" ]; then
		echo "kept: $DIR (stop with: sh tests/harness/servers.sh stop $DIR)"
		return
	fi
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
export MM_AUTH_MODULES MM_NEW_DOVECOT_EXTRA
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
	/usr/bin/python3 tests/harness/corpus.py --host "$OLD_IP" --port "$OLD_IMAP_PORT" \
		--user "$user@example.test" --password-file "$DIR/$user.pass" \
		--seed "$(printf '%s' "$user" | cksum | cut -d' ' -f1)" \
		--big-mb 0 --count 12 --manifest "$DIR/$user.manifest.json" >/dev/null
	echo "  $user@example.test: mailbox filled"
done

sed -e "s|@DIR@|$DIR|g" -e "s|@OLD_IP@|$OLD_IP|g" -e "s|@NEW_IP@|$NEW_IP|g" \
    -e "s|@CA_FILE@|$CA_FILE|g" -e "s|@NEW_MASTER_PASS_FILE@|$NEW_MASTER_PASS_FILE|g" \
    contrib/demo/mailmigrate.conf.in > "$DIR/mailmigrate.conf"
export MAILMIGRATE_CONF="$DIR/mailmigrate.conf"

say "mailmigrate init"
"$MM" init
# The auth workers (user dovecot) reach the store and the public key by
# the group; secret.key (opens the passwords) stays root's 0600.
chgrp -R dovecot "$DIR/state" "$DIR/secret.key.pub"
chmod 640 "$DIR/secret.key.pub"
chmod 644 "$DIR/mailmigrate.conf"

say "mailmigrate bulk (queue the sample users)"
"$MM" bulk "$DIR/bulk.txt"

say "mailmigrate stats (queued)"
"$MM" stats

say "erin, on OLD only, logs in to NEW with her OLD password"
(umask 077 && openssl rand -hex 12 >"$DIR/erin.pass")
sh tests/harness/servers.sh adduser "$DIR" old erin@example.test <"$DIR/erin.pass"
/usr/bin/python3 tests/harness/corpus.py --host "$OLD_IP" --port "$OLD_IMAP_PORT" \
	--user erin@example.test --password-file "$DIR/erin.pass" --seed 5 \
	--big-mb 0 --count 6 --no-samples --manifest "$DIR/erin.manifest.json" >/dev/null
echo "  first login:  $(/usr/bin/python3 tests/harness/authclient.py imap "$NEW_IP" \
	erin@example.test "$DIR/erin.pass")"
"$MM" show erin@example.test | grep -E "^(Account|State):" | sed 's/^/  /'

say "mailmigrated --once (copy every queued mailbox from OLD to NEW)"
"$MMD" -f --once

say "checking NEW against OLD, message by message"
for user in $(grep -v '^#' contrib/demo/users.txt) erin; do
	/usr/bin/python3 tests/harness/corpus.py --verify --host "$NEW_IP" \
		--user "$user@example.test*$NEW_MASTER_USER" \
		--password-file "$NEW_MASTER_PASS_FILE" \
		--manifest "$DIR/$user.manifest.json"
done
echo "  erin logs in again: $(/usr/bin/python3 tests/harness/authclient.py imap "$NEW_IP" \
	erin@example.test "$DIR/erin.pass") (her session is on NEW now)"

say "mailmigrate verify --all (each folder: OLD now, the store's record, NEW now)"
"$MM" verify --all

say "mailmigrate list"
"$MM" list

say "mailmigrate stats"
"$MM" stats

say "mail during the migration: mailmigrate-relay routes each recipient"
# dave is on OLD only: not migrated. alice was copied above.
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
count() {
	n=0
	for f in "$1"/new/* "$1"/cur/*; do [ -f "$f" ] && n=$((n + 1)); done
	echo "$n"
}
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
