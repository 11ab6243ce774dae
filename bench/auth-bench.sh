#!/bin/sh
# auth-bench.sh - how fast the auth-hook lets migrated users log in, next to
# a passwd-file passdb with the same hash scheme (SHA512-CRYPT), in one run
# on one Dovecot, with the store on LMDB and on PostgreSQL side by side;
# and what a first login (the check on OLD, the account, the job, the
# notice) adds.
#
#   sh bench/auth-bench.sh [-n USERS] [-c CONNECTIONS] [-r ROUNDS] [-a ACCOUNTS]
#                          [-b "lmdb postgresql"]
#
# Needs root, a built tree (./configure && make) and the test harness's
# packages (tests/install-deps.sh). Starts OLD and NEW on loopback through
# tests/harness/servers.sh, NEW with the module (private mount namespace),
# and, for -b postgresql, a PostgreSQL 15 in the bench's temp dir
# (bench/bench_store.sh); removes everything at the end. Logins go straight
# to NEW's auth-client socket (PLAIN), so the figures are the passdbs', not
# IMAP's.
#
# For each backend in turn (a fresh store, NEW's auth processes reloaded
# with its configuration, fresh mailboxes): USERS first logins, the same
# logins again from the stored hash, the copy (mailmigrated --once), then
# ACCOUNTS more queued accounts (default 10000, another domain, never
# copied) so the store holds a site's worth, then logins per second for
# module users and passwd-file users (best of three alternating runs
# each).
#
# Prints one table: per backend the first-login and second-login times
# (mean of USERS sequential logins), logins per second through the module
# and through passwd-file, their ratio, and PostgreSQL's module figure as
# a share of LMDB's.

set -u
HERE=$(cd "$(dirname "$0")" && pwd)
TOP=$(cd "$HERE/.." && pwd)
USERS=100
CONC=4
ROUNDS=500
ACCOUNTS=10000
BACKENDS="lmdb postgresql"
while getopts n:c:r:a:b: o; do
	case $o in
	n) USERS=$OPTARG ;;
	c) CONC=$OPTARG ;;
	r) ROUNDS=$OPTARG ;;
	a) ACCOUNTS=$OPTARG ;;
	b) BACKENDS=$OPTARG ;;
	*) echo "usage: $0 [-n USERS] [-c CONNECTIONS] [-r ROUNDS] [-a ACCOUNTS]" \
		"[-b BACKENDS]" >&2; exit 2 ;;
	esac
done
top_srcdir=$TOP
top_builddir=${top_builddir:-$TOP}
HARNESS=$TOP/tests/harness
MAILMIGRATE=$top_builddir/cli/mailmigrate
MAILMIGRATED=$top_builddir/puller/mailmigrated
MODULE=$top_builddir/auth-hook/.libs/libauthdb_mailmigrate.so
export HARNESS
# shellcheck source-path=SCRIPTDIR source=../tests/integration/lib.sh
. "$TOP/tests/integration/lib.sh"
# shellcheck source-path=SCRIPTDIR source=bench_store.sh
. "$TOP/bench/bench_store.sh"
# shellcheck disable=SC2034  # read by bench_store.sh
top=$TOP MM=$MAILMIGRATE
bench_backends "$BACKENDS"
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
if bench_has "$BACKENDS" postgresql; then
	mm_at_exit bench_pg_stop
	bench_pg_start "$D/pg"
fi

# write_conf BACKEND [STORE_LINE]: the configuration NEW's module reads.
write_conf() {
	cat >"$CONF" <<EOC
state_dir = $D/state-$1
key_file = $D/secret.key
log_file = $D/mailmigrated.log
workers = 2
target_host = $NEW_IP:$NEW_IMAP_PORT
target_master_user = $NEW_MASTER_USER
target_master_password_file = $NEW_MASTER_PASS_FILE
target_lmtp = inet:$NEW_IP:$NEW_LMTP_PORT
user_home = $D/new/home/$1/%d/%n
user_mail = maildir:$D/new/mail/$1/%d/%n
user_uid = mail
user_gid = mail
auth_rate_user = 0
auth_rate_ip = 0
${2:-}

[domain example.test]
source_host = $OLD_IP
source_tls = none
login_action = reject
notice_message = $D/notice.txt

# The rest of the store: queued, never copied (nothing runs the daemon
# after they are added).
[domain bench.test]
source_host = 192.0.2.1
source_admin_user = admin
source_admin_password_file = $D/admin.pass
EOC
	chmod 644 "$CONF"
}
printf 'Subject: moving\n\nHello %%u\n' >"$D/notice.txt"
chmod 644 "$D/notice.txt"
(umask 077; echo x >"$D/admin.pass")
bench_keys "$ACCOUNTS" "$D/keys"

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

per_login() { sed -n 's/.* seconds \([0-9.]*\) rate.*/\1/p' | awk -v n="$USERS" '{ printf "%.1f", $1 * 1000 / n }'; }
rate() { sed -n 's/.* rate \([0-9.]*\)$/\1/p'; }
count_state() {
	"$MAILMIGRATE" -c "$CONF" list --state "$1" --json | grep -c '"account"'
}
: >"$D/results"

for b in $BACKENDS; do
	if [ "$b" = lmdb ]; then
		write_conf lmdb
	else
		write_conf postgresql "store = $(bench_pg_spec mm_auth)"
	fi
	"$MAILMIGRATE" -c "$CONF" init >/dev/null || fail "$b: init failed"
	# The auth workers read the public key, and the LMDB store (a
	# PostgreSQL store has no files in state_dir).
	if ! chgrp dovecot "$D/secret.key.pub" || ! chmod 640 "$D/secret.key.pub"; then
		fail "cannot give the auth workers the public key"
	fi
	if [ "$b" = lmdb ]; then
		chgrp -R dovecot "$D/state-$b" || fail "cannot give the auth workers the store"
	fi
	# NEW's auth processes start again with this configuration.
	doveadm -c "$NEW_DOVECOT_CONF" reload || fail "$b: NEW dovecot reload failed"

	# First logins, one at a time (one connection, each user once): OLD
	# check, account, job, notice, refusal. Then the same logins again,
	# answered from the stored hash (state queued: refused after the hash
	# check).
	# shellcheck disable=SC2086
	first_ms=$($CLIENT "$SOCK" "$D/pw" 1 "$USERS" $MODUSERS | per_login)
	# shellcheck disable=SC2086
	second_ms=$($CLIENT "$SOCK" "$D/pw" 1 "$USERS" $MODUSERS | per_login)
	n=$(count_state queued)
	[ "$n" = "$USERS" ] || fail "$b: $n accounts queued after the first logins, not $USERS"

	"$MAILMIGRATED" -c "$CONF" -f --once 2>"$D/daemon-$b.err" || fail "$b: the copy failed"
	n=$(count_state copied)
	[ "$n" = "$USERS" ] || fail "$b: $n accounts copied, not $USERS"
	if [ "$ACCOUNTS" -gt 0 ]; then
		"$MAILMIGRATE" -c "$CONF" bulk "$D/keys" >/dev/null || fail "$b: bulk failed"
	fi

	best_mod=0
	best_pf=0
	for run in 1 2 3; do
		# shellcheck disable=SC2086
		r=$($CLIENT "$SOCK" "$D/pw" "$CONC" "$ROUNDS" $MODUSERS | rate)
		echo "$b run $run module:      $r logins/s" >&2
		best_mod=$(echo "$r $best_mod" | awk '{ print ($1 > $2) ? $1 : $2 }')
		# shellcheck disable=SC2086
		r=$($CLIENT "$SOCK" "$D/pw" "$CONC" "$ROUNDS" $PFUSERS | rate)
		echo "$b run $run passwd-file: $r logins/s" >&2
		best_pf=$(echo "$r $best_pf" | awk '{ print ($1 > $2) ? $1 : $2 }')
	done
	accts=$("$MAILMIGRATE" -c "$CONF" list --json | grep -c '"account"')
	echo "$b $accts $first_ms $second_ms $best_mod $best_pf" >>"$D/results"
done

echo "auth-bench: $USERS users, $CONC connections x $ROUNDS logins, $(nproc) cores, load $(cut -d' ' -f1 /proc/loadavg)"
printf '%-11s %8s %10s %10s %10s %12s %9s %7s\n' backend accounts "first ms" "again ms" \
	"module/s" "passwd-file/s" "mod/pf" "% LMDB"
awk '
	{ row[NR] = $0; if ($1 == "lmdb") lm = $5 }
	END {
		for (i = 1; i <= NR; i++) {
			split(row[i], f, " ")
			pct = "-"
			if (f[1] == "postgresql" && lm > 0)
				pct = sprintf("%.0f %%", 100 * f[5] / lm)
			printf "%-11s %8d %10.1f %10.1f %10.0f %12.0f %9.2f %7s\n", f[1], f[2],
				f[3], f[4], f[5], f[6], (f[6] > 0 ? f[5] / f[6] : 0), pct
		}
	}' "$D/results"
echo "first ms: first login (OLD check + account + job + notice), one at a time;"
echo "again ms: the same users again, from the stored hash, one at a time."
