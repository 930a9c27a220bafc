#!/usr/bin/env bash
# Runs a local corral in the foreground: Postgres (unless CORRAL_DB names
# one), the migrations, one master, one agent and both frameworks.
# Ctrl-C stops everything it started. Called by `make run`, which builds
# bin/corral first.
#
# Environment:
#   CORRAL_DB        postgres:// URL to use instead of a local Postgres
#   CORRAL_PG_PORT   port of the local Postgres (default 55432)
#   CORRAL_RUN_DIR   state directory (default ./.run): pg/, agent/, logs
set -euo pipefail

cd "$(dirname "$0")/.."
BIN=$PWD/bin/corral
RUN_DIR=${CORRAL_RUN_DIR:-$PWD/.run}
PG_PORT=${CORRAL_PG_PORT:-55432}
MASTER_LISTEN=127.0.0.1:5050
MASTER_URL=http://$MASTER_LISTEN

log() { printf 'run-local: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

[[ -x $BIN ]] || die "$BIN is missing; run 'make build' (or 'make run')"
mkdir -p "$RUN_DIR"

# as_pg runs a command as the postgres OS user when we are root, since
# Postgres refuses to run as root.
as_pg() {
	if [[ $(id -u) -eq 0 ]]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

find_pg_bindir() {
	local d
	if command -v pg_config >/dev/null; then
		d=$(pg_config --bindir)
		if [[ -x $d/initdb && -x $d/pg_ctl ]]; then echo "$d"; return; fi
	fi
	for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
		if [[ -x $d/initdb && -x $d/pg_ctl ]]; then echo "$d"; return; fi
	done
	if command -v initdb >/dev/null && command -v pg_ctl >/dev/null; then
		dirname "$(readlink -f "$(command -v pg_ctl)")"
		return
	fi
	return 1
}

pids=()
PG_BIN= PG_DATA=
cleanup() {
	trap - EXIT INT TERM
	local p
	for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	if [[ -n $PG_DATA ]]; then
		log "stopping Postgres"
		as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" -m fast -w stop >/dev/null || true
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [[ -z ${CORRAL_DB:-} ]]; then
	PG_BIN=$(find_pg_bindir) || die "no PostgreSQL server binaries found; install them (apt-get install postgresql) or set CORRAL_DB"
	pg_dir=$RUN_DIR/pg
	if [[ $(id -u) -eq 0 ]]; then
		id postgres >/dev/null 2>&1 || die "running as root needs a 'postgres' OS user to run Postgres as"
		mkdir -p "$pg_dir"
		chown postgres: "$pg_dir"
		if ! runuser -u postgres -- test -w "$pg_dir"; then
			# The repository sits where the postgres user cannot reach.
			pg_dir=${TMPDIR:-/tmp}/corral-run-pg-$(id -u)
			mkdir -p "$pg_dir"
			chown postgres: "$pg_dir"
			log "postgres cannot reach $RUN_DIR; keeping its data in $pg_dir"
		fi
	else
		mkdir -p "$pg_dir"
	fi
	chmod 700 "$pg_dir"
	data=$pg_dir/data
	if [[ ! -f $data/PG_VERSION ]]; then
		log "initializing Postgres in $data"
		as_pg "$PG_BIN/initdb" -D "$data" -U postgres --auth=trust -E UTF8 --locale=C >"$pg_dir/initdb.log" 2>&1 ||
			die "initdb failed; see $pg_dir/initdb.log"
	fi
	if as_pg "$PG_BIN/pg_ctl" -D "$data" status >/dev/null 2>&1; then
		die "a Postgres already runs in $data (another 'make run'?)"
	fi
	log "starting Postgres on 127.0.0.1:$PG_PORT"
	as_pg "$PG_BIN/pg_ctl" -D "$data" -l "$pg_dir/postgres.log" -w \
		-o "-p $PG_PORT -h 127.0.0.1 -k $pg_dir" start >/dev/null ||
		die "Postgres did not start; see $pg_dir/postgres.log"
	PG_DATA=$data
	as_pg "$PG_BIN/psql" -q -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres -tAc \
		"SELECT 1 FROM pg_database WHERE datname = 'corral'" | grep -q 1 ||
		as_pg "$PG_BIN/createdb" -h 127.0.0.1 -p "$PG_PORT" -U postgres corral
	CORRAL_DB="postgres://postgres@127.0.0.1:$PG_PORT/corral?sslmode=disable"
fi

log "applying migrations"
"$BIN" migrate up --db "$CORRAL_DB"

log "starting master on $MASTER_URL"
"$BIN" master --db "$CORRAL_DB" --listen "$MASTER_LISTEN" &
pids+=($!)

# Wait for the master's port before starting the agent.
for _ in $(seq 100); do
	if (exec 3<>"/dev/tcp/${MASTER_LISTEN%:*}/${MASTER_LISTEN#*:}") 2>/dev/null; then break; fi
	kill -0 "${pids[0]}" 2>/dev/null || die "master exited during startup"
	sleep 0.1
done

log "starting agent (work dir $RUN_DIR/agent)"
mkdir -p "$RUN_DIR/agent"
"$BIN" agent --master "$MASTER_URL" --work_dir "$RUN_DIR/agent" &
pids+=($!)

log "starting services (Marathon API on http://127.0.0.1:8080)"
"$BIN" services --master "$MASTER_URL" --db "$CORRAL_DB" --http 127.0.0.1:8080 --advertise http://127.0.0.1:8080 &
pids+=($!)

log "starting jobs (jobs API on http://127.0.0.1:4400)"
"$BIN" jobs --master "$MASTER_URL" --db "$CORRAL_DB" --http 127.0.0.1:4400 --advertise http://127.0.0.1:4400 &
pids+=($!)

log "up: master $MASTER_URL, services http://127.0.0.1:8080, jobs http://127.0.0.1:4400, database $CORRAL_DB; Ctrl-C to stop"
# Stop everything as soon as either process exits.
set +e
wait -n "${pids[@]}"
status=$?
log "a process exited (status $status); stopping the rest"
exit "$status"
