#!/bin/sh
# Passes every test of mailmigrate on a fresh Debian 12 machine, as root:
# installs the packages it needs, builds, runs the unit tests (under
# valgrind) and the integration tests against real Dovecot and Postfix
# on loopback (among them test_packages.sh: the Debian packages built,
# checked with lintian, installed, run and purged), the integration tests
# again with the store on a real PostgreSQL 15, the libFuzzer targets for
# a few seconds each, then `make distcheck` (unit tests only: the
# integration tests skip there, having run twice already).
#
# Usage: sh tests/run-all.sh        (from anywhere; builds in the tree)
# MM_SKIP_DISTCHECK=1 skips the distcheck pass.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

step() { printf '\n==> %s\n' "$*"; }

# On failure, show the logs of the tests that failed.
show_failures() {
	status=$?
	if [ "$status" -ne 0 ]; then
		for trs in $(find "$top" -name '*.trs' 2>/dev/null); do
			if grep -q ':test-result: \(FAIL\|ERROR\)' "$trs"; then
				log=${trs%.trs}.log
				printf '\n---- %s ----\n' "$log"
				tail -n 80 "$log" 2>/dev/null || true
			fi
		done
		printf '\nrun-all: FAILED (exit %s)\n' "$status"
	fi
	exit "$status"
}
trap show_failures EXIT

step "installing packages"
sh tests/install-deps.sh

step "building"
autoreconf -fi >/dev/null 2>&1 || autoreconf -fi
./configure --quiet
make -j2 >/dev/null

step "make check (unit tests under valgrind on LMDB and PostgreSQL, integration tests on loopback)"
rm -rf tests/integration/on-lmdb
make -j2 check

# The integration suite again with the store on PostgreSQL (each test
# starts a server of its own); the LMDB results are kept aside.
step "integration tests with the store on PostgreSQL"
mkdir -p tests/integration/on-lmdb
mv tests/integration/*.log tests/integration/*.trs tests/integration/on-lmdb/
MM_TEST_BACKEND=postgresql make -j2 -C tests/integration check

# Count what ran, for the record and for CI.
passed=0 failed=0 skipped=0
for trs in $(find "$top" -name '*.trs'); do
	case "$(sed -n 's/^:test-result: //p' "$trs" | head -n 1)" in
	PASS|XFAIL) passed=$((passed + 1)) ;;
	SKIP) skipped=$((skipped + 1)) ;;
	*) failed=$((failed + 1)) ;;
	esac
done
# Check's own closing lines, one per unit-test program.
for log in $(find "$top/common" "$top/store" "$top/puller" "$top/cli" "$top/modules" "$top/relay" \
	     "$top/auth-hook" -name 'test_*.log' 2>/dev/null | sort); do
	grep -h '^[0-9]*%: Checks:' "$log" | sed "s|^|$(basename "$log" .log): |"
done

step "fuzzing the response parsers briefly (libFuzzer, ASan, UBSan)"
make -s fuzz-run FUZZ_SECONDS="${MM_FUZZ_SECONDS:-15}"

if [ -z "${MM_SKIP_DISTCHECK:-}" ]; then
	step "make distcheck"
	dclog=$(mktemp /tmp/mm-distcheck.XXXXXX)
	# The tarball builds and its unit tests pass; the integration tests,
	# which ran twice above, skip there (the pass took as long as they
	# did again, and CI has 90 minutes).
	MM_SKIP_INTEGRATION=1 make distcheck >"$dclog" 2>&1 || {
		tail -n 60 "$dclog"
		exit 1
	}
	grep -E '^(=+|mailmigrate-.* archives ready)' "$dclog" | tail -n 3
	rm -f "$dclog"
fi

trap - EXIT
echo
echo "tests: $passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
