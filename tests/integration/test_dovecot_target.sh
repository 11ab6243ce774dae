#!/bin/sh
# shellcheck disable=SC2317  # t_* run through check()
# test_dovecot_target.sh - doveadm mailmigrate-import (doveadm-plugin/),
# loaded into NEW's doveadm, writes mail keeping OLD's identity:
# UIDVALIDITY, UIDNEXT, every UID, flags, keywords, INTERNALDATE, bodies
# byte for byte and POP3 UIDLs, as read back over IMAP and POP3 on NEW.
# A UID already taken gets a new one and the COMMIT says which; kill -9
# in the middle of a batch leaves nothing of it; bad input is refused
# with a clear answer. tests/harness/importclient.py is client and oracle.

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

mm_require_root_and_pkgs
PLUGIN=${MM_DOVEADM_PLUGIN:-$top_builddir/doveadm-plugin/.libs/lib10_doveadm_mailmigrate_plugin.so}
[ -f "$PLUGIN" ] || skip "doveadm plugin not built ($PLUGIN)"
command -v unshare >/dev/null 2>&1 || skip "unshare not found"

MM_DOVEADM_MODULES=$PLUGIN
export MM_DOVEADM_MODULES
mm_servers_start

# One user per case: each starts from an empty mailbox.
for u in identity collision kill bad; do
	sh "$SERVERS_SH" adduser "$MM_DIR" new "$u@example.test" --nopass \
		</dev/null >/dev/null || fail "adduser new $u failed"
done

run() {
	$PYTHON "$HARNESS/importclient.py" "$1" --doveadm "$NEW_DOVEADM" \
		--user "$1@example.test" --host "$NEW_IP" \
		--master-user "$NEW_MASTER_USER" \
		--master-pass-file "$NEW_MASTER_PASS_FILE" --sep "$NEW_SEP"
}

# The command is there only with the plugin loaded.
t_loaded() {
	"$NEW_DOVEADM" help 2>&1 | grep -q "mailmigrate-import" ||
		{ echo "mailmigrate-import not in doveadm help"; return 1; }
	if doveadm -c "$NEW_DOVEADM_CONF" help 2>&1 | grep -q mailmigrate-import; then
		echo "the stock doveadm has it too: the test would not show loading"
		return 1
	fi
}

t_identity() { run identity; }
t_collision() { run collision; }
t_kill() {
	run kill || return 1
	# Nothing was committed, so no message file outside tmp/.
	n=$(mm_maildir_count "$NEW_MAILDIR_ROOT/example.test/kill/.Crash")
	assert_eq 3 "$n" "messages in Crash after kill and rerun"
}
t_bad() { run bad; }

NEW_DOVEADM_CONF=$NEW_DOVECOT_CONF
check "the plugin is loaded into NEW's doveadm only" t_loaded
check "UIDVALIDITY, UIDNEXT, UIDs, flags, dates, bodies, UIDLs kept" t_identity
check "a UID already taken gets a new one, and COMMIT says so" t_collision
check "kill -9 mid-batch leaves nothing; the rerun no duplicate" t_kill
check "bad input refused with a clear answer" t_bad
mm_done
