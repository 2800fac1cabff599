#!/usr/bin/env bash
# eve db schema --json vs pg_dump --schema-only at 1,000, 5,000 and 10,000 tables (see bench/schema.ts).
#   bash bench/schema.sh                          # 5 alternating pairs per size
#   SIZES=1000 PAIRS=3 bash bench/schema.sh       # quick check
# eve runs as the compiled binary dist/eve (built with build.ts when missing), or EVE_BIN.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-postgres.sh
[ -n "${EVE_BIN:-}" ] || [ -x dist/eve ] || npx bun build.ts
node_modules/.bin/bun bench/schema.ts
