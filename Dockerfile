# agora's container image: one static-ish binary on an empty root.
#
#   DOCKER_BUILDKIT=1 docker build -t agora .          # compiles (dist profile)
#   docker run -d -p 7070:7070 -p 7080:7080 -p 7379:7379 -v agora:/data agora
#
# The runtime image is `scratch` plus what the binary needs: the stripped
# binary, the C library it links (libc, libm, libgcc_s and the loader, copied
# from the build image), /etc/passwd with the `agora` user (uid 10001) and an
# empty /data. No shell, no package manager, no curl: the HEALTHCHECK runs
# `agora health`. It runs as that user with a read-only root file system
# (`docker run --read-only`); everything it writes is under /data.
#
# Build arguments:
#   RUST_IMAGE   the build image (a Rust toolchain on Debian bookworm)
#   PROFILE      the cargo profile: dist (fat LTO, the smallest binary; a
#                long build) or release (quicker, a few MiB larger)
#   BINARY       compile (build here, the default) or prebuilt (copy
#                .docker/agora from the build context: an agora built
#                on the host for the same C library; CI's smoke test)
#   GIT_COMMIT   the commit `agora --version` names (.git is not in the
#                build context)
# BuildKit (DOCKER_BUILDKIT=1, the default since Docker 23) builds only the
# stages the chosen BINARY needs. docs/DEPLOY.md has the rest.

ARG RUST_IMAGE=rust:1.95-bookworm
ARG BINARY=compile

FROM ${RUST_IMAGE} AS compile
ARG PROFILE=dist
ARG GIT_COMMIT=unknown
WORKDIR /src
COPY . .
# The registry and the target directory are cache mounts: a rebuild after a
# source change compiles only what changed.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    AGORA_GIT_COMMIT="${GIT_COMMIT}" cargo build --profile "${PROFILE}" --locked -p agora \
 && mkdir -p /out \
 && cp "target/${PROFILE}/agora" /out/agora

FROM ${RUST_IMAGE} AS prebuilt
COPY .docker/agora /out/agora

# hadolint ignore=DL3006
FROM ${BINARY} AS binary

FROM ${RUST_IMAGE} AS rootfs
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
COPY --from=binary /out/agora /rootfs/usr/local/bin/agora
# The binary stripped; every shared library it loads, at the same path; a
# user and group; /data owned by that user; /tmp for a writable tmpfs.
RUN objcopy --strip-all /rootfs/usr/local/bin/agora \
 && ldd /rootfs/usr/local/bin/agora \
    | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }' \
    | while read -r lib; do \
        mkdir -p "/rootfs$(dirname "$lib")" && cp -L "$lib" "/rootfs$lib"; \
      done \
 && mkdir -p /rootfs/etc /rootfs/data /rootfs/tmp \
 && echo 'agora:x:10001:10001:agora:/data:/nonexistent' > /rootfs/etc/passwd \
 && echo 'agora:x:10001:' > /rootfs/etc/group \
 && echo 'hosts: files dns' > /rootfs/etc/nsswitch.conf \
 && chown 10001:10001 /rootfs/data \
 && chmod 1777 /rootfs/tmp \
 && /rootfs/usr/local/bin/agora --version

FROM scratch
COPY --from=rootfs /rootfs/ /
# Listen on every interface (the defaults are loopback only), keep the data
# in the volume, and log JSON for the log collector.
ENV AGORA_LISTEN=0.0.0.0:7070 \
    AGORA_HTTP=0.0.0.0:7080 \
    AGORA_RESP=0.0.0.0:7379 \
    AGORA_DATA=/data \
    AGORA_LOG_FORMAT=json \
    HOME=/data \
    TMPDIR=/tmp
USER 10001:10001
VOLUME ["/data"]
# 7070: the native protocol (agora tui, agora CLI, SDKs); 7080: HTTP (blog
# API, /metrics, /healthz, /readyz, web pages); 7379: RESP (Redis clients).
# Cluster gossip (--cluster-listen, 7946/udp+tcp) and SSH (--ssh, 2222)
# are off unless configured.
EXPOSE 7070 7080 7379
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
    CMD ["/usr/local/bin/agora", "health", "--timeout", "4s"]
ENTRYPOINT ["/usr/local/bin/agora"]
CMD ["daemon"]
