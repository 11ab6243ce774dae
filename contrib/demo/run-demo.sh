#!/bin/sh
# The mailmigrate demo: a migration between two mail servers on loopback.
#
# Installs what it needs (Debian 12, as root), builds mailmigrate, starts
# an OLD mail server (Dovecot + Postfix on 127.0.0.2) with sample
# mailboxes and a NEW one (127.0.0.3), initialises the store, queues the
# sample users with `mailmigrate bulk`, lets the puller mailmigrated copy
# their mail to NEW, checks the copies message by message, and prints
# `mailmigrate stats`.
# Everything lives in one temp dir and is stopped and removed at the end
# (MM_KEEP=1 keeps the servers running and the dir in place).
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top"

say() { printf '\n==> %s\n' "$*"; }

say "installing packages"
sh tests/install-deps.sh

if [ ! -x queue/mailmigrate ]; then
	say "building mailmigrate"
	autoreconf -fi >/dev/null 2>&1
	./configure --quiet
	make -j2 >/dev/null
fi
MM="$top/queue/mailmigrate"
MMD="$top/queue/mailmigrated"

DIR=$(mktemp -d /tmp/mmdemo.XXXXXX)
chmod 755 "$DIR"
cleanup() {
	if [ -n "${MM_KEEP:-}" ]; then
		echo "kept: $DIR (stop with: sh tests/harness/servers.sh stop $DIR)"
		return
	fi
	sh tests/harness/servers.sh stop "$DIR" >/dev/null 2>&1 || true
	rm -rf "$DIR"
}
trap cleanup EXIT INT TERM

say "starting the OLD and NEW mail servers on loopback"
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

say "mailmigrate bulk (queue the sample users)"
"$MM" bulk "$DIR/bulk.txt"

say "mailmigrate stats (queued)"
"$MM" stats

say "mailmigrated --once (copy every queued mailbox from OLD to NEW)"
"$MMD" -f --once

say "checking NEW against OLD, message by message"
for user in $(grep -v '^#' contrib/demo/users.txt); do
	/usr/bin/python3 tests/harness/corpus.py --verify --host "$NEW_IP" \
		--user "$user@example.test*$NEW_MASTER_USER" \
		--password-file "$NEW_MASTER_PASS_FILE" \
		--manifest "$DIR/$user.manifest.json"
done

say "mailmigrate list"
"$MM" list

say "mailmigrate stats"
"$MM" stats
