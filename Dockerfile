# ferry: one binary on a small Debian base (issue 11), for users with Docker.
#
#   docker build -t ghcr.io/ferry-dev/ferry:0.1.0 .
#
# Without a Docker daemon, scripts/image builds the same image with buildah
# from scratch (no base image download): the same paths, user, entrypoint,
# command, port, environment and labels, with only the files ferry needs
# (crates/cli/tests/image.rs builds it and compares it with this file).
#
# Stage 1 builds the `ferry` binary with the project's toolchain (rust
# 1.95); stage 2 holds only what it needs at run time: CA certificates
# (HTTPS to forges, Argo CD, registries), git (ferry drives the git CLI for
# fetches and pushes) with its ssh client (ssh:// remotes), and a non-root
# user. SQLite is compiled into the binary; PostgreSQL is reached over TCP.

FROM rust:1.95-bookworm AS builder
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p ferry-cli --bin ferry \
    && install -m 0755 target/release/ferry /ferry

FROM debian:bookworm-slim
LABEL org.opencontainers.image.title="ferry" \
      org.opencontainers.image.description="GitOps promotions and releases for Argo CD" \
      org.opencontainers.image.licenses="Apache-2.0"
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates git openssh-client \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 ferry \
    && useradd --system --uid 10001 --gid 10001 --home-dir /var/lib/ferry --create-home ferry
COPY --from=builder /ferry /usr/local/bin/ferry
# The data directory: Git mirrors, workflow scratch space, the instance id
# and (without PostgreSQL) the SQLite database.
ENV HOME=/var/lib/ferry \
    FERRY_DATA_DIR=/var/lib/ferry \
    FERRY_LISTEN=0.0.0.0:8080
WORKDIR /var/lib/ferry
USER 10001:10001
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/ferry"]
CMD ["serve"]
