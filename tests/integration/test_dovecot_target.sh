#!/bin/sh
# shellcheck disable=SC2317  # t_* run through check()
# test_dovecot_target.sh - doveadm mailmigrate-import (doveadm-plugin/),
# loaded into NEW's doveadm, writes mail keeping OLD's identity:
# UIDVALIDITY, UIDNEXT, every UID, flags, keywords, INTERNALDATE, bodies
# byte for byte and POP3 UIDLs, as read back over IMAP and POP3 on NEW.
# A UID already taken gets a new one and the COMMIT says which; kill -9
# in the middle of a batch leaves nothing of it, and in the middle of a
# MOVEALL no message twice once the move is done again; bad input is refused
# with a clear answer. tests/harness/importclient.py is client and oracle.
# Then the target driver (modules/dovecot_target.c) through
# modules/dovecot_target_test, read back over IMAP.

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
for u in identity collision kill killmove bad driver; do
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
# MOVEALL (parking NEW's own mail) killed between its committed copies
# and its expunges: each message in both folders; the move done again
# copies none a second time (by GUID), and the way back leaves each once.
t_killmove() {
	# doveadm runs as the mail user: the file in a directory it may
	# write to.
	mkdir -p "$MM_DIR/crash" && chmod 0777 "$MM_DIR/crash" || return 1
	MAILMIGRATE_IMPORT_CRASH_IN_MOVE=$MM_DIR/crash/in-move
	export MAILMIGRATE_IMPORT_CRASH_IN_MOVE
	# doveadm -k: doveconf, which doveadm runs for its configuration,
	# would clean the environment of it otherwise.
	printf '#!/bin/sh\nexec %s -k "$@"\n' "$NEW_DOVEADM" >"$MM_DIR/doveadm-k"
	chmod 0755 "$MM_DIR/doveadm-k"
	$PYTHON "$HARNESS/importclient.py" killmove --doveadm "$MM_DIR/doveadm-k" \
		--user "killmove@example.test" --host "$NEW_IP" \
		--master-user "$NEW_MASTER_USER" \
		--master-pass-file "$NEW_MASTER_PASS_FILE" --sep "$NEW_SEP" \
		--crash-file "$MM_DIR/crash/in-move"
	ret=$?
	unset MAILMIGRATE_IMPORT_CRASH_IN_MOVE
	return $ret
}
t_bad() { run bad; }

# target_driver_dovecot: identity, wanted UIDs, flags (and FLAGS
# replacing them), what STATE lists (date, POP3 UIDL), LIST, the generic
# append, refusals with their class; NEW's IMAP agrees.
t_driver() {
	[ -x "${DOVECOT_TARGET_TEST:-}" ] || { echo "dovecot_target_test not built"; return 1; }
	"$DOVECOT_TARGET_TEST" "$NEW_DOVEADM" driver@example.test \
		>"$MM_DIR/driver.out" 2>"$MM_DIR/driver.err" ||
		{ cat "$MM_DIR/driver.out" "$MM_DIR/driver.err"; return 1; }
	cat >"$MM_DIR/driver.want" <<-'EOF'
	limit 1048576
	identity 4242 1
	uids 5 9
	identity 4242 50
	msg 5 31 5 work [01-Jan-2020 09:00:00 +0000] U5 -
	msg 9 41 0 [17-Jul-1996 09:44:25 +0000] U9 -
	msg 5 31 5 work [01-Jan-2020 09:00:00 +0000] U5 -
	msg 9 41 2 work [17-Jul-1996 09:44:25 +0000] U9 -
	refused final: IDENTITY refused by NEW's doveadm: folder holds 2 messages under UIDVALIDITY 4242: not changed
	plain 1
	folder &AMQ- @SEP@ 0
	folder Kept @SEP@ 0
	unsupported final: dovecot target: finding a header (POP3 UIDLs are kept as UIDLs) not supported
	EOF
	sed -i "s|@SEP@|$NEW_SEP|" "$MM_DIR/driver.want"
	echo "unknown final: $NEW_DOVEADM mailmigrate-import failed (exit 67: no such user)" \
		>>"$MM_DIR/driver.want"
	diff "$MM_DIR/driver.want" "$MM_DIR/driver.out" || return 1
	$PYTHON - "$NEW_IP" "driver@example.test*$NEW_MASTER_USER" \
		"$NEW_MASTER_PASS_FILE" <<-'EOF'
	import imaplib, re, sys, datetime
	m = imaplib.IMAP4(sys.argv[1])
	m.login(sys.argv[2], open(sys.argv[3]).read().strip())
	st = m.status("Kept", "(UIDVALIDITY UIDNEXT)")[1][0]
	assert b"UIDVALIDITY 4242" in st and b"UIDNEXT 50" in st, st
	m.select("Kept", readonly=True)
	data = m.uid("FETCH", "1:*", "(FLAGS INTERNALDATE BODY.PEEK[])")[1]
	got = {}
	for item in data:
	    if isinstance(item, tuple):
	        uid = int(re.search(rb"UID (\d+)", item[0]).group(1))
	        date = re.search(rb'INTERNALDATE "([^"]+)"', item[0]).group(1).decode()
	        t = datetime.datetime.strptime(date, "%d-%b-%Y %H:%M:%S %z").timestamp()
	        got[uid] = (item[0], int(t), item[1])
	assert sorted(got) == [5, 9], sorted(got)
	assert got[5][1] == 1577869200 and got[9][1] == 837596665, got
	assert b"\\Seen" in got[5][0] and b"work" in got[5][0], got[5][0]
	assert b"\\Answered" in got[9][0] and b"work" in got[9][0], got[9][0]
	assert got[5][2] == b"Subject: five\r\n\r\nbody five \xc3\xa4\r\n", got[5][2]
	assert got[9][2] == b"Subject: nine\r\n\r\nbody nine, no final CRLF", got[9][2]
	st = m.status("&AMQ-", "(MESSAGES)")[1][0]
	assert b"MESSAGES 1" in st, st
	m.logout()
	EOF
}

NEW_DOVEADM_CONF=$NEW_DOVECOT_CONF
check "the plugin is loaded into NEW's doveadm only" t_loaded
check "UIDVALIDITY, UIDNEXT, UIDs, flags, dates, bodies, UIDLs kept" t_identity
check "a UID already taken gets a new one, and COMMIT says so" t_collision
check "kill -9 mid-batch leaves nothing; the rerun no duplicate" t_kill
check "kill -9 inside MOVEALL: the move again duplicates nothing" t_killmove
check "bad input refused with a clear answer" t_bad
check "the dovecot target driver keeps identity; IMAP agrees" t_driver
mm_done
