#!/usr/bin/python3
"""Cross-checks Tokenizer::Encode against an independent Python implementation
of the original's RegexTokenizer.load + encode semantics.

Reference semantics (written from the original's documented behaviour, not
copied): pieces come from `regex.finditer(pattern)`; a piece found in the
trained cache (every vocab token that is valid UTF-8, then cache.txt entries)
is emitted directly; otherwise BPE repeatedly picks the adjacent pair with the
smallest merged id and replaces all its non-overlapping occurrences left to
right.

usage: bpe_reference.py DUMP_TOOL TIKTOKEN_FILE WORKDIR [SHAKESPEARE]
Exit 77 (skip) without the cl100k rank file.
"""

import base64
import json
import os
import random
import subprocess
import sys

import regex


def load(d):
    pattern = open(os.path.join(d, "pattern.txt"), encoding="utf-8").read()[:-1]
    merges = []
    for line in open(os.path.join(d, "merges.txt"), encoding="utf-8"):
        pair, new = line.strip().split(":")
        a, b = pair.split(",")
        merges.append(((int(a), int(b)), int(new)))
    merge_ids = {p: n for p, n in merges}
    vocab = [bytes([i]) for i in range(256)] + [b""] * len(merges)
    for (a, b), n in merges:
        vocab[n] = vocab[a] + vocab[b]
    cache = {}
    for i, v in enumerate(vocab):
        try:
            cache[v.decode("utf-8")] = [i]
        except UnicodeDecodeError:
            pass
    for line in open(os.path.join(d, "cache.txt"), encoding="utf-8"):
        k, v = line.strip().split(":")
        cache[base64.b64decode(k).decode("utf-8")] = json.loads(v)
    return pattern, merge_ids, cache


def bpe(piece, merge_ids):
    t = list(piece.encode("utf-8"))
    while len(t) > 1:
        rank, pair = min((merge_ids.get((t[i], t[i + 1]), float("inf")), (t[i], t[i + 1]))
                         for i in range(len(t) - 1))
        if rank == float("inf"):
            break
        out, i = [], 0
        while i < len(t):
            if i + 1 < len(t) and (t[i], t[i + 1]) == pair:
                out.append(rank)
                i += 2
            else:
                out.append(t[i])
                i += 1
        t = out
    return t


def main():
    tool, tiktoken, workdir = sys.argv[1:4]
    shakespeare = sys.argv[4] if len(sys.argv) > 4 else ""
    if not os.path.exists(tiktoken):
        print("SKIP: no", tiktoken)
        return 77
    os.makedirs(workdir, exist_ok=True)
    text = ""
    if shakespeare and os.path.exists(shakespeare):
        text = open(shakespeare, encoding="utf-8").read()[-300000:]
    rng = random.Random(20240607)
    pools = [(0x20, 0x7E), (0xA0, 0x3FF), (0x4E00, 0x4FFF), (0x1F300, 0x1F5FF), (10, 10), (32, 32)]
    text += "".join(chr(rng.randint(*rng.choice(pools))) for _ in range(30000))
    text_path = os.path.join(workdir, "input.txt")
    with open(text_path, "w", encoding="utf-8") as f:
        f.write(text)
    tok_dir = os.path.join(workdir, "tok")
    subprocess.run([tool, tiktoken, "10000", text_path, tok_dir], check=True)
    pattern, merge_ids, cache = load(tok_dir)
    want, memo = [], {}
    for m in regex.finditer(pattern, text):
        p = m.group()
        if p in cache:
            want.extend(cache[p])
        else:
            if p not in memo:
                memo[p] = bpe(p, merge_ids)
            want.extend(memo[p])
    got = [int(x) for x in open(os.path.join(tok_dir, "ids.txt"))]
    if got != want:
        first = next((i for i, (a, b) in enumerate(zip(got, want)) if a != b), min(len(got), len(want)))
        print(f"MISMATCH at token {first}: got {got[first:first + 8]} want {want[first:first + 8]}"
              f" (lengths {len(got)} vs {len(want)})")
        return 1
    print(f"OK: {len(got)} tokens identical")
    return 0


if __name__ == "__main__":
    sys.exit(main())
