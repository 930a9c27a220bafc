#!/usr/bin/env bash
# dist.sh VERSION [OUTDIR]: the release build. For linux/amd64 and
# linux/arm64 it builds static binaries of corral and corral-logger with
# VERSION compiled in, packs each platform as
# OUTDIR/corral-VERSION-linux-ARCH.tar.gz (a directory of that name holding
# both binaries, README.md and LICENSE when there is one), and writes
# OUTDIR/SHA256SUMS over the archives. OUTDIR defaults to dist/VERSION.
# Go modules come through Go's own proxy settings (GOPROXY overrides).
set -euo pipefail
cd "$(dirname "$0")/.."

version=${1:?usage: scripts/dist.sh VERSION [OUTDIR]}
out=${2:-dist/$version}
go=${GO:-go}
platforms=${DIST_PLATFORMS:-linux/amd64 linux/arm64}

rm -rf "$out"
mkdir -p "$out"
for p in $platforms; do
	os=${p%/*} arch=${p#*/}
	name=corral-$version-$os-$arch
	dir=$out/$name
	mkdir -p "$dir"
	echo "dist: building $name"
	# CGO off: static binaries that run on any distribution of the
	# platform; -trimpath and no build id: the same source gives the same
	# bytes.
	CGO_ENABLED=0 GOOS=$os GOARCH=$arch "$go" build -trimpath -buildvcs=false \
		-ldflags "-s -w -buildid= -X main.version=$version" -o "$dir/corral" ./cmd/corral
	CGO_ENABLED=0 GOOS=$os GOARCH=$arch "$go" build -trimpath -buildvcs=false \
		-ldflags "-s -w -buildid=" -o "$dir/corral-logger" ./cmd/corral-logger
	cp README.md "$dir/"
	[[ -f LICENSE ]] && cp LICENSE "$dir/"
	# A fixed owner and time in the archive, so that it too is reproducible.
	tar --sort=name --owner=0 --group=0 --numeric-owner --mtime='@0' \
		-C "$out" -czf "$out/$name.tar.gz" "$name"
	rm -rf "$dir"
done
(cd "$out" && sha256sum -- *.tar.gz > SHA256SUMS)
echo "dist: $out"
cat "$out/SHA256SUMS"
