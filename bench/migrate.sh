#!/usr/bin/env bash
# eve vs dbmate vs psql on 1,000 generated migrations (see bench/migrate.ts).
#   bash bench/migrate.sh [pairs=10]
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-postgres.sh
[ -x dist/eve ] || npx bun build.ts
# dbmate is not a devDependency: its npm package lists optional binaries for every
# platform, and a lock file can only hold the ones the registry serves here.
DBMATE=node_modules/@dbmate/linux-x64/bin/dbmate
[ -x "$DBMATE" ] || npm install --no-save --no-audit --no-fund dbmate@2.36.0 >/dev/null
npx bun bench/migrate.ts "${1:-10}"
