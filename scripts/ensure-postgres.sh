#!/usr/bin/env bash
# Make sure PostgreSQL server binaries (initdb, pg_ctl, pg_dump, pg_restore) exist.
# Installs Debian/Ubuntu's postgresql package only when they are missing.
set -euo pipefail
if [ -n "${EVE_PG_BIN:-}" ] && [ -x "$EVE_PG_BIN/initdb" ]; then exit 0; fi
if ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && command -v pg_dump >/dev/null && command -v psql >/dev/null; then
  exit 0
fi
echo "PostgreSQL server binaries not found; installing the postgresql package (apt-get)..." >&2
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq postgresql postgresql-client >/dev/null
# The Debian package starts a cluster of its own; eve's tests never use it.
ls /usr/lib/postgresql/*/bin/initdb >/dev/null
