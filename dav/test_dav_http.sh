#!/bin/sh
# test_dav_http.sh: test_dav_http against a real Radicale on loopback.
set -u
top=${top_srcdir:-..}
d=$(mktemp -d /tmp/mmdav.XXXXXX) || exit 99
loop=
trap 'sh "$top/tests/harness/radicale.sh" stop "$d"; [ -n "$loop" ] && kill $loop; rm -rf "$d"' EXIT
command -v radicale >/dev/null 2>&1 || { echo "no radicale: skipped"; exit 77; }
printf 'alice-secret-1\n' >"$d/alice.pass"
chmod 600 "$d/alice.pass"
sh "$top/tests/harness/radicale.sh" adduser "$d" alice <"$d/alice.pass" || exit 99
sh "$top/tests/harness/radicale.sh" start "$d" 127.0.0.1 || exit 99
. "$d/env"
/usr/bin/python3 "$top/tests/harness/redirectloop.py" 127.0.0.1 "$d/loop.port" &
loop=$!
i=0
while [ ! -s "$d/loop.port" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
[ -s "$d/loop.port" ] || exit 99
MM_DAV_LOOP_URL=http://127.0.0.1:$(cat "$d/loop.port")/
export MM_DAV_LOOP_URL
MM_DAV_URL=$MM_DAV_URL MM_DAV_PASS_FILE=$d/alice.pass \
	$SHELL "${top_builddir:-..}/build-aux/run-test.sh" ./test_dav_http
