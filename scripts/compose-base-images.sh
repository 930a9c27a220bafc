#!/usr/bin/env bash
# Makes the base images that the Dockerfiles start FROM, on a machine whose
# Docker engine cannot pull images (no registry) but which reaches Debian's
# archive:
#
#   debian:bookworm-slim    a debootstrap --variant=minbase root, trimmed
#                           like the official slim image, imported as is
#   golang:1.26-bookworm    that image plus ca-certificates and this
#                           machine's Go toolchain at /usr/local/go
#
# The golang tag is read from the Dockerfile's build stage, and the host's
# Go must be that version. An image that already exists is left alone, so
# a second run costs nothing, and one that `docker pull` can fetch is
# pulled instead of made.
#
# Environment:
#   CORRAL_DEBIAN_MIRROR  Debian mirror for debootstrap and the image's apt
#                         (default: the archive this host's apt uses, with
#                         its sources copied into the image)
#   CORRAL_BASE_REBUILD   1: make the images again even if they exist
set -euo pipefail

cd "$(dirname "$0")/.."
# host_mirror is the first Debian archive this host's apt fetches from.
host_mirror() {
	{
		grep -hE '^URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '{print $2}'
		grep -hE '^deb ' /etc/apt/sources.list 2>/dev/null | awk '{print $2}'
	} | grep -v -- '-security' | head -n 1 || true
}
MIRROR=${CORRAL_DEBIAN_MIRROR:-$(host_mirror)}
SUITE=bookworm
DEBIAN_IMAGE=debian:bookworm-slim
GO_IMAGE=$(awk '$1 == "FROM" && $2 ~ /^golang:/ { print $2; exit }' Dockerfile)
[[ -n $GO_IMAGE ]] || { echo "base-images: no 'FROM golang:...' stage in Dockerfile" >&2; exit 1; }
LABEL=org.corral.base-image=local

log() { printf 'base-images: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

as_root() {
	if [[ $(id -u) -eq 0 ]]; then "$@"; else sudo -n "$@"; fi
}

have_image() {
	[[ ${CORRAL_BASE_REBUILD:-} != 1 ]] && docker image inspect "$1" >/dev/null 2>&1
}

tmp=
cleanup() {
	# The root file system belongs to root, so remove it as root.
	if [[ -n $tmp ]]; then as_root rm -rf "$tmp"; fi
}
trap cleanup EXIT

make_debian() {
	command -v debootstrap >/dev/null || die "debootstrap is not installed (apt-get install debootstrap)"
	tmp=$(mktemp -d "${TMPDIR:-/tmp}/corral-base-XXXXXX")
	local root=$tmp/root
	log "debootstrap $SUITE from ${MIRROR:-the default archive of debootstrap} (about half a minute)"
	as_root debootstrap --variant=minbase "$SUITE" "$root" ${MIRROR:+"$MIRROR"} >"$tmp/debootstrap.log" 2>&1 || {
		tail -n 30 "$tmp/debootstrap.log" >&2
		die "debootstrap failed"
	}
	# Make it look like the official slim image to the Dockerfiles: the
	# same three suites (so apt-get finds security updates), no docs, man
	# pages or translations installed, and no package caches.
	as_root rm -f "$root/etc/apt/sources.list"
	if [[ -z ${CORRAL_DEBIAN_MIRROR:-} ]]; then
		# The archives this host uses, security updates included.
		for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
			if [[ -f $f ]]; then as_root cp "$f" "$root$f"; fi
		done
	else
		as_root tee "$root/etc/apt/sources.list.d/debian.sources" >/dev/null <<EOF
Types: deb
URIs: $MIRROR
Suites: $SUITE $SUITE-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: ${MIRROR%/debian}/debian-security
Suites: $SUITE-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
	fi
	as_root tee "$root/etc/dpkg/dpkg.cfg.d/docker" >/dev/null <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
path-exclude /usr/share/lintian/*
EOF
	as_root find "$root/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
	as_root rm -rf "$root"/usr/share/{man,info,groff,lintian}/* "$root"/var/cache/apt/archives/*.deb \
		"$root"/var/cache/apt/*.bin "$root"/var/lib/apt/lists/* "$root"/var/log/* "$root"/tmp/*
	log "importing $DEBIAN_IMAGE"
	as_root tar --numeric-owner -C "$root" -c . |
		docker import --change 'CMD ["bash"]' --change "LABEL $LABEL" - "$DEBIAN_IMAGE" >/dev/null
	as_root rm -rf "$tmp"
	tmp=
}

make_golang() {
	local goroot version want
	command -v go >/dev/null || die "go is not installed; $GO_IMAGE is made from the host's toolchain"
	goroot=$(go env GOROOT)
	version=$(go env GOVERSION)
	want=${GO_IMAGE#golang:}
	want=${want%%-*}
	[[ $version == "go$want" || $version == "go$want".* ]] ||
		die "the host has $version, but the Dockerfile builds with $GO_IMAGE; install Go $want or pull the image"
	tmp=$(mktemp -d "${TMPDIR:-/tmp}/corral-base-XXXXXX")
	# The same environment as the official image: GOPATH /go, the
	# toolchain in PATH, and no automatic toolchain downloads.
	cat >"$tmp/Dockerfile" <<EOF
FROM $DEBIAN_IMAGE
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates && rm -rf /var/lib/apt/lists/*
ENV GOLANG_VERSION=${version#go} GOTOOLCHAIN=local GOPATH=/go
ENV PATH=/go/bin:/usr/local/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
COPY go /usr/local/go
RUN mkdir -p /go/src /go/bin && go version
WORKDIR /go
LABEL $LABEL
EOF
	log "building $GO_IMAGE from $DEBIAN_IMAGE and $version at $goroot"
	# The context is a tar stream: the Dockerfile plus the toolchain (its
	# own test suite left out), so nothing is copied on disk first.
	tar -c -C "$tmp" Dockerfile -C "$(dirname "$goroot")" --exclude="$(basename "$goroot")/test" \
		--transform "s,^$(basename "$goroot"),go," "$(basename "$goroot")" |
		docker build -q -t "$GO_IMAGE" - >/dev/null 2>"$tmp/build.log" || {
		cat "$tmp/build.log" >&2
		die "building $GO_IMAGE failed"
	}
	rm -rf "$tmp"
	tmp=
}

docker info >/dev/null 2>&1 || die "the Docker daemon is not reachable (is it running, may this user use it?)"
# pulled IMAGE: the registry gave us IMAGE. Where there is none, this
# fails at once.
pulled() {
	[[ ${CORRAL_BASE_REBUILD:-} != 1 ]] && docker pull -q "$1" >/dev/null 2>&1 && log "pulled $1"
}

if have_image "$DEBIAN_IMAGE"; then
	log "$DEBIAN_IMAGE exists"
elif ! pulled "$DEBIAN_IMAGE"; then
	make_debian
fi
if have_image "$GO_IMAGE"; then
	log "$GO_IMAGE exists"
elif ! pulled "$GO_IMAGE"; then
	make_golang
fi
