#!/bin/sh
# auth-bench.sh - how fast the auth-hook lets migrated users log in, next to
# a passwd-file passdb with the same hash scheme (SHA512-CRYPT), in one run
# on one Dovecot; and what a first login (the check on OLD, the account, the
# job, the notice) adds.
#
#   sh bench/auth-bench.sh [-n USERS] [-c CONNECTIONS] [-r ROUNDS]
#
# Needs root, a built tree (./configure && make) and the test harness's
# packages (tests/install-deps.sh). Starts OLD and NEW on loopback through
# tests/harness/servers.sh, NEW with the module (private mount namespace),
# and removes everything at the end. Logins go straight to NEW's auth-client
# socket (PLAIN), so the figures are the passdbs', not IMAP's.
#
# Prints: first-login time (mean of USERS sequential first logins, and of
# the same logins again from the stored hash),
# logins per second for module users and passwd-file users (best of three
# alternating runs each), and their ratio.

set -u
HERE=$(cd "$(dirname "$0")" && pwd)
TOP=$(cd "$HERE/.." && pwd)
USERS=100
CONC=4
ROUNDS=500
while getopts n:c:r: o; do
	case $o in
	n) USERS=$OPTARG ;;
	c) CONC=$OPTARG ;;
	r) ROUNDS=$OPTARG ;;
	*) echo "usage: $0 [-n USERS] [-c CONNECTIONS] [-r ROUNDS]" >&2; exit 2 ;;
	esac
done
top_srcdir=$TOP
top_builddir=${top_builddir:-$TOP}
HARNESS=$TOP/tests/harness
MAILMIGRATE=$top_builddir/cli/mailmigrate
MAILMIGRATED=$top_builddir/puller/mailmigrated
MODULE=$top_builddir/auth-hook/.libs/libauthdb_mailmigrate.so
export HARNESS
# shellcheck source=../tests/integration/lib.sh
. "$TOP/tests/integration/lib.sh"
mm_require_root_and_pkgs
[ -f "$MODULE" ] || fail "build first: no $MODULE"
CLIENT="$PYTHON $HERE/auth_bench_client.py"

D=$(mm_tmpdir)
CONF=$D/mailmigrate.conf
MM_AUTH_MODULES=$MODULE
MM_NEW_DOVECOT_EXTRA=$D/extra.conf
sed "s|/etc/mailmigrate/mailmigrate.conf|$CONF|" \
	"$TOP/contrib/dovecot/auth-mailmigrate.conf.ext" >"$MM_NEW_DOVECOT_EXTRA"
export MM_AUTH_MODULES MM_NEW_DOVECOT_EXTRA
mm_servers_start "$D"

cat >"$CONF" <<EOC
state_dir = $D/state
key_file = $D/secret.key
log_file = $D/mailmigrated.log
workers = 2
target_host = $NEW_IP:$NEW_IMAP_PORT
target_master_user = $NEW_MASTER_USER
target_master_password_file = $NEW_MASTER_PASS_FILE
target_lmtp = inet:$NEW_IP:$NEW_LMTP_PORT
user_home = $D/new/home/%d/%n
user_mail = maildir:$D/new/mail/%d/%n
user_uid = mail
user_gid = mail
auth_rate_user = 0
auth_rate_ip = 0

[domain example.test]
source_host = $OLD_IP
source_tls = none
login_action = reject
notice_message = $D/notice.txt
EOC
chmod 644 "$CONF"
printf 'Subject: moving\n\nHello %%u\n' >"$D/notice.txt"
chmod 644 "$D/notice.txt"
"$MAILMIGRATE" -c "$CONF" init >/dev/null || fail "init failed"
chgrp -R dovecot "$D/state" "$D/secret.key.pub" && chmod 640 "$D/secret.key.pub"

# USERS users on OLD (module users, mm$i@example.test) and USERS users in
# NEW's passwd-file (pf$i@example.org), all with one password and
# SHA512-CRYPT hashes made by doveadm.
printf 'bench password\n' >"$D/pw"
chmod 600 "$D/pw"
# doveadm reads the password and its retype from stdin (new session: no tty).
H=$(printf 'bench password\nbench password\n' | setsid doveadm -c /dev/null pw -s SHA512-CRYPT)
case $H in
'{SHA512-CRYPT}$6$'*) ;;
*) fail "doveadm pw gave '$H'" ;;
esac
MODUSERS=
PFUSERS=
i=1
while [ "$i" -le "$USERS" ]; do
	printf 'mm%d@example.test:%s::::::\n' "$i" "$H" >>"$D/old/users.new"
	printf 'pf%d@example.org:%s::::::\n' "$i" "$H" >>"$D/new/users.new"
	MODUSERS="$MODUSERS mm$i@example.test"
	PFUSERS="$PFUSERS pf$i@example.org"
	i=$((i + 1))
done
for s in old new; do
	cat "$D/$s/users" "$D/$s/users.new" >"$D/$s/users.tmp"
	chgrp dovecot "$D/$s/users.tmp" && chmod 640 "$D/$s/users.tmp"
	mv "$D/$s/users.tmp" "$D/$s/users"
	rm -f "$D/$s/users.new"
done
sleep 1.1	# passwd-file looks at its file at most once a second
SOCK=$D/new/run/auth-client

# First logins, one at a time (one connection, each user once): OLD check,
# account, job, notice, refusal. Then the same logins again, answered from
# the stored hash (state queued: refused after the hash check).
per_login() { sed -n 's/.* seconds \([0-9.]*\) rate.*/\1/p' | awk -v n="$USERS" '{ printf "%.1f", $1 * 1000 / n }'; }
# shellcheck disable=SC2086
FIRST_MS=$($CLIENT "$SOCK" "$D/pw" 1 "$USERS" $MODUSERS | per_login)
# shellcheck disable=SC2086
SECOND_MS=$($CLIENT "$SOCK" "$D/pw" 1 "$USERS" $MODUSERS | per_login)
n=$("$MAILMIGRATE" -c "$CONF" list --state queued --json | grep -c '"account"')
[ "$n" = "$USERS" ] || fail "$n accounts queued after the first logins, not $USERS"

"$MAILMIGRATED" -c "$CONF" -f --once 2>"$D/daemon.err" || fail "the copy failed"
n=$("$MAILMIGRATE" -c "$CONF" list --state copied --json | grep -c '"account"')
[ "$n" = "$USERS" ] || fail "$n accounts copied, not $USERS"


rate() { sed -n 's/.* rate \([0-9.]*\)$/\1/p'; }
best_mod=0
best_pf=0
for run in 1 2 3; do
	# shellcheck disable=SC2086
	r=$($CLIENT "$SOCK" "$D/pw" "$CONC" "$ROUNDS" $MODUSERS | rate)
	echo "run $run module:      $r logins/s" >&2
	best_mod=$(echo "$r $best_mod" | awk '{ print ($1 > $2) ? $1 : $2 }')
	# shellcheck disable=SC2086
	r=$($CLIENT "$SOCK" "$D/pw" "$CONC" "$ROUNDS" $PFUSERS | rate)
	echo "run $run passwd-file: $r logins/s" >&2
	best_pf=$(echo "$r $best_pf" | awk '{ print ($1 > $2) ? $1 : $2 }')
done

echo "auth-bench: $USERS users, $CONC connections x $ROUNDS logins, $(nproc) cores"
echo "first login (OLD check + account + job + notice), one at a time: $FIRST_MS ms"
echo "the same users again, from the stored hash, one at a time:       $SECOND_MS ms"
echo "migrated users through the module:  $best_mod logins/s"
echo "passwd-file, same scheme:           $best_pf logins/s"
echo "ratio module / passwd-file:         $(echo "$best_mod $best_pf" | awk '{ printf "%.2f", $1 / $2 }')"
