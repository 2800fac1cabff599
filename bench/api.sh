#!/usr/bin/env bash
# The control plane under load against floors timed in the same run (see bench/api.ts):
# GET …/db/managed (autocannon, 50 connections, 10 s) vs a bare Hono route; provisioning 50
# environments; `eve db sql --env` vs `--url`; `eve db migrate --env` vs `--url` on 1,000 files.
#   bash bench/api.sh [pairs=3]
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-postgres.sh
[ -x dist/eve ] || npx bun build.ts
npx bun bench/api.ts "${1:-3}"
