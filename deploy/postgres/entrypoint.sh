#!/usr/bin/env bash
# Starts Postgres in the foreground. On the first start (an empty $PGDATA)
# it runs initdb and creates $POSTGRES_USER with $POSTGRES_PASSWORD and
# the database $POSTGRES_DB owned by it. Runs as the postgres user.
set -euo pipefail

# Debian installs the server under a versioned directory; take the newest.
bindir=$(find /usr/lib/postgresql -mindepth 2 -maxdepth 2 -name bin -type d | sort -V | tail -n 1)
[[ -x $bindir/postgres ]] || { echo "no postgres server under /usr/lib/postgresql" >&2; exit 1; }
export PATH=$bindir:$PATH

if [[ ! -s $PGDATA/PG_VERSION ]]; then
	echo "corral-postgres: initializing $PGDATA"
	initdb -D "$PGDATA" -U postgres -E UTF8 --locale=C \
		--auth-local=peer --auth-host=scram-sha-256 >/dev/null
	# Accept password logins from the networks this container is on (the
	# compose network), whatever addresses it was given.
	echo 'host all all samenet scram-sha-256' >>"$PGDATA/pg_hba.conf"
	echo "listen_addresses = '*'" >>"$PGDATA/postgresql.conf"

	# A server on the socket only, so that nothing (not even the health
	# check, which uses TCP) sees it before the user and database exist.
	pg_ctl -D "$PGDATA" -o "-c listen_addresses=''" -w start >/dev/null
	psql -v ON_ERROR_STOP=1 -q -U postgres -d postgres \
		-v user="$POSTGRES_USER" -v password="$POSTGRES_PASSWORD" -v db="$POSTGRES_DB" <<'SQL'
CREATE ROLE :"user" LOGIN PASSWORD :'password';
CREATE DATABASE :"db" OWNER :"user";
SQL
	pg_ctl -D "$PGDATA" -m fast -w stop >/dev/null
	echo "corral-postgres: created database $POSTGRES_DB for user $POSTGRES_USER"
fi

exec postgres -D "$PGDATA"
