#!/usr/bin/env bash
# Proves that docker-compose.yml gives a working HA cluster: builds the
# images, starts the whole compose project, and checks it from the host
# through the published ports (and, where only the compose network
# reaches, from inside a container):
#
#   1. the masters elect a leader; it has both agents and both frameworks
#   2. the services and jobs APIs answer (/ping)
#   3. an app (python3 -m http.server, 2 instances, one per agent, HTTP
#      health check) gets 2 running, healthy tasks that serve HTTP
#   4. a Docker app (an image built here from the host's static busybox,
#      httpd, 2 instances, BRIDGE network, host port 0 mapped, HTTP health
#      check) gets 2 healthy tasks, one on each agent, that serve HTTP on
#      their mapped ports, from the host and across the compose network;
#      deleted, it leaves no container of the agents behind. Skipped when
#      the agents get no engine socket (scripts/compose-agents.sh socket)
#   5. a job triggered by hand and a job on a schedule each finish a
#      successful run
#   6. the console on the published master port: its page, the frameworks
#      behind it, the job's stdout from the agent's sandbox
#   7. the leading master is killed: another leads, with both agents and
#      both frameworks, and the app keeps its 2 tasks
#
# The project is torn down (volumes, the agents' work dirs and containers
# too) whatever happens; on a failure the containers' logs are printed
# first. `make test-compose` runs it.
#
# Where the Docker engine cannot pull images, the base images are made
# from Debian's packages first (scripts/compose-base-images.sh), and where
# build containers cannot reach the Go module proxy, the host's modules
# are handed to the build (scripts/compose-go-modules.sh).
#
# Environment:
#   CORRAL_TEST_CONSOLE_PORT   host port for master-1 (default 25050)
#   CORRAL_TEST_SERVICES_PORT  host port for services-1 (default 28080)
#   CORRAL_TEST_JOBS_PORT      host port for jobs-1 (default 24400)
#   CORRAL_TEST_DNS_PORT       host port of master-1's DNS; masters 2 and 3
#                              get the next two (default 25353)
#   CORRAL_TEST_TASK_PORTS     the agents' task port range, split between them
#                              (default 29000-29999; Docker tasks publish theirs on the host)
#   CORRAL_TEST_NO_DOCKER      1: give the agents no engine socket (they run processes
#                              only) and skip step 4
#   CORRAL_TEST_NO_FAILOVER    1: skip step 7
#   CORRAL_TEST_CGROUPS        1: also apply deploy/compose.cgroups.yml and check
#                              that the agents use cgroups (needs a host that allows it)
#   CORRAL_TEST_KEEP           1: leave the project running at the end (for a look around)
set -euo pipefail

cd "$(dirname "$0")/.."

# Ports other than the defaults, so that a cluster already running on
# this machine (make up, make run) does not collide with the test's.
CONSOLE_PORT=${CORRAL_TEST_CONSOLE_PORT:-25050}
SERVICES_PORT=${CORRAL_TEST_SERVICES_PORT:-28080}
JOBS_PORT=${CORRAL_TEST_JOBS_PORT:-24400}
DNS_PORT=${CORRAL_TEST_DNS_PORT:-25353}
MASTER=https://127.0.0.1:$CONSOLE_PORT
SERVICES=https://127.0.0.1:$SERVICES_PORT
JOBS=https://127.0.0.1:$JOBS_PORT
# The project name carries our pid, so that a later run can tell a
# project left behind by a killed run from one still in use.
PROJECT_PREFIX=corral-compose-test-
PROJECT=$PROJECT_PREFIX$$
# The agents' work dirs, on the host at the same path as in their
# containers (see docker-compose.yml), and the Docker app's image: this
# run's own, like the project.
AGENT_ROOT=/var/lib/$PROJECT
TEST_IMAGE=corral-compose-test/busybox:$$
TASK_PORTS=${CORRAL_TEST_TASK_PORTS:-29000-29999}

started=$SECONDS
passed=0
failed=0
workdir=$(mktemp -d "${TMPDIR:-/tmp}/corral-compose-test-XXXXXX")

log() { printf 'compose-test: %s\n' "$*" >&2; }
elapsed() { echo "$((SECONDS - started))s"; }
pass() {
	passed=$((passed + 1))
	log "ok   $* [$(elapsed)]"
}
fail() {
	failed=$((failed + 1))
	log "FAIL $* [$(elapsed)]"
	exit 1
}

if docker compose version >/dev/null 2>&1; then
	COMPOSE=(docker compose)
elif command -v docker-compose >/dev/null; then
	COMPOSE=(docker-compose)
else
	COMPOSE=()
fi

COMPOSE_FILES=(-f docker-compose.yml)
if [[ ${CORRAL_TEST_CGROUPS:-} == 1 ]]; then
	COMPOSE_FILES+=(-f deploy/compose.cgroups.yml)
	# The agents' cgroups on the host, apart from any other cluster's, so
	# that the teardown can remove what the killed tasks leave behind.
	export CORRAL_CGROUP_PREFIX=$PROJECT
fi
compose() { "${COMPOSE[@]}" -p "$PROJECT" "${COMPOSE_FILES[@]}" "$@"; }

project_up=
finish() {
	local rc=$?
	trap - EXIT
	if [[ -n $project_up ]]; then
		if ((rc != 0)); then
			log "--- logs of the failed cluster ---"
			compose logs --no-color --tail 200 2>&1 || true
			log "--- end of logs ---"
		fi
		if [[ ${CORRAL_TEST_KEEP:-} == 1 ]]; then
			log "leaving project $PROJECT running (CORRAL_TEST_KEEP=1); stop it with:" \
				"${COMPOSE[*]} -p $PROJECT down -v && scripts/compose-agents.sh clean --drop $AGENT_ROOT"
		else
			log "tearing down $PROJECT"
			compose down -v --remove-orphans >"$workdir/down.log" 2>&1 || { cat "$workdir/down.log" >&2; rc=1; }
			scripts/compose-agents.sh clean --drop "$AGENT_ROOT" 2>"$workdir/clean.log" || { cat "$workdir/clean.log" >&2; rc=1; }
			if [[ -n ${CORRAL_CGROUP_PREFIX:-} ]]; then
				# Only empty cgroups can be removed: nothing that runs is touched.
				find /sys/fs/cgroup -depth -type d \( -path "*/$CORRAL_CGROUP_PREFIX" -o -path "*/$CORRAL_CGROUP_PREFIX/*" \) \
					-exec rmdir {} + 2>/dev/null || true
			fi
		fi
	fi
	if [[ ${CORRAL_TEST_KEEP:-} != 1 ]]; then
		docker rmi "$TEST_IMAGE" >/dev/null 2>&1 || true
	fi
	rm -rf "$workdir"
	# The plain summary line CI reads.
	if ((rc != 0 && failed == 0)); then failed=1; fi
	printf 'compose: %d passed, %d failed\n' "$passed" "$failed"
	log "$( ((rc == 0)) && echo passed || echo failed) in $(elapsed)"
	exit "$rc"
}
trap finish EXIT
trap 'exit 130' INT TERM

# --- prerequisites --------------------------------------------------------

command -v docker >/dev/null || fail "docker is not installed"
((${#COMPOSE[@]})) || fail "neither 'docker compose' nor 'docker-compose' is installed"
for tool in curl jq; do
	command -v "$tool" >/dev/null || fail "$tool is not installed"
done
docker info >/dev/null 2>&1 || fail "the Docker daemon is not reachable (is it running? may this user use it?)"
log "using ${COMPOSE[*]} ($("${COMPOSE[@]}" version --short 2>/dev/null || echo unknown version))"

# Projects of earlier runs whose script is gone (killed, or the machine
# lost power) still hold their containers, ports and the agents' work
# dirs: remove them.
for p in $( (docker ps -a --format '{{.Label "com.docker.compose.project"}}' && ls /var/lib) | sort -u | grep -E "^${PROJECT_PREFIX}[0-9]+\$" || true); do
	if ! kill -0 "${p#"$PROJECT_PREFIX"}" 2>/dev/null; then
		log "removing $p, left behind by an earlier run"
		"${COMPOSE[@]}" -p "$p" "${COMPOSE_FILES[@]}" down -v --remove-orphans >/dev/null 2>&1 || true
		scripts/compose-agents.sh clean --drop "/var/lib/$p" >/dev/null 2>&1 || true
		docker rmi "corral-compose-test/busybox:${p#"$PROJECT_PREFIX"}" >/dev/null 2>&1 || true
	fi
done

for port in "$CONSOLE_PORT" "$SERVICES_PORT" "$JOBS_PORT" "$DNS_PORT" $((DNS_PORT + 1)) $((DNS_PORT + 2)); do
	if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
		fail "port $port on 127.0.0.1 is taken; pick others with CORRAL_TEST_*_PORT"
	fi
done

scripts/compose-base-images.sh || fail "making the base images"

# A build container reaches the module proxy if a toolchain container
# does; if not, the build takes the modules from this host.
if docker run --rm -e GOPROXY="${CORRAL_GOPROXY:-}" golang:1.26-bookworm \
	timeout 60 go list -m github.com/go-chi/chi/v5@latest >"$workdir/probe.log" 2>&1; then
	log "build containers reach the Go module proxy"
else
	log "build containers cannot reach the Go module proxy ($(tail -n 1 "$workdir/probe.log")); using this host's module cache"
	CORRAL_GO_MODULES_IMAGE=$(scripts/compose-go-modules.sh 2>"$workdir/gomod.log") || {
		cat "$workdir/gomod.log" >&2
		fail "making the Go modules image"
	}
	export CORRAL_GO_MODULES_IMAGE
fi

# --- start the cluster ----------------------------------------------------

export CORRAL_CONSOLE_PORT=$CONSOLE_PORT CORRAL_SERVICES_PORT=$SERVICES_PORT CORRAL_JOBS_PORT=$JOBS_PORT
export CORRAL_DNS1_PORT=$DNS_PORT CORRAL_DNS2_PORT=$((DNS_PORT + 1)) CORRAL_DNS3_PORT=$((DNS_PORT + 2))
export CORRAL_BIND=127.0.0.1
# Task ports apart from a cluster of make up's (31000-31999): Docker tasks
# publish theirs on the host.
if ! [[ $TASK_PORTS =~ ^([0-9]+)-([0-9]+)$ ]] || ((BASH_REMATCH[2] <= BASH_REMATCH[1])); then
	fail "CORRAL_TEST_TASK_PORTS=$TASK_PORTS: want a range like 29000-29999"
fi
ports_split=$(((BASH_REMATCH[1] + BASH_REMATCH[2] + 1) / 2))
export CORRAL_AGENT1_PORTS=${BASH_REMATCH[1]}-$((ports_split - 1)) CORRAL_AGENT2_PORTS=$ports_split-${BASH_REMATCH[2]}
export CORRAL_AGENT_ROOT=$AGENT_ROOT
if [[ ${CORRAL_TEST_NO_DOCKER:-} == 1 ]]; then
	CORRAL_ENGINE_SOCKET=/dev/null
else
	CORRAL_ENGINE_SOCKET=$(scripts/compose-agents.sh socket)
fi
export CORRAL_ENGINE_SOCKET
log "agents: work dirs in $AGENT_ROOT, task ports $CORRAL_AGENT1_PORTS and $CORRAL_AGENT2_PORTS, engine socket $CORRAL_ENGINE_SOCKET"
CORRAL_VERSION=$(git describe --tags --always --dirty 2>/dev/null || echo dev)
export CORRAL_VERSION

log "building the images and starting project $PROJECT (output in the logs on failure)"
project_up=1
if ! compose up -d --build >"$workdir/up.log" 2>&1; then
	tail -n 60 "$workdir/up.log" >&2
	fail "docker compose up"
fi
pass "images built, project started"

# The cluster is secured: every call below goes as the operator, over TLS
# verified with the development CA that secure-init made.
# (docker cp, which both Compose v1 and v2 can use, from the exited
# secure-init container.)
init_id=$(docker ps -aq --filter "label=com.docker.compose.project=$PROJECT" --filter label=com.docker.compose.service=secure-init | head -n 1)
[[ -n $init_id ]] || fail "no secure-init container in project $PROJECT"
docker cp "$init_id:/secure/ops.json" "$workdir/ops.json" >/dev/null 2>&1 &&
	docker cp "$init_id:/secure/tls/ca.pem" "$workdir/ca.pem" >/dev/null 2>&1 ||
	fail "taking the operator's credential and the CA out of the secure volume"
OPS_SECRET=$(jq -r .secret "$workdir/ops.json")
curl() { command curl --cacert "$workdir/ca.pem" -u "ops:$OPS_SECRET" "$@"; }
# incurl: curl inside a corral container, as the operator.
incurl=(curl --cacert /secure/tls/ca.pem -u "ops:$OPS_SECRET")

# wait_for DESC SECONDS CMD...: runs CMD every 2s until it succeeds.
wait_for() {
	local desc=$1 limit=$2 deadline
	shift 2
	deadline=$((SECONDS + limit))
	until "$@"; do
		((SECONDS < deadline)) || fail "$desc: not within ${limit}s"
		sleep 2
	done
	pass "$desc"
}

http_ok() { curl -fsS -o /dev/null --max-time 5 "$1" 2>/dev/null; }

# inside SERVICE CMD...: runs CMD in the service's container, on the
# compose network.
inside() {
	local svc=$1
	shift
	compose exec -T "$svc" "$@"
}

# leader_state VIA: the leading master's /state, through the console's
# /console/state on master VIA, which a standby proxies to the leader.
# VIA "published" asks master-1 through the host port, as a browser would.
leader_state() {
	if [[ $1 == published ]]; then
		curl -fsS --max-time 5 "$MASTER/console/state" 2>/dev/null
	else
		# A standby may still name a leader that is gone: no noise about it.
		inside "$1" "${incurl[@]}" -fsS --max-time 5 https://127.0.0.1:5050/console/state 2>/dev/null
	fi
}

# cluster_complete VIA: the leader has both agents active and both
# frameworks subscribed.
cluster_complete() {
	local st
	st=$(leader_state "$1") || return 1
	jq -e '.activated_slaves == 2
		and ([.frameworks[] | select(.active) | .name] | (index("services") != null and index("jobs") != null))' \
		>/dev/null <<<"$st"
}

wait_for "master-1 answers /health on $MASTER" 180 http_ok "$MASTER/health"
code=$(command curl -sS -o /dev/null -w '%{http_code}' --max-time 5 --cacert "$workdir/ca.pem" "$MASTER/state") || true
[[ $code == 401 ]] || fail "an anonymous GET $MASTER/state answered $code; want 401"
pass "the cluster speaks TLS and demands credentials (anonymous /state: 401)"
wait_for "a leading master with 2 agents and both frameworks" 180 cluster_complete published
st=$(leader_state published)
leader=$(jq -r '.hostname' <<<"$st")
log "leader: $leader; agents: $(jq -r '[.slaves[] | "\(.hostname) (cgroups \(.cgroups)\(if .cgroups_reason then ": " + .cgroups_reason else "" end))"] | join(", ")' <<<"$st")"
if [[ ${CORRAL_TEST_CGROUPS:-} == 1 ]]; then
	jq -e '[.slaves[] | select(.cgroups == "none")] | length == 0' >/dev/null <<<"$st" ||
		fail "with deploy/compose.cgroups.yml an agent still runs without cgroups"
	pass "both agents use cgroups"
fi
# Each agent's entrypoint says whether it runs DOCKER containers.
if [[ $CORRAL_ENGINE_SOCKET == /dev/null ]]; then want_agent="tasks run as processes only"; else want_agent="a Docker engine answers"; fi
for svc in agent-1 agent-2; do
	said=$(compose logs --no-color "$svc" 2>&1 | grep corral-compose-agent || true)
	[[ $said == *"corral-compose-agent: $want_agent"* ]] ||
		fail "$svc does not log \"$want_agent\": $(tail -n 1 <<<"$said")"
done
pass "both agents: $want_agent"
wait_for "services answers /ping on $SERVICES" 120 http_ok "$SERVICES/ping"
wait_for "jobs answers /ping on $JOBS" 120 http_ok "$JOBS/ping"

# --- an app -----------------------------------------------------------------

# api METHOD URL [BODY]: prints the response body; fails the test unless
# the status is 2xx.
api() {
	local method=$1 url=$2 body=${3:-} code
	code=$(curl -sS --max-time 10 -o "$workdir/body" -w '%{http_code}' -X "$method" \
		-H 'Content-Type: application/json' ${body:+--data "$body"} "$url") || fail "$method $url: no answer"
	[[ $code == 2* ]] || fail "$method $url: HTTP $code: $(head -c 500 "$workdir/body")"
	cat "$workdir/body"
}

# shellcheck disable=SC2016 # $PORT0 is for the task's shell to expand
app='{
  "id": "/compose-hello",
  "cmd": "exec python3 -m http.server $PORT0",
  "instances": 2,
  "cpus": 0.1,
  "mem": 64,
  "portDefinitions": [{"port": 0}],
  "constraints": [["hostname", "UNIQUE"]],
  "healthChecks": [{"protocol": "HTTP", "path": "/", "portIndex": 0,
    "gracePeriodSeconds": 30, "intervalSeconds": 2, "timeoutSeconds": 2, "maxConsecutiveFailures": 3}]
}'
api POST "$SERVICES/v2/apps" "$app" >/dev/null
pass "POST /v2/apps accepted the app"

app_healthy() {
	curl -fsS --max-time 5 "$SERVICES/v2/apps/compose-hello" 2>/dev/null |
		jq -e '.app.tasksRunning == 2 and .app.tasksHealthy == 2' >/dev/null
}
wait_for "the app has 2 running, healthy tasks" 180 app_healthy

tasks=$(api GET "$SERVICES/v2/apps/compose-hello" | jq -r '.app.tasks[] | "\(.host) \(.ports[0])"')
hosts=$(awk '{print $1}' <<<"$tasks" | sort -u | wc -l)
((hosts == 2)) || fail "the app's tasks share an agent despite UNIQUE hostname: $tasks"
# Each task serves HTTP across the compose network (asked from the
# services-2 container, not from the agent's).
while read -r host port; do
	inside services-2 curl -fsS -o /dev/null --max-time 5 "http://$host:$port/" ||
		fail "task on $host:$port does not serve HTTP"
done <<<"$tasks"
pass "both tasks serve HTTP, one on each agent ($(tr '\n' ' ' <<<"$tasks"))"

# --- a Docker app -------------------------------------------------------------

# agent_containers: how many containers (running or not) the project's
# agents have, by the label each agent gives its own.
agent_containers() {
	local n=0 dir key
	for dir in "$AGENT_ROOT"/agent-1 "$AGENT_ROOT"/agent-2; do
		key=$(printf %s "$dir" | sha256sum | cut -c1-8)
		n=$((n + $(docker ps -aq --filter "label=corral.agent=$key" | wc -l)))
	done
	echo "$n"
}

if [[ $CORRAL_ENGINE_SOCKET == /dev/null ]]; then
	log "skipping the Docker app: the agents have no engine socket"
else
	# No registry: the image is a static busybox (Debian's busybox-static),
	# as the Go tests' (internal/dockertest), with httpd serving /www.
	[[ -x /bin/busybox ]] || fail "/bin/busybox is missing: install busybox-static (or set CORRAL_TEST_NO_DOCKER=1)"
	page="hello from a corral compose container"
	img=$workdir/image
	mkdir -p "$img/root/bin" "$img/root/etc" "$img/root/www" "$img/root/tmp"
	chmod 1777 "$img/root/tmp"
	cp /bin/busybox "$img/root/bin/busybox"
	for applet in sh httpd cat echo ls sleep wget; do ln -s busybox "$img/root/bin/$applet"; done
	printf 'root:x:0:0:root:/:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/sh\n' >"$img/root/etc/passwd"
	printf 'root:x:0:\nnogroup:x:65534:\n' >"$img/root/etc/group"
	echo "$page" >"$img/root/www/index.html"
	printf 'FROM scratch\nCOPY root/ /\nCMD ["/bin/sh"]\n' >"$img/Dockerfile"
	docker build -q -t "$TEST_IMAGE" "$img" >"$workdir/image.log" 2>&1 || {
		cat "$workdir/image.log" >&2
		fail "docker build of $TEST_IMAGE"
	}
	pass "built the Docker app's image $TEST_IMAGE (FROM scratch, static busybox)"

	docker_app='{
	  "id": "/compose-docker",
	  "cmd": "exec httpd -f -p 8080 -h /www",
	  "instances": 2,
	  "cpus": 0.1,
	  "mem": 32,
	  "container": {"type": "DOCKER", "docker": {"image": "'$TEST_IMAGE'"},
	    "portMappings": [{"containerPort": 8080, "hostPort": 0, "name": "http"}]},
	  "networks": [{"mode": "container/bridge"}],
	  "constraints": [["hostname", "UNIQUE"]],
	  "healthChecks": [{"protocol": "HTTP", "path": "/", "portIndex": 0,
	    "gracePeriodSeconds": 30, "intervalSeconds": 2, "timeoutSeconds": 2, "maxConsecutiveFailures": 3}]
	}'
	api POST "$SERVICES/v2/apps" "$docker_app" >/dev/null
	pass "POST /v2/apps accepted the Docker app"
	docker_app_healthy() {
		curl -fsS --max-time 5 "$SERVICES/v2/apps/compose-docker" 2>/dev/null |
			jq -e '.app.tasksRunning == 2 and .app.tasksHealthy == 2' >/dev/null
	}
	wait_for "the Docker app has 2 running, healthy tasks (health checked through the agents' addresses)" 180 docker_app_healthy

	tasks=$(api GET "$SERVICES/v2/apps/compose-docker" | jq -r '.app.tasks[] | "\(.host) \(.ports[0])"')
	hosts=$(awk '{print $1}' <<<"$tasks" | sort -u | wc -l)
	((hosts == 2)) || fail "the Docker app's tasks share an agent despite UNIQUE hostname: $tasks"
	while read -r host port; do
		# The engine publishes the mapped port on the host...
		body=$(command curl -fsS --max-time 5 "http://127.0.0.1:$port/") ||
			fail "the Docker task of $host does not serve HTTP on host port $port"
		[[ $body == "$page" ]] || fail "host port $port answered $(printf %q "$body"); want the container's page"
		# ... and the agent forwards it from its address on the compose network.
		body=$(inside services-2 curl -fsS --max-time 5 "http://$host:$port/") ||
			fail "the Docker task does not serve HTTP at $host:$port across the compose network"
		[[ $body == "$page" ]] || fail "$host:$port answered $(printf %q "$body"); want the container's page"
	done <<<"$tasks"
	pass "both Docker tasks serve their page on the host and across the compose network ($(tr '\n' ' ' <<<"$tasks"))"
	n=$(agent_containers)
	((n == 2)) || fail "the agents have $n containers; want the Docker app's 2"

	api DELETE "$SERVICES/v2/apps/compose-docker" >/dev/null
	no_agent_containers() { (($(agent_containers) == 0)); }
	wait_for "the Docker app deleted: no container of the agents remains" 90 no_agent_containers
fi

# --- jobs ---------------------------------------------------------------------

# A job with a far-off schedule runs only when triggered; another runs
# every few seconds on its own.
# shellcheck disable=SC2016 # $(hostname) is for the task's shell to expand
api POST "$JOBS/v1/jobs" '{"name": "compose-manual", "command": "echo hello from $(hostname)",
	"schedule": "R1/2030-01-01T00:00:00Z/PT1H", "cpus": 0.1, "mem": 32}' >/dev/null
api POST "$JOBS/v1/jobs/compose-manual/run" >/dev/null
api POST "$JOBS/v1/jobs" '{"name": "compose-tick", "command": "true", "schedule": "@every 5s", "cpus": 0.1, "mem": 32}' >/dev/null
pass "POST /v1/jobs accepted both jobs, and the manual run"

# job_succeeded NAME TRIGGER: a run of NAME started by TRIGGER succeeded
# with exit status 0. A failed run ends the test at once.
job_succeeded() {
	local runs
	runs=$(curl -fsS --max-time 5 "$JOBS/v1/jobs/$1/runs" 2>/dev/null) || return 1
	if jq -e --arg t "$2" 'any(.[]; .trigger == $t and .state == "FAILED")' >/dev/null <<<"$runs"; then
		fail "job $1 has a failed run: $(jq -c --arg t "$2" '[.[] | select(.trigger == $t and .state == "FAILED")][0]' <<<"$runs")"
	fi
	jq -e --arg t "$2" 'any(.[]; .trigger == $t and .state == "SUCCEEDED" and .exitStatus == 0)' >/dev/null <<<"$runs"
}
wait_for "the triggered job finished a successful run" 120 job_succeeded compose-manual manual
wait_for "the scheduled job finished a successful run" 120 job_succeeded compose-tick schedule

# --- the console ----------------------------------------------------------------

# Through master-1's published port, whichever master leads: the page, the
# frameworks' APIs behind /framework/, and a task's log behind /agent/,
# each proxied across the compose network.
curl -fsS --max-time 5 "$MASTER/" | grep -q '<title>corral console</title>' ||
	fail "the console page at $MASTER/ is not there"
for fw in services jobs; do
	http_ok "$MASTER/framework/$fw/ping" || fail "the console does not reach $fw at $MASTER/framework/$fw/ping"
done
# Where the run's task ran, as the console finds it: in the master's state.
task_id=$(api GET "$JOBS/v1/jobs/compose-manual/runs" | jq -r '[.[] | select(.state == "SUCCEEDED")][0].taskId')
task=$(curl -fsS --max-time 5 "$MASTER/console/state" |
	jq -c --arg id "$task_id" '[.frameworks[] | (.tasks + .completed_tasks)[] | select(.id == $id)][0] // empty') || true
[[ -n $task ]] || fail "the master's state has no task $task_id (the triggered run's)"
stdout=$(curl -fsS --max-time 5 -G --data-urlencode "path=$(jq -r .sandbox <<<"$task")/stdout" --data offset=0 --data length=4096 \
	"$MASTER/agent/$(jq -r .slave_id <<<"$task")/files/read" | jq -r .data) || fail "reading the job's stdout through the console"
[[ $stdout == *"hello from agent-"* ]] || fail "the job's stdout through the console is $(printf %q "$stdout"); want hello from agent-N"
pass "the console serves its page, reaches both frameworks and shows the job's stdout ($stdout)"

# --- master failover ------------------------------------------------------------

if [[ ${CORRAL_TEST_NO_FAILOVER:-} == 1 ]]; then
	log "skipping the master failover (CORRAL_TEST_NO_FAILOVER=1)"
	exit 0
fi

old_id=$(jq -r '.id' <<<"$st")
case $leader in
master-1 | master-2 | master-3) ;;
*) fail "the leader's hostname $leader is not one of the masters' services" ;;
esac
# Ask a master that stays up.
via=master-1
[[ $leader == master-1 ]] && via=master-2
log "killing the leading master, $leader"
failover_start=$SECONDS
compose kill "$leader" >"$workdir/kill.log" 2>&1 || { cat "$workdir/kill.log" >&2; fail "docker compose kill $leader"; }

# new_leader JQ: a master other than the killed one leads, and its
# /state satisfies JQ.
new_leader() {
	local st
	st=$(leader_state "$via") || return 1
	jq -e --arg old "$old_id" ".id != \$old and ($1)" >/dev/null <<<"$st"
}
since_kill() { echo "$((SECONDS - failover_start))s after the kill"; }
wait_for "another master leads" 60 new_leader true
log "  $(since_kill): $(leader_state "$via" | jq -r .hostname)"
wait_for "both agents re-registered with it" 120 new_leader '.activated_slaves == 2'
log "  $(since_kill)"
wait_for "both frameworks re-subscribed with it" 120 cluster_complete "$via"
log "  $(since_kill)"
wait_for "the app still has 2 running, healthy tasks" 60 app_healthy

if [[ $leader != master-1 ]]; then
	# Through the published port too: master-1's console follows the new
	# leader.
	console_follows() { leader_state published | jq -e --arg old "$old_id" '.id != $old' >/dev/null; }
	wait_for "the console on master-1 shows the new leader" 30 console_follows
fi
compose start "$leader" >"$workdir/start.log" 2>&1 || { cat "$workdir/start.log" >&2; fail "docker compose start $leader"; }
wait_for "the killed master is back and healthy" 120 inside "$leader" "${incurl[@]}" -fsS -o /dev/null --max-time 5 https://127.0.0.1:5050/health
