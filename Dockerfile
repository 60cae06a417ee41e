# syntax=docker/dockerfile:1
# epicrisis in a container: `docker build -t epicrisis .` (about 20 minutes on 2 cores;
# the cargo caches make a rebuild faster), then `docker compose up -d` with compose.yaml
# (server, worker, PostgreSQL). docs/operations.md «Packages» explains both.

# --- build: the release binary, on Debian bookworm with the Rust toolchain -------------
# The dependencies need Rust 1.92 or newer (Typst); pinned to the version the project is
# tested with. The CPU level is x86-64-v3, from .cargo/config.toml, not the build host's.
ARG RUST_VERSION=1.95
FROM rust:${RUST_VERSION}-bookworm AS build
# llama.cpp is compiled from source by llama-cpp-sys-2: cmake, and clang for bindgen.
RUN apt-get update \
 && apt-get install -y --no-install-recommends cmake clang libclang-dev pkg-config libopenblas-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p epicrisis \
 && objcopy --strip-debug target/release/epicrisis /usr/local/bin/epicrisis

# --- runtime: debian:bookworm-slim, the program and what it links ---------------------
FROM debian:bookworm-slim
# libgomp1: llama.cpp's OpenMP threads. libopenblas0-pthread: the embeddings encoder's
# matrix products. ca-certificates: HTTPS to a FHIR server, a model
# hub or a provider. curl: the health check. No fonts: the PDF's are compiled in.
RUN apt-get update \
 && apt-get install -y --no-install-recommends libgomp1 libopenblas0-pthread ca-certificates curl \
 && rm -rf /var/lib/apt/lists/*
# A fixed uid/gid, so that files given to the container (secrets, a models folder) can be
# made readable to it from the host: chgrp 10001 FILE; chmod 0640 FILE.
RUN groupadd --system --gid 10001 epicrisis \
 && useradd --system --uid 10001 --gid epicrisis --home-dir /var/lib/epicrisis \
      --no-create-home --shell /usr/sbin/nologin --comment "epicrisis service" epicrisis \
 && install -d -o epicrisis -g epicrisis -m 0750 /var/lib/epicrisis /var/lib/epicrisis/models
COPY --from=build /usr/local/bin/epicrisis /usr/bin/epicrisis
COPY packaging/docker/entrypoint.sh /usr/local/bin/epicrisis-entrypoint
# The same defaults as the Debian package's /etc/epicrisis/epicrisis.env, but listening on
# the container's network (publish the port on the host's loopback or behind a proxy).
ENV DATABASE_URL=sqlite:/var/lib/epicrisis/epicrisis.db \
    EPICRISIS_LISTEN=0.0.0.0:3000 \
    EPICRISIS_MODELS_DIR=/var/lib/epicrisis/models \
    EPICRISIS_AUDIT_ANCHOR_FILE=/var/lib/epicrisis/audit-anchor \
    EPICRISIS_ALLOW_EXTERNAL=false
USER epicrisis:epicrisis
WORKDIR /var/lib/epicrisis
# The database (SQLite), the audit anchor file and the models.
VOLUME ["/var/lib/epicrisis"]
EXPOSE 3000
# `/api/health` answers {"status":"ok"} to anyone. A worker has no HTTP: compose.yaml
# gives it a check of its own.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
  CMD curl -fsS http://127.0.0.1:3000/api/health >/dev/null || exit 1
# SIGTERM lets the draft under way finish (120 s): give `docker stop` -t 150 or more.
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/epicrisis-entrypoint"]
CMD ["serve"]
