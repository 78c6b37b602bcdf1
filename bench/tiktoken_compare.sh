#!/bin/sh
# Encode speed: this tokenizer vs OpenAI's tiktoken (npm, WASM) and
# tiktoken-rs (npm, native), same text, single thread, in one run.
#
#   bench/tiktoken_compare.sh [BUILD_DIR] [--runs N] [--rounds R] [TEXT...]
#
# Default texts: the Shakespeare corpus and the mixed test corpus
# (scripts/gen_tiktoken_corpus.py). Needs: BUILD_DIR/bench/tiktoken_bench and
# BUILD_DIR/tools/convert_tiktoken built, tests/tiktoken_ref/node_modules
# (`npm ci` there), OpenAI's rank files in ../shared/data/tiktoken.
# The encodings are converted into a temporary assets dir. Each round runs
# ours and both tiktoken builds back to back (R rounds, N runs each); the
# table shows medians over rounds, per wall second and per CPU second, and
# the ratios ours / tiktoken-rs. The load average is printed: on a shared
# machine compare the CPU-second columns.
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=$ROOT/build
case "${1:-}" in ""|--*) ;; *) BUILD=$1; shift ;; esac
RUNS=3
ROUNDS=3
TEXTS=""
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) RUNS=$2; shift 2 ;;
    --rounds) ROUNDS=$2; shift 2 ;;
    *) TEXTS="$TEXTS $1"; shift ;;
  esac
done
WORK=$(mktemp -d /tmp/tiktoken_compare.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
RANKS=$ROOT/../shared/data/tiktoken
for e in cl100k_base o200k_base; do
  "$BUILD/tools/convert_tiktoken" --from "$RANKS/$e.tiktoken" --assets "$WORK/assets" -y --no-verbose >/dev/null
done
if [ -z "$TEXTS" ]; then
  SHAKESPEARE=$ROOT/../shared/data/shakespeare.txt
  [ -f "$ROOT/assets/text/raw.txt" ] && SHAKESPEARE=$ROOT/assets/text/raw.txt
  /usr/bin/python3 "$ROOT/scripts/gen_tiktoken_corpus.py" "$WORK/mixed.txt" --shakespeare "$SHAKESPEARE" --sources "$ROOT" 2>/dev/null
  TEXTS="$SHAKESPEARE $WORK/mixed.txt"
fi
OUT=$WORK/results.jsonl
for text in $TEXTS; do
  for e in cl100k_base o200k_base; do
    r=1
    while [ "$r" -le "$ROUNDS" ]; do
      echo "# $(basename "$text") $e round $r/$ROUNDS, load: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
      "$BUILD/bench/tiktoken_bench" -t "$WORK/assets/bpe_checkpoints/$e" --text "$text" --runs "$RUNS" |
        sed "s|^{|{\"text\":\"$(basename "$text")\",\"load\":\"$(cut -d' ' -f1 /proc/loadavg)\",|" >>"$OUT"
      node "$ROOT/tests/tiktoken_ref/bench.js" "$e" "$text" --runs "$RUNS" |
        sed "s|^{|{\"text\":\"$(basename "$text")\",\"load\":\"$(cut -d' ' -f1 /proc/loadavg)\",|" >>"$OUT"
      r=$((r + 1))
    done
  done
done
/usr/bin/python3 - "$OUT" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
def key(r):
    return (r["text"], r["encoding"], r["impl"] + ("/" + r["mode"] if "mode" in r else ""))
groups = {}
for r in rows:
    groups.setdefault(key(r), []).append(r)
loads = [float(r["load"]) for r in rows]
print(f"load average during the run: min {min(loads):.1f}, median {statistics.median(loads):.1f}, "
      f"max {max(loads):.1f} (2 cores)")
print(f"{'text':<18}{'encoding':<13}{'impl':<16}{'MB/s wall':>10}{'MB/s CPU':>10}"
      f"{'x rs wall':>10}{'x rs CPU':>10}")
for (text, enc) in sorted({(k[0], k[1]) for k in groups}):
    rs = groups.get((text, enc, "tiktoken-rs"))
    rs_w = statistics.median(r["mb_per_s"] for r in rs) if rs else None
    rs_c = statistics.median(r["cpu_mb_per_s"] for r in rs) if rs else None
    for impl in ["llm/cold", "llm/warm", "llm/batch1", "llm/batch2", "tiktoken-rs", "tiktoken-wasm"]:
        g = groups.get((text, enc, impl))
        if not g:
            continue
        w = statistics.median(r["mb_per_s"] for r in g)
        c = statistics.median(r["cpu_mb_per_s"] for r in g)
        xw = f"{w / rs_w:.2f}" if rs_w else "-"
        xc = f"{c / rs_c:.2f}" if rs_c else "-"
        print(f"{text:<18}{enc:<13}{impl:<16}{w:>10.2f}{c:>10.2f}{xw:>10}{xc:>10}")
print("llm/batch2 CPU column: MB per CPU-second of both threads; its wall figure shows "
      "2-thread scaling only when the machine has idle cores.")
PY
