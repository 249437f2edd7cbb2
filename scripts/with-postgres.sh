#!/usr/bin/env bash
# Runs a command beside a throwaway PostgreSQL cluster (Debian's `postgresql` package):
# initdb in a temp dir, a server on a free loopback port, stopped and deleted at the end.
# The command sees GATEHOUSE_TEST_POSTGRES=postgres://gatehouse@127.0.0.1:PORT (no database
# part: each test creates its own). Usage: scripts/with-postgres.sh [--durable] COMMAND...
# Without --durable the cluster skips fsync (tests); with it, it runs with Postgres' defaults
# (benchmarks).
set -euo pipefail

durability="-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
if [ "${1:-}" = "--durable" ]; then
  durability=""
  shift
fi

bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -x "$bin/initdb" ] || { echo "error: PostgreSQL is not installed (scripts/setup.sh --e2e installs it)" >&2; exit 1; }

dir=$(mktemp -d /tmp/gatehouse-pg.XXXXXX)
# The server refuses to run as root: then it runs as the package's `postgres` user.
as_owner() { "$@"; }
if [ "$(id -u)" = 0 ]; then
  chown postgres "$dir"
  as_owner() { runuser -u postgres -- "$@"; }
fi
stop() {
  as_owner "$bin/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$dir"
}
trap stop EXIT

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
as_owner "$bin/initdb" -D "$dir/data" -U gatehouse -A trust --no-sync >/dev/null
# TLS: a throwaway CA and a server certificate it signed, for the tests of `sslmode`.
tls() { as_owner openssl "$@" 2>/dev/null; }
tls req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=gatehouse-test-ca \
  -keyout "$dir/ca.key" -out "$dir/ca.crt"
tls req -newkey rsa:2048 -nodes -subj /CN=localhost -keyout "$dir/data/server.key" -out "$dir/server.csr"
printf 'basicConstraints=CA:FALSE\nsubjectAltName=DNS:localhost,IP:127.0.0.1\n' > "$dir/server.ext"
tls x509 -req -in "$dir/server.csr" -CA "$dir/ca.crt" -CAkey "$dir/ca.key" -CAcreateserial -days 1 \
  -extfile "$dir/server.ext" -out "$dir/data/server.crt"
as_owner chmod 600 "$dir/data/server.key"
as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/log" -w -o "-c listen_addresses=127.0.0.1 -p $port -k $dir \
  $durability -c max_connections=300 -c ssl=on" start >/dev/null

export GATEHOUSE_TEST_POSTGRES="postgres://gatehouse@127.0.0.1:$port"
export GATEHOUSE_TEST_POSTGRES_CA="$dir/ca.crt"
echo "PostgreSQL $("$bin/postgres" --version | awk '{print $3}') on 127.0.0.1:$port"
"$@"
