#!/bin/sh
# shellcheck disable=SC2317  # t_* run through check()
# test_imap_driver.sh - the IMAP source and target drivers copy a whole
# mailbox from OLD to NEW byte for byte, with flags, keywords, dates,
# folders and subscriptions, over each of OLD's TLS modes; NEW is
# written through its master user. corpus.py --verify is the oracle.
#
# MM_BIG_MB (default 20) sets the size of the corpus's big message.

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

mm_require_root_and_pkgs
[ -x "${DRIVER_COPY_TEST:-}" ] || skip "driver_copy_test not built"

BIG_MB=${MM_BIG_MB:-20}
CORPUS="$PYTHON $HARNESS/corpus.py"

mm_servers_start

# One user per TLS mode, each with its own corpus on OLD.
for mode in none detect starttls direct; do
	mm_adduser old "$mode@example.test" "pass $mode \"ö\""
	sh "$SERVERS_SH" adduser "$MM_DIR" new "$mode@example.test" --nopass \
		</dev/null || fail "adduser new $mode failed"
	pw=$(mm_pwfile "pass $mode \"ö\"")
	mv "$pw" "$MM_DIR/$mode.pw"
	big=0
	[ "$mode" = starttls ] && big=$BIG_MB
	$CORPUS --host "$OLD_IP" --user "$mode@example.test" \
		--password-file "$MM_DIR/$mode.pw" --seed 7 --count 25 \
		--big-mb "$big" --manifest "$MM_DIR/$mode.json" >/dev/null ||
		fail "corpus load for $mode failed"
done

copy() {
	mode=$1
	host=$OLD_IP
	[ "$mode" = direct ] && host=$OLD_IP:$OLD_IMAPS_PORT
	DRIVER_TLS=$mode "$DRIVER_COPY_TEST" "$host" "$NEW_IP" "$mode@example.test" \
		"$MM_DIR/$mode.pw" "$NEW_MASTER_USER" "$NEW_MASTER_PASS_FILE" \
		"$CA_FILE" >"$MM_DIR/$mode.copy.log" 2>&1 ||
		{ cat "$MM_DIR/$mode.copy.log"; return 1; }
	$CORPUS --verify --host "$NEW_IP" --user "$mode@example.test*$NEW_MASTER_USER" \
		--password-file "$NEW_MASTER_PASS_FILE" --manifest "$MM_DIR/$mode.json"
}

t_none() { copy none; }
t_detect() { copy detect; }
t_starttls() { copy starttls; }
t_direct() { copy direct; }

# A certificate that does not verify stops the copy, as a final failure.
t_bad_ca() {
	if DRIVER_TLS=starttls "$DRIVER_COPY_TEST" "$OLD_IP" "$NEW_IP" none@example.test \
		"$MM_DIR/none.pw" "$NEW_MASTER_USER" "$NEW_MASTER_PASS_FILE" \
		"$NEW_CERT_FILE" >"$MM_DIR/badca.log" 2>&1; then
		echo "copy succeeded with an untrusted certificate"
		return 1
	fi
	grep -q "class 3.*certificate verification failed" "$MM_DIR/badca.log" ||
		{ cat "$MM_DIR/badca.log"; return 1; }
}

# A wrong password on OLD is refused credentials (STREAM_FAIL_AUTH:
# give up), naming the refusal.
t_wrong_password() {
	pw=$(mm_pwfile "wrong")
	if "$DRIVER_COPY_TEST" "$OLD_IP" "$NEW_IP" none@example.test "$pw" \
		"$NEW_MASTER_USER" "$NEW_MASTER_PASS_FILE" >"$MM_DIR/wrong.log" 2>&1; then
		echo "copy succeeded with a wrong password"
		return 1
	fi
	grep -q "class 5, auth.*login refused: NO \[AUTHENTICATIONFAILED\]" \
		"$MM_DIR/wrong.log" ||
		{ cat "$MM_DIR/wrong.log"; return 1; }
	if grep -q wrong "$MM_DIR/wrong.log"; then
		echo "the password reached the output"
		return 1
	fi
}

check "copy over plain IMAP, verified" t_none
check "copy with TLS detect (STARTTLS offered), verified" t_detect
check "copy over STARTTLS with a ${BIG_MB} MB message, verified" t_starttls
check "copy over implicit TLS (993), verified" t_direct
check "untrusted certificate refused" t_bad_ca
check "wrong password refused, not echoed" t_wrong_password
mm_done
