# The corral image: one static binary for every role (master, agent,
# services, jobs, migrate), on a small Debian with what tasks commonly need.
# docker-compose.yml builds it; `docker build -t corral .` works as well.

# An image whose /go holds Go modules downloaded already. Unset or empty,
# it is the toolchain image itself (an empty GOPATH), and the build
# downloads every module. Where build containers cannot reach a module
# proxy, name an image that carries the module cache in /go/pkg/mod (the
# compose test makes one from the host's cache): the build then needs no
# network.
ARG GO_MODULES_IMAGE
FROM ${GO_MODULES_IMAGE:-golang:1.26-bookworm} AS modules

# --- build stage --------------------------------------------------------
FROM golang:1.26-bookworm AS build

# Where modules come from: unset or empty, the go tool's default; set it
# for a mirror or an internal proxy.
ARG GOPROXY
ENV GOPROXY=${GOPROXY} CGO_ENABLED=0 GOFLAGS=-buildvcs=false

COPY --from=modules /go /go
WORKDIR /src
# Modules first, in their own layer, so that a source change does not
# download them again.
COPY go.mod go.sum ./
RUN go mod download

COPY . .
# VERSION is what `corral version` and /state report; the Makefile passes
# `git describe` (the build context has no .git to ask).
ARG VERSION=dev
# The compile cache is dropped in the same step: kept, it would make each
# build's layer some 300 MB larger, and no later build could reuse it.
RUN go build -trimpath \
	-ldflags "-s -w -X main.version=${VERSION}" \
	-o /out/corral ./cmd/corral \
	&& go build -trimpath -ldflags "-s -w" -o /out/corral-logger ./cmd/corral-logger \
	&& go clean -cache

# --- runtime stage ------------------------------------------------------
FROM debian:bookworm-slim

# tini runs as PID 1 so that orphaned task processes (a task's own
# children whose parent exited) are reaped instead of piling up as
# zombies, and so that SIGTERM reaches corral.
# python3, procps, curl and ca-certificates are what tasks and health
# checks commonly use: the example app is `python3 -m http.server $PORT0`,
# and compose's health checks call the HTTP endpoints with curl.
RUN apt-get update \
	&& apt-get install -y --no-install-recommends ca-certificates curl procps python3 tini \
	&& rm -rf /var/lib/apt/lists/*

# Masters and frameworks need no privileges and run as this user (see
# docker-compose.yml); the agent runs as root, since it creates cgroups and
# starts tasks as the users they ask for.
RUN useradd --system --uid 10001 --user-group --home-dir /nonexistent --shell /usr/sbin/nologin corral \
	&& mkdir -p /var/lib/corral/agent

COPY --from=build /out/corral /out/corral-logger /usr/local/bin/
# The entrypoint of docker-compose.yml's agents: it turns the docker
# containerizer on when the engine's socket is mounted (see the script).
COPY deploy/agent/corral-compose-agent /usr/local/bin/

# master, agent, services, jobs, the masters' DNS (--dns_listen :8053 in docker-compose.yml)
EXPOSE 5050 5051 8080 4400 8053/udp 8053/tcp
ENTRYPOINT ["/usr/bin/tini", "--", "/usr/local/bin/corral"]
CMD ["help"]
