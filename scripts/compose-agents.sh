#!/usr/bin/env bash
# What the compose cluster's agents need from the host, and leave on it
# (see "Agents and Docker" in docker-compose.yml):
#
#   scripts/compose-agents.sh socket
#       prints the Docker engine's socket to mount into the agents: the
#       one DOCKER_HOST names (unix://), else /var/run/docker.sock, when
#       it is a socket; else /dev/null (the agents then run processes only)
#
#   scripts/compose-agents.sh clean [--drop] [ROOT]
#       once the cluster is down: removes the Docker containers its agents
#       started (the engine runs them outside the compose project, so
#       `docker compose down` leaves them), found by the label the agents
#       give them; with --drop also the agents' work dirs, ROOT/agent-*,
#       and ROOT when that leaves it empty. ROOT is CORRAL_AGENT_ROOT,
#       default /var/lib/corral-compose. The work dirs hold root's files:
#       a caller other than root removes them in a container of
#       CORRAL_IMAGE (default corral:local).
#
# make up, make down and scripts/compose-test.sh use it.
set -euo pipefail

log() { printf 'compose-agents: %s\n' "$*" >&2; }

socket() {
	local s=/var/run/docker.sock
	case ${DOCKER_HOST:-} in
	unix://*) s=${DOCKER_HOST#unix://} ;;
	esac
	if [[ -S $s ]]; then echo "$s"; else echo /dev/null; fi
}

clean() {
	local drop=
	if [[ ${1:-} == --drop ]]; then
		drop=1
		shift
	fi
	local root=${1:-${CORRAL_AGENT_ROOT:-/var/lib/corral-compose}}
	root=${root%/}
	[[ $root == /?* ]] || { log "the agents' root $root is not an absolute path"; exit 2; }
	[[ -d $root ]] || return 0
	local dir key ids dirs=()
	for dir in "$root"/agent-*; do
		[[ -d $dir ]] && dirs+=("$dir")
	done
	for dir in "${dirs[@]}"; do
		# The agent labels its containers corral.agent=<key>, the first 8
		# hex digits of the SHA-256 of its work dir.
		key=$(printf %s "$dir" | sha256sum | cut -c1-8)
		ids=$(docker ps -aq --filter "label=corral.agent=$key")
		if [[ -n $ids ]]; then
			# shellcheck disable=SC2086 # one id a word
			docker rm -f $ids >/dev/null
			log "removed the containers of the agent in $dir: $(wc -w <<<"$ids")"
		fi
	done
	[[ -n $drop ]] || return 0
	if [[ $(id -u) -eq 0 ]]; then
		rm -rf "${dirs[@]}"
		rmdir "$root" 2>/dev/null || true
	else
		docker run --rm --entrypoint /bin/sh -v "$(dirname "$root"):/parent" "${CORRAL_IMAGE:-corral:local}" \
			-c 'rm -rf "$1"/agent-*; rmdir "$1" 2>/dev/null || true' sh "/parent/$(basename "$root")"
	fi
	log "removed the agents' work dirs in $root"
}

case ${1:-} in
socket) socket ;;
clean)
	shift
	clean "$@"
	;;
*)
	echo "usage: $0 socket | clean [--drop] [ROOT]" >&2
	exit 2
	;;
esac
