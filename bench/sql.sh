#!/usr/bin/env bash
# eve db sql --csv / --ndjson vs psql COPY … TO STDOUT CSV on 5M rows (see bench/sql.ts).
#   bash bench/sql.sh                 # 10 alternating pairs per format
#   PAIRS=3 NDJSON_PAIRS=3 BIG_ROWS=0 bash bench/sql.sh   # quick check
# eve runs as a compiled binary built here with build.ts's settings (including the
# sql plan worker entrypoint), unless EVE_BIN points at one.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-postgres.sh
if [ -z "${EVE_BIN:-}" ]; then
  WORK=$(mktemp -d /tmp/eve-bench-sql.XXXXXX)
  trap 'rm -rf "$WORK"' EXIT
  EVE_BIN=$WORK/eve
  node_modules/.bin/bun build --compile --minify --bytecode --format=esm \
    --no-compile-autoload-dotenv --no-compile-autoload-bunfig \
    cli/main.ts plugins/sql/plan-worker.ts --outfile "$EVE_BIN" >"$WORK/build.log" 2>&1 ||
    { cat "$WORK/build.log" >&2; exit 1; }
fi
EVE_BIN=$EVE_BIN node_modules/.bin/bun bench/sql.ts
