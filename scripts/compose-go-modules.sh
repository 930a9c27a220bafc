#!/usr/bin/env bash
# Builds an image holding the Go modules that go.mod needs, in
# /go/pkg/mod/cache/download, taken from this host's module cache, and
# prints its tag. Passed to the image build as GO_MODULES_IMAGE (compose:
# CORRAL_GO_MODULES_IMAGE), it lets the Dockerfile's `go mod download`
# work without network: for machines whose build containers cannot reach
# the Go module proxy although the host can (a proxy the host trusts and
# containers do not, say).
#
# Only the modules go.mod needs go in, copied into a fresh cache, so the
# image does not grow with whatever else the host's cache holds, and an
# unchanged go.sum yields the same layer (and a cached image build).
#
# Environment:
#   CORRAL_GO_MODULES_TAG  tag of the image (default corral-go-modules:local)
set -euo pipefail

cd "$(dirname "$0")/.."
TAG=${CORRAL_GO_MODULES_TAG:-corral-go-modules:local}

log() { printf 'go-modules: %s\n' "$*" >&2; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/corral-gomod-XXXXXX")
cleanup() {
	# The module cache is read-only by design; make it removable.
	chmod -R u+w "$tmp" 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT

# First fill the host's own cache (from the network if it lacks
# something), then copy what go.mod needs into a fresh one, offline.
host_cache=$(go env GOMODCACHE)
go mod download
GOMODCACHE=$tmp/mod GOPROXY=file://$host_cache/cache/download go mod download

mkdir "$tmp/ctx"
mv "$tmp/mod/cache/download" "$tmp/ctx/download"
# .lock files are the host's bookkeeping, not module content.
find "$tmp/ctx/download" -name '*.lock' -delete
# A fixed time, so that the same modules give the same layer.
find "$tmp/ctx/download" -exec touch -h -d @0 {} +
cat >"$tmp/ctx/Dockerfile" <<'EOF'
FROM scratch
COPY download /go/pkg/mod/cache/download
EOF
log "building $TAG ($(du -sh "$tmp/ctx/download" | cut -f1) of modules)"
# (The build's stderr is only the legacy builder's deprecation notice,
# unless it fails.)
docker build -q -t "$TAG" "$tmp/ctx" >/dev/null 2>"$tmp/build.log" || {
	cat "$tmp/build.log" >&2
	exit 1
}
echo "$TAG"
