#!/usr/bin/env bash
# eve vs dbmate vs psql on 1,000 generated migrations (see bench/migrate.ts).
#   bash bench/migrate.sh [pairs=10]
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-postgres.sh
[ -x dist/eve ] || npx bun build.ts
npx bun bench/migrate.ts "${1:-10}"
