#!/usr/bin/env bash
# eve db schema --json vs pg_dump --schema-only at 1,000, 5,000 and 10,000 tables (see bench/schema.ts).
#   bash bench/schema.sh                          # 5 alternating pairs per size
#   SIZES=1000 PAIRS=3 bash bench/schema.sh       # quick check
# eve runs as a compiled binary built here with build.ts's settings, unless EVE_BIN
# points at one (e.g. EVE_BIN=dist/eve after `bun build.ts`).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-postgres.sh
if [ -z "${EVE_BIN:-}" ]; then
  WORK=$(mktemp -d /tmp/eve-bench-schema.XXXXXX)
  trap 'rm -rf "$WORK"' EXIT
  EVE_BIN=$WORK/eve
  node_modules/.bin/bun build --compile --minify --bytecode --format=esm \
    --no-compile-autoload-dotenv --no-compile-autoload-bunfig \
    cli/main.ts plugins/sql/plan-worker.ts --outfile "$EVE_BIN" >"$WORK/build.log" 2>&1 ||
    { cat "$WORK/build.log" >&2; exit 1; }
fi
EVE_BIN=$EVE_BIN node_modules/.bin/bun bench/schema.ts
