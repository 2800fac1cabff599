#!/usr/bin/env bash
# eve snapshot / restore against raw pg_dump / pg_restore, measured in the same run.
#
# A throwaway cluster (scripts/pg.ts) holds pgbench databases at each of SCALES (default
# "1 20 50": the small database shows the fixed costs, the large ones the throughput); a
# real S3 server (s3rver, test/helpers/s3.ts) runs on loopback. For PAIRS alternating
# pairs (default 6) at each scale it times:
#   snapshot  raw `pg_dump -Fc -f FILE`  vs  `eve db snapshot` to the file store and to s3rver
#             (verification on: the dump is read back by pg_restore while uploading)
#   restore   raw `pg_restore -d FRESH FILE`  vs  `eve db restore --snapshot ID --force`
#             into a fresh (empty) database: eve restores into it in one transaction
#   --jobs    raw `pg_restore -j JOBS`  vs  `eve db restore --jobs JOBS` (fresh database:
#             scratch database, swap and drop included)
#   swap      raw `pg_restore --clean --if-exists --single-transaction` over a populated copy
#             vs  `eve db restore --skip-safety-snapshot` over one (scratch database, swap,
#             drop of the old one: the fixed costs of replacing a live database), at scales
#             up to SWAP_MAX_SCALE (default 20)
# and prints medians, ratios against the targets, and eve's peak RSS. BIG_SCALE (default 0:
# off; e.g. 200) repeats the snapshot legs with BIG_PAIRS pairs (default 3) and one restore
# pair, to show that eve's memory does not grow with the database.
# Both sides run the same client binaries (the newest /usr/lib/postgresql/*/bin, also
# passed to eve as EVE_PG_BIN) and eve runs as a compiled binary, as shipped.
#
#   bash bench/snapshot.sh                          # scales 1, 20, 50; 6 pairs each
#   SCALES=1 PAIRS=3 bash bench/snapshot.sh         # quick check
#   BIG_SCALE=200 bash bench/snapshot.sh            # plus the memory run at scale 200
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
BUN=$ROOT/node_modules/.bin/bun
SCALES=${SCALES:-${SCALE:-1 20 50}}
PAIRS=${PAIRS:-6}
JOBS=${JOBS:-2}
SWAP_MAX_SCALE=${SWAP_MAX_SCALE:-20}
BIG_SCALE=${BIG_SCALE:-0}
BIG_PAIRS=${BIG_PAIRS:-3}
WORK=$(mktemp -d /tmp/eve-bench-snapshot.XXXXXX)
PG_PID=""
S3_PID=""

cleanup() {
  [ -n "$S3_PID" ] && kill "$S3_PID" 2>/dev/null || true
  [ -n "$PG_PID" ] && kill "$PG_PID" 2>/dev/null || true
  [ -n "$S3_PID" ] && wait "$S3_PID" 2>/dev/null || true
  [ -n "$PG_PID" ] && wait "$PG_PID" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

log() { echo "[$(date +%H:%M:%S)] $*" >&2; }

PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -n "$PGBIN" ] || { echo "no /usr/lib/postgresql/*/bin" >&2; exit 1; }
export EVE_PG_BIN=$PGBIN

log "building eve (compiled binary, as build.ts does)"
EVE=$WORK/eve
"$BUN" build --compile --minify --bytecode --format=esm --no-compile-autoload-dotenv --no-compile-autoload-bunfig \
  cli/main.ts --outfile "$EVE" >"$WORK/build.log" 2>&1 || { cat "$WORK/build.log" >&2; exit 1; }

log "starting a throwaway cluster and s3rver"
"$BUN" scripts/pg.ts >"$WORK/url.txt" 2>"$WORK/pg.log" &
PG_PID=$!
cat >"$WORK/s3.ts" <<EOF
import process from "node:process";
import { startS3 } from "$ROOT/test/helpers/s3.ts";
const s = await startS3({ bucket: "bench" });
console.log(s.endpoint);
const stop = async () => { await s.stop(); process.exit(0); };
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
setInterval(() => {}, 1 << 30);
EOF
"$BUN" "$WORK/s3.ts" >"$WORK/s3.txt" 2>"$WORK/s3.log" &
S3_PID=$!
for _ in $(seq 1 300); do [ -s "$WORK/url.txt" ] && [ -s "$WORK/s3.txt" ] && break; sleep 0.1; done
ADMIN=$(head -1 "$WORK/url.txt")
S3_ENDPOINT=$(head -1 "$WORK/s3.txt")
[ -n "$ADMIN" ] && [ -n "$S3_ENDPOINT" ] || { cat "$WORK/pg.log" "$WORK/s3.log" >&2; exit 1; }
BASE=${ADMIN%/postgres}
export PGPASSWORD
PGPASSWORD=$(python3 -c 'import sys,urllib.parse as u; print(u.unquote(u.urlparse(sys.argv[1]).password))' "$ADMIN")
S3ENV=(AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER AWS_REGION=us-east-1 EVE_S3_ENDPOINT="$S3_ENDPOINT" EVE_S3_FORCE_PATH_STYLE=1)

psql_admin() { "$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -d "$ADMIN" "$@"; }
fresh_db() { psql_admin -c "drop database if exists \"$1\" with (force)" -c "create database \"$1\"" 2>/dev/null; }

RESULTS=$WORK/results.csv
: >"$RESULTS"
# timed LABEL SCALE cmd...: run once, append "label,scale,seconds,maxrss_kb" (wall clock to the
# nanosecond; rss: the largest process of the tree, from /usr/bin/time, which wraps both sides).
timed() {
  local label=$1 scale=$2
  shift 2
  local t0 t1 secs rss
  t0=$(date +%s.%N)
  if ! /usr/bin/time -f "%M" -o "$WORK/t" "$@" >"$WORK/out" 2>"$WORK/err"; then
    echo "FAILED: $label: $*" >&2
    cat "$WORK/err" >&2
    exit 1
  fi
  t1=$(date +%s.%N)
  secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.4f", b - a }')
  rss=$(tail -1 "$WORK/t")
  echo "$label,$scale,$secs,$rss" >>"$RESULTS"
}

run_scale() {
  local scale=$1 pairs=$2 restore_pairs=$3
  local db=bench_s$scale src="$BASE/bench_s$scale"
  log "scale $scale: pgbench -i"
  fresh_db "$db"
  "$PGBIN/pgbench" -i -q -s "$scale" "$src" >"$WORK/pgbench.log" 2>&1
  local fstore=$WORK/store_s$scale s3store="s3://bench/s$scale"
  local i
  for i in $(seq 1 "$pairs"); do
    log "scale $scale: snapshot pair $i/$pairs"
    local raw=(timed "snapshot raw pg_dump" "$scale" "$PGBIN/pg_dump" -Fc -f "$WORK/raw.dump" "$src")
    local file=(timed "snapshot eve file" "$scale" "$EVE" db snapshot --url "$src" --store "$fstore" --retention 1d)
    local s3=(timed "snapshot eve s3" "$scale" env "${S3ENV[@]}" "$EVE" db snapshot --url "$src" --store "$s3store" --retention 1d)
    rm -f "$WORK/raw.dump"
    case $((i % 3)) in
      1) "${raw[@]}"; "${file[@]}"; "${s3[@]}" ;;
      2) "${file[@]}"; "${s3[@]}"; "${raw[@]}" ;;
      0) "${s3[@]}"; "${raw[@]}"; "${file[@]}" ;;
    esac
    # Keep the stores from growing: leave only the newest snapshot.
    ls -t "$fstore"/snapshots/*.json | tail -n +2 | while read -r f; do rm -f "$f" "${f%.json}.dump"; done
  done
  [ "$restore_pairs" -gt 0 ] || return 0
  "$PGBIN/pg_dump" -Fc -f "$WORK/raw.dump" "$src"
  local id
  id=$("$EVE" db snapshot --url "$src" --store "$fstore" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
  for i in $(seq 1 "$restore_pairs"); do
    log "scale $scale: restore pair $i/$restore_pairs"
    local legs=(raw eve rawj evej)
    [ $((i % 2)) -eq 0 ] && legs=(eve raw evej rawj)
    if [ "$scale" -le "$SWAP_MAX_SCALE" ]; then
      if [ $((i % 2)) -eq 0 ]; then legs+=(evec rawc); else legs+=(rawc evec); fi
    fi
    local leg
    for leg in "${legs[@]}"; do
      fresh_db "r_$leg"
      # The swap legs replace a populated database (a copy of the source, loaded untimed).
      case $leg in rawc | evec) "$PGBIN/pg_restore" -d "$BASE/r_$leg" "$WORK/raw.dump" ;; esac
      case $leg in
        raw) timed "restore raw pg_restore" "$scale" "$PGBIN/pg_restore" -d "$BASE/r_raw" "$WORK/raw.dump" ;;
        eve) timed "restore eve" "$scale" "$EVE" db restore --url "$BASE/r_eve" --store "$fstore" --snapshot "$id" --source-url "$src" --force ;;
        rawj) timed "restore raw pg_restore -j" "$scale" "$PGBIN/pg_restore" -j "$JOBS" -d "$BASE/r_rawj" "$WORK/raw.dump" ;;
        evej) timed "restore eve --jobs" "$scale" "$EVE" db restore --url "$BASE/r_evej" --store "$fstore" --snapshot "$id" --source-url "$src" --force --jobs "$JOBS" ;;
        rawc) timed "restore raw pg_restore --clean" "$scale" "$PGBIN/pg_restore" --clean --if-exists --single-transaction -d "$BASE/r_rawc" "$WORK/raw.dump" ;;
        evec) timed "restore eve swap" "$scale" "$EVE" db restore --url "$BASE/r_evec" --store "$fstore" --snapshot "$id" --source-url "$src" --force --skip-safety-snapshot ;;
      esac
      psql_admin -c "drop database if exists \"r_$leg\" with (force)" 2>/dev/null
    done
  done
  rm -f "$WORK/raw.dump"
  psql_admin -c "drop database if exists \"$db\" with (force)" 2>/dev/null
}

START=$(date +%s)
for sc in $SCALES; do run_scale "$sc" "$PAIRS" "$PAIRS"; done
[ "$BIG_SCALE" -gt 0 ] && run_scale "$BIG_SCALE" "$BIG_PAIRS" 1
ELAPSED=$(($(date +%s) - START))

SERVER=$(psql_admin -At -c "show server_version")
python3 - "$RESULTS" "$SCALES" "$BIG_SCALE" "$PAIRS" "$BIG_PAIRS" "$JOBS" "$ELAPSED" "$SERVER" "$(nproc)" <<'EOF'
import csv, statistics, sys
path, scales, big, pairs, big_pairs, jobs, elapsed, server, cpus = sys.argv[1:]
rows = list(csv.reader(open(path)))
def sel(label, sc):
    return [(float(r[2]), int(r[3])) for r in rows if r[0] == label and r[1] == sc]
def med(label, sc):
    v = sel(label, sc)
    return statistics.median(t for t, _ in v) if v else None
print(f"\neve snapshot/restore vs raw pg_dump/pg_restore — PostgreSQL {server}, {cpus} CPUs, total {elapsed}s")
legs = [
    ("snapshot → file store (verified)", "snapshot raw pg_dump", "snapshot eve file", 1.10),
    ("snapshot → s3rver (verified)", "snapshot raw pg_dump", "snapshot eve s3", 1.25),
    ("restore into a fresh database", "restore raw pg_restore", "restore eve", 1.10),
    (f"restore --jobs {jobs} (swap)", "restore raw pg_restore -j", "restore eve --jobs", 1.10),
    ("replace a populated db (swap)", "restore raw pg_restore --clean", "restore eve swap", 1.10),
]
for sc, n in [(s, pairs) for s in scales.split()] + [(big, big_pairs)]:
    if not any(r[1] == sc for r in rows):
        continue
    print(f"\npgbench scale {sc}: medians of {n} alternating runs per leg (restore legs at scale {big}: 1 run)" if sc == big else f"\npgbench scale {sc}: medians of {n} alternating runs per leg")
    print(f"  {'leg':36} {'raw':>8} {'eve':>8} {'ratio':>7}  target")
    for name, raw, eve, target in legs:
        r, e = med(raw, sc), med(eve, sc)
        if r is None or e is None:
            continue
        ratio = e / r
        print(f"  {name:36} {r:7.3f}s {e:7.3f}s {ratio:6.2f}x  <= {target:.2f}x {'ok' if ratio <= target else 'MISSED'}")
print("\npeak RSS of eve (largest process of its tree, /usr/bin/time %M; target <= 150 MB):")
for sc in scales.split() + [big]:
    eve_rows = [r for r in rows if r[1] == sc and " eve" in r[0]]
    if not eve_rows:
        continue
    by = {}
    for r in eve_rows:
        by[r[0]] = max(by.get(r[0], 0), int(r[3]))
    parts = ", ".join(f"{k.replace('snapshot eve ', 'snapshot→').replace('restore eve', 'restore')} {v / 1024:.0f} MB" for k, v in by.items())
    print(f"  scale {sc}: {parts}")
EOF
