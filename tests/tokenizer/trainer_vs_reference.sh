#!/bin/bash
# Trains the C++ train_tokenizer and the independent Python reference
# (bpe_train_reference.py) on the first CHARS (default 200,000) characters of the Shakespeare
# corpus and requires byte-identical pattern/merges/vocab/cache files.
# Usage: trainer_vs_reference.sh TRAIN_TOKENIZER_BIN [NUM_MERGES] [CACHE_SIZE] [CHARS] [SOURCE]
# SOURCE "shakespeare" (default) or "unicode": a generated multilingual text
# (Hangul, CJK, emoji, Cyrillic, accents, tabs/newlines) whose merges create
# tokens that are partial UTF-8 (exercises vocab rendering and cache rules).
# Exit 77 (ctest SKIP) if the corpus or Debian's python3-regex is missing.
set -euo pipefail
bin=$1
merges=${2:-500}
cache=${3:-2000}
chars=${4:-200000}
source=${5:-shakespeare}
src=${LLM_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
here=$(cd "$(dirname "$0")" && pwd)

if ! /usr/bin/python3 -c "import regex" 2>/dev/null; then
  echo "SKIP: /usr/bin/python3 with the regex module (python3-regex) is required"
  exit 77
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/assets/text"

if [[ $source == unicode ]]; then
  /usr/bin/python3 -c '
import random, sys
random.seed(1)
words = ["안녕하세요", "세계", "日本語", "テキスト", "😉", "🎉🎉", "naïve", "café", "Привет", "мир",
         "hello", "world", "123456", "  ", "\n", "\t", "!?", "don\x27t", "WE\x27LL", "ÆØÅ", "xxxxxxx"]
seps = [" ", "", " ", "\n", "  "]
text = "".join(random.choice(words) + random.choice(seps) for _ in range(30000))[: int(sys.argv[2])]
with open(sys.argv[1], "w", encoding="utf-8", newline="") as f: f.write(text)
' "$tmp/assets/text/train.txt" "$chars"
  echo "corpus: generated multilingual text ($chars chars max), $merges merges, cache $cache"
else
  corpus=""
  for c in "$src/assets/text/train.txt" "$src/../shared/data/shakespeare.txt"; do
    if [[ -f $c ]]; then corpus=$c; break; fi
  done
  if [[ -z $corpus ]]; then
    echo "SKIP: no corpus (run download_data, or provide ../shared/data/shakespeare.txt)"
    exit 77
  fi
  # First $chars characters (not bytes, so UTF-8 is never cut mid-character).
  /usr/bin/python3 -c '
import sys
with open(sys.argv[1], encoding="utf-8") as f: text = f.read(int(sys.argv[3]))
with open(sys.argv[2], "w", encoding="utf-8", newline="") as f: f.write(text)
' "$corpus" "$tmp/assets/text/train.txt" "$chars"
  echo "corpus: $corpus (first $chars chars), $merges merges, cache $cache"
fi
"$bin" --assets "$tmp/assets" -n cpp -m "$merges" -c "$cache" --no-verbose
/usr/bin/python3 "$here/bpe_train_reference.py" "$tmp/assets/text/train.txt" "$tmp/py" "$merges" "$cache"

status=0
for f in pattern.txt merges.txt vocab.txt cache.txt; do
  if cmp -s "$tmp/assets/bpe_checkpoints/cpp/$f" "$tmp/py/$f"; then
    echo "identical: $f ($(wc -l < "$tmp/py/$f") lines)"
  else
    echo "DIFFERENT: $f"
    diff "$tmp/assets/bpe_checkpoints/cpp/$f" "$tmp/py/$f" | head -20 || true
    status=1
  fi
done
exit $status
