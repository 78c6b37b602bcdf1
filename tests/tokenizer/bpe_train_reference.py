#!/usr/bin/python3
"""Straightforward reference for BPE training, following the original project's rule.

Written independently of the C++ trainer, for cross-checking it (see
tests/tokenizer/trainer.cmake). Deliberately naive: every merge recounts all
pairs over all unique pieces, O(merges x corpus), fine for a small corpus.

The rule (the original's RegexTokenizer.train + TokenPairNode ordering):
  * split the text with the GPT-4 regex (Python `regex` module);
  * count adjacent pairs inside each piece only, every position (overlaps count);
  * pick the highest count, ties -> smallest (left id, right id);
  * stop when the best count is below 2; new ids are 256, 257, ...;
  * replace non-overlapping occurrences left to right.
Then the piece cache (train_piece_cache): pieces whose text is not already a
single vocabulary token, by count descending (stable: ties keep first
occurrence order), encoded with the merges.

Writes pattern.txt, merges.txt, vocab.txt and cache.txt in the original's format.

Usage: bpe_train_reference.py INPUT OUTDIR NUM_MERGES CACHE_SIZE
Run with /usr/bin/python3 (needs Debian's python3-regex).
"""

import base64
import os
import sys
import unicodedata

import regex

GPT4_PATTERN = (
    r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]++[\r\n]*"""
    r"""|\s*[\r\n]|\s+(?!\S)|\s+"""
)


def count_pieces(text):
    counts = {}  # insertion order = first occurrence
    for m in regex.finditer(GPT4_PATTERN, text):
        piece = m.group(0)
        counts[piece] = counts.get(piece, 0) + 1
    return counts


def merge_tokens(tokens, left, right, new_id):
    out = []
    i = 0
    while i < len(tokens):
        if i + 1 < len(tokens) and tokens[i] == left and tokens[i + 1] == right:
            out.append(new_id)
            i += 2
        else:
            out.append(tokens[i])
            i += 1
    return out


def train(piece_counts, num_merges):
    words = [(list(p.encode("utf-8")), c) for p, c in piece_counts.items()]
    merges = []
    for k in range(num_merges):
        pair_counts = {}
        for tokens, c in words:
            for pair in zip(tokens, tokens[1:]):
                pair_counts[pair] = pair_counts.get(pair, 0) + c
        if not pair_counts:
            break
        best = min(pair_counts, key=lambda p: (-pair_counts[p], p[0], p[1]))
        if pair_counts[best] < 2:
            break
        new_id = 256 + k
        merges.append((best, new_id))
        words = [(merge_tokens(t, best[0], best[1], new_id), c) for t, c in words]
    return merges


def encode_piece(piece, merge_rank):
    """The original's encode_tokens: repeatedly merge the lowest-id pair."""
    tokens = list(piece.encode("utf-8"))
    while len(tokens) > 1:
        candidates = [p for p in set(zip(tokens, tokens[1:])) if p in merge_rank]
        if not candidates:
            break
        pair = min(candidates, key=lambda p: merge_rank[p])
        tokens = merge_tokens(tokens, pair[0], pair[1], merge_rank[pair])
    return tokens


def vocabulary(merges):
    vocab = [bytes([i]) for i in range(256)]
    for (left, right), _ in merges:
        vocab.append(vocab[left] + vocab[right])
    return vocab


def render_bytes(b):
    s = b.decode("utf-8", errors="replace")
    return "".join(f"\\u{ord(ch):04x}" if unicodedata.category(ch)[0] == "C" else ch for ch in s)


def piece_cache(piece_counts, merges, cache_size):
    vocab = vocabulary(merges)
    single = set()
    for b in vocab:
        try:
            single.add(b.decode("utf-8", errors="strict"))
        except UnicodeDecodeError:
            pass
    candidates = [p for p in piece_counts if p not in single]
    top = sorted(candidates, key=lambda p: piece_counts[p], reverse=True)[:cache_size]
    merge_rank = {pair: new_id for pair, new_id in merges}
    return [(p, encode_piece(p, merge_rank)) for p in top]


def main():
    if len(sys.argv) != 5:
        sys.exit(__doc__)
    path, outdir, num_merges, cache_size = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    with open(path, encoding="utf-8") as f:
        text = f.read()
    counts = count_pieces(text)
    merges = train(counts, num_merges)
    cache = piece_cache(counts, merges, cache_size)

    os.makedirs(outdir, exist_ok=True)
    with open(os.path.join(outdir, "pattern.txt"), "w", encoding="utf-8") as f:
        f.write(GPT4_PATTERN + "\n")
    with open(os.path.join(outdir, "merges.txt"), "w", encoding="utf-8") as f:
        for (left, right), new_id in merges:
            f.write(f"{left},{right}:{new_id}\n")
    with open(os.path.join(outdir, "vocab.txt"), "w", encoding="utf-8") as f:
        for token, b in enumerate(vocabulary(merges)):
            f.write(f"[{token}] : [{render_bytes(b)}]\n")
    with open(os.path.join(outdir, "cache.txt"), "w", encoding="utf-8") as f:
        for piece, tokens in cache:
            if len(tokens) > 1:
                f.write(f"{base64.b64encode(piece.encode('utf-8')).decode('utf-8')}:{tokens}\n")
    print(f"reference: {len(counts)} unique pieces, {len(merges)} merges, {len(cache)} cached pieces")


if __name__ == "__main__":
    main()
