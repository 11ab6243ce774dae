#!/bin/sh
# pgsql.sh - run a real PostgreSQL 15 for mailmigrate's tests: a cluster
# made by initdb in a temp dir, listening on one loopback address and a
# socket in that dir, stopped at the end.
#
#   pgsql.sh start DIR [IP]     initdb (once) and start; IP default 127.0.0.1
#   pgsql.sh stop DIR           stop it (never fails if stopped)
#   pgsql.sh restart DIR        stop (fast) and start again on the same port
#   pgsql.sh kill DIR           kill -9 the postmaster (a crash; `start` recovers)
#
# After `start`, DIR/env is a shell file to source:
#   MM_PG_HOST, MM_PG_PORT      where it listens
#   MM_PG_SOCKDIR               the unix socket directory
#   MM_PG_CONNINFO              libpq conninfo of database "postgres" as the
#                               superuser, no password (trust on loopback)
#   MM_PG_PWROLE                a role that must give a password
#                               (scram-sha-256): "mm_pw"; its password is in
#                               DIR/pw.pass (0600), never on a command line
#
# Run as root, the server runs as the "postgres" system user (initdb
# refuses root); otherwise as the caller. Exit status: 0 ok, 1 failure,
# 2 usage.

set -u
PROG=pgsql.sh

die() {
	echo "$PROG: $*" >&2
	exit 1
}

usage() {
	sed -n '5,8p' "$0" | sed 's/^#//' >&2
	exit 2
}

bindir=$(pg_config --bindir 2>/dev/null) || bindir=
if [ -z "$bindir" ] || [ ! -x "$bindir/initdb" ]; then
	for d in /usr/lib/postgresql/15/bin /usr/lib/postgresql/*/bin; do
		[ -x "$d/initdb" ] && { bindir=$d; break; }
	done
fi
[ -x "$bindir/initdb" ] || die "no PostgreSQL server binaries (apt-get install postgresql-15)"

# As root, run the server's programs as postgres.
asdb() {
	if [ "$(id -u)" -eq 0 ]; then
		setpriv --reuid=postgres --regid=postgres --init-groups -- "$@"
	else
		"$@"
	fi
}

# A free TCP port on IP (bound and released by the kernel's choice).
free_port() {
	python3 -c 'import socket,sys
s=socket.socket(); s.bind((sys.argv[1], 0)); print(s.getsockname()[1]); s.close()' "$1"
}

wait_ready() {
	i=0
	while [ $i -lt 300 ]; do
		if asdb "$bindir/pg_isready" -q -h "$sock" -p "$port"; then
			return 0
		fi
		sleep 0.1
		i=$((i + 1))
	done
	return 1
}

[ $# -ge 2 ] || usage
cmd=$1
dir=$2
case $dir in /*) ;; *) dir=$(pwd)/$dir ;; esac
data=$dir/data
sock=$dir/sock

case $cmd in
start)
	ip=${3:-127.0.0.1}
	mkdir -p "$dir" || die "cannot make $dir"
	if [ ! -f "$data/PG_VERSION" ]; then
		mkdir -p "$data" "$sock"
		[ "$(id -u)" -eq 0 ] && chown postgres:postgres "$dir" "$data" "$sock"
		chmod 0700 "$data"
		# The password of mm_pw: random, in a file, given to initdb's
		# superuser-free setup by psql reading it from a file.
		umask 077
		head -c 18 /dev/urandom | base64 | tr -d '/+=' > "$dir/pw.pass"
		umask 022
		asdb "$bindir/initdb" -D "$data" -U postgres -E UTF8 --locale=C.UTF-8 \
			--auth-local=trust --auth-host=trust >"$dir/initdb.log" 2>&1 ||
			{ cat "$dir/initdb.log" >&2; die "initdb failed"; }
		port=$(free_port "$ip") || die "no free port on $ip"
		# The password role first: the first matching line wins.
		{
			echo "local all all trust"
			echo "host all mm_pw 127.0.0.0/8 scram-sha-256"
			echo "host all all 127.0.0.0/8 trust"
		} > "$data/pg_hba.conf"
		cat >> "$data/postgresql.conf" <<EOC
listen_addresses = '$ip'
port = $port
unix_socket_directories = '$sock'
fsync = off
full_page_writes = off
synchronous_commit = off
max_connections = 300
shared_buffers = 64MB
logging_collector = off
log_min_messages = warning
EOC
		echo "$ip $port" > "$dir/addr"
	fi
	read -r ip port < "$dir/addr"
	asdb "$bindir/pg_ctl" -D "$data" -l "$dir/server.log" -w -t 30 -s start ||
		{ tail -n 30 "$dir/server.log" >&2; die "the server did not start"; }
	wait_ready || die "the server does not answer on $ip:$port"
	if [ ! -f "$dir/roles.done" ]; then
		pw=$(cat "$dir/pw.pass")
		asdb "$bindir/psql" -q -h "$sock" -p "$port" -U postgres -d postgres \
			-v ON_ERROR_STOP=1 -v pw="$pw" >/dev/null <<'EOSQL' || die "cannot make the test roles"
SET password_encryption = 'scram-sha-256';
CREATE ROLE mm_pw LOGIN SUPERUSER PASSWORD :'pw';
EOSQL
		touch "$dir/roles.done"
	fi
	cat > "$dir/env" <<EOE
MM_PG_HOST=$ip
MM_PG_PORT=$port
MM_PG_SOCKDIR=$sock
MM_PG_CONNINFO='host=$ip port=$port user=postgres dbname=postgres sslmode=disable'
MM_PG_PWROLE=mm_pw
EOE
	;;
stop)
	[ -f "$data/postmaster.pid" ] || exit 0
	asdb "$bindir/pg_ctl" -D "$data" -m fast -w -t 30 -s stop >/dev/null 2>&1 || true
	;;
restart)
	asdb "$bindir/pg_ctl" -D "$data" -m fast -w -t 30 -s stop >/dev/null 2>&1 || true
	exec "$0" start "$dir"
	;;
kill)
	[ -f "$data/postmaster.pid" ] || exit 0
	pid=$(head -n 1 "$data/postmaster.pid")
	kill -9 "$pid" 2>/dev/null || true
	i=0
	while kill -0 "$pid" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
	;;
*)
	usage
	;;
esac
exit 0
