# eve-migrate: the migration runner as a container entrypoint.
#   bun build.ts --all            # makes dist/eve-linux-x64 and dist/eve-linux-arm64
#   docker buildx build --platform linux/amd64,linux/arm64 -t eve-migrate .
#   docker run --rm -e DATABASE_URL=postgres://… -v "$PWD/db/migrations:/migrations:ro" eve-migrate
# The entrypoint is `eve db migrate`: it reads DATABASE_URL and MIGRATIONS_DIR
# (default /migrations here) and waits for the database to accept connections.
FROM debian:bookworm-slim AS pick
ARG TARGETARCH=amd64
COPY dist/eve-linux-x64 dist/eve-linux-arm64 /dist/
RUN set -eu; \
    case "$TARGETARCH" in amd64) arch=x64 ;; arm64) arch=arm64 ;; *) echo "unsupported $TARGETARCH" >&2; exit 1 ;; esac; \
    install -m 0755 "/dist/eve-linux-$arch" /eve

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates && rm -rf /var/lib/apt/lists/*
COPY --from=pick /eve /usr/local/bin/eve
ENV MIGRATIONS_DIR=/migrations
USER 65534:65534
ENTRYPOINT ["eve", "db", "migrate"]
CMD ["--wait", "--wait-timeout", "120s"]
