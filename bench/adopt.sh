#!/usr/bin/env bash
# Adoption of a database half-migrated by psql vs a plain apply (see bench/adopt.ts).
#   bash bench/adopt.sh [pairs=5]
#   BENCH_ADOPT_FILES=100 bash bench/adopt.sh 3      # quick check
# Uses EVE_BIN when set (e.g. dist/eve), else runs the CLI from source.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-postgres.sh
node_modules/.bin/bun bench/adopt.ts "${1:-5}"
