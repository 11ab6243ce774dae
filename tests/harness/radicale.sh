#!/bin/sh
# radicale.sh - run a real Radicale 3 (Debian's) as a CalDAV/CardDAV server
# for mailmigrate's tests: its collections and users in DIR, listening on
# one loopback address, stopped at the end.
#
#   radicale.sh start DIR [IP]     start; IP default 127.0.0.1
#   radicale.sh adduser DIR USER   add USER, the password read from stdin
#   radicale.sh stop DIR           stop it (never fails if stopped)
#
# MM_RADICALE_UIDINDEX=1 at start: Radicale's storage with an index of
# each collection's UIDs (radicale_uidindex.py, beside this script), so a
# PUT does not read the whole collection; for a NEW that takes thousands
# of items in a test.
#
# After `start`, DIR/env is a shell file to source:
#   MM_DAV_HOST, MM_DAV_PORT   where it listens
#   MM_DAV_URL                 http://HOST:PORT/ (RFC 6764 well-known URIs
#                              redirect there; each user's home is /USER/)
# Users are in DIR/users, htpasswd with APR1 hashes (no password in the
# clear on disk or on a command line); `adduser` works before or after
# `start` (Radicale reads the file at each login). Exit status: 0 ok,
# 1 failure, 2 usage.

set -u
PROG=radicale.sh

die() {
	echo "$PROG: $*" >&2
	exit 1
}

usage() {
	sed -n '5,7p' "$0" | sed 's/^#//' >&2
	exit 2
}

command -v radicale >/dev/null 2>&1 || die "no radicale (apt-get install radicale)"

# A free TCP port on IP (bound and released by the kernel's choice).
free_port() {
	/usr/bin/python3 -c 'import socket,sys
s=socket.socket(); s.bind((sys.argv[1], 0)); print(s.getsockname()[1]); s.close()' "$1"
}

# Up to 15 s for the server to accept connections.
wait_ready() {
	i=0
	while [ $i -lt 150 ]; do
		if /usr/bin/python3 -c 'import socket,sys
socket.create_connection((sys.argv[1], int(sys.argv[2])), 1).close()' "$1" "$2" 2>/dev/null; then
			return 0
		fi
		kill -0 "$3" 2>/dev/null || return 1
		sleep 0.1
		i=$((i + 1))
	done
	return 1
}

cmd_start() {
	dir=$1 ip=${2:-127.0.0.1}
	mkdir -p "$dir/collections" || die "cannot make $dir"
	[ -f "$dir/users" ] || : >"$dir/users"
	chmod 600 "$dir/users"
	port=$(free_port "$ip") || die "no free port on $ip"
	storage_type=
	if [ "${MM_RADICALE_UIDINDEX:-}" = 1 ]; then
		storage_type="type = radicale_uidindex"
		PYTHONPATH=$(cd "$(dirname "$0")" && pwd)${PYTHONPATH:+:$PYTHONPATH}
		export PYTHONPATH
	fi
	cat >"$dir/config" <<EOC
[server]
hosts = $ip:$port
max_content_length = 100000000
timeout = 30

[auth]
type = htpasswd
htpasswd_filename = $dir/users
htpasswd_encryption = md5
delay = 0

[rights]
type = from_file
file = $dir/rights

[storage]
filesystem_folder = $dir/collections
$storage_type

[logging]
level = warning
EOC
	# Each user their own collections (owner_only's rule), and the user
	# dav-admin (when added) every user's: target_dav_admin_user.
	cat >"$dir/rights" <<'EOR'
[admin]
user: dav-admin
collection: .*
permissions: RrWw

[owner]
user: .+
collection: {user}(/.*)?
permissions: RrWw

[root]
user: .+
collection:
permissions: R
EOR
	setsid radicale --config "$dir/config" >"$dir/radicale.log" 2>&1 &
	pid=$!
	echo "$pid" >"$dir/pid"
	wait_ready "$ip" "$port" "$pid" || {
		cat "$dir/radicale.log" >&2
		cmd_stop "$dir"
		die "radicale did not start on $ip:$port"
	}
	cat >"$dir/env" <<EOE
MM_DAV_HOST=$ip
MM_DAV_PORT=$port
MM_DAV_URL=http://$ip:$port/
EOE
}

cmd_adduser() {
	dir=$1 user=$2
	case $user in *:*|'') die "bad user name" ;; esac
	IFS= read -r pw || die "no password on stdin"
	# The password goes to openssl on its stdin, never in argv.
	hash=$(printf '%s\n' "$pw" | openssl passwd -apr1 -stdin) || die "openssl passwd failed"
	mkdir -p "$dir" && touch "$dir/users" && chmod 600 "$dir/users"
	grep -v "^$user:" "$dir/users" >"$dir/users.tmp" 2>/dev/null
	printf '%s:%s\n' "$user" "$hash" >>"$dir/users.tmp"
	chmod 600 "$dir/users.tmp" && mv "$dir/users.tmp" "$dir/users"
}

cmd_stop() {
	dir=$1
	[ -f "$dir/pid" ] || return 0
	pid=$(cat "$dir/pid")
	kill "$pid" 2>/dev/null
	i=0
	while kill -0 "$pid" 2>/dev/null && [ $i -lt 100 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	kill -9 "$pid" 2>/dev/null
	rm -f "$dir/pid"
	return 0
}

[ $# -ge 2 ] || usage
case $1 in
start) [ $# -le 3 ] || usage; cmd_start "$2" "${3:-}" ;;
adduser) [ $# -eq 3 ] || usage; cmd_adduser "$2" "$3" ;;
stop) [ $# -eq 2 ] || usage; cmd_stop "$2" ;;
*) usage ;;
esac
