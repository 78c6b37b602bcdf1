#!/usr/bin/env python3
"""Exactness test: our converted cl100k_base / o200k_base vs npm tiktoken@1.0.22.

    tiktoken_vs_npm.py BINARY_DIR SOURCE_DIR [--encodings cl100k_base,o200k_base] [--random-kb N]

1. Converts OpenAI's rank files ($SOURCE_DIR/../shared/data/tiktoken) with
   tools/convert_tiktoken into a temporary assets dir.
2. Generates the mixed corpus (scripts/gen_tiktoken_corpus.py: Shakespeare,
   this repo's sources, contractions, digits, many scripts, emoji, whitespace
   edge cases, seeded random Unicode including code points new in Unicode
   15.0..17.0 and unassigned ones).
3. For each encoding: ids from `llm_tokenize` vs ids from tests/tiktoken_ref/
   encode.js (tiktoken WASM), token for token; `llm_tokenize -d` must give back
   the corpus byte for byte.
4. Special tokens: a list of cases under six allowed/disallowed policies; each
   case must give the same ids, or fail where tiktoken throws.
Exit 0 = pass, 1 = mismatch, 77 = skipped (rank files, node or node_modules
missing; ctest maps 77 to "skipped").
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

SKIP = 77

SPECIAL_CASES = [
    "no specials here",
    "a<|endoftext|>b",
    "<|endoftext|>",
    "<|endoftext|><|endoftext|>",
    "x <|endoftext|> y",
    "<|endoftext",
    "endoftext|>",
    "<|<|endoftext|>|>",
    "<|endoftext|endoftext|>",
    "<|fim_prefix|>def f():<|fim_suffix|>return 1<|fim_middle|>",
    "prompt<|endofprompt|>answer",
    "<|endofprompt|><|endoftext|>",
    "  <|endoftext|>\t<|endofprompt|>  ",
    "日本語<|endoftext|>😀",
    "<|im_start|>user",
    "<|ENDOFTEXT|>",
]
# (allowed, disallowed) as tiktoken's encode(text, allowed_special, disallowed_special).
POLICIES = [
    ("none", "all"),
    ("all", "all"),
    ("none", "none"),
    ("<|endoftext|>", "all"),
    ("<|endoftext|>", "none"),
    ("none", "<|endofprompt|>"),
]


def run(cmd, **kw):
    return subprocess.run(cmd, check=False, capture_output=True, **kw)


def first_diff(a, b):
    n = min(len(a), len(b))
    for i in range(n):
        if a[i] != b[i]:
            return i
    return n


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("binary_dir")
    ap.add_argument("source_dir")
    ap.add_argument("--encodings", default="cl100k_base,o200k_base")
    ap.add_argument("--random-kb", type=int, default=1024)
    ap.add_argument("--keep", default="", help="keep the corpus and id files in this dir")
    args = ap.parse_args()

    src = os.path.abspath(args.source_dir)
    tools = os.path.join(os.path.abspath(args.binary_dir), "tools")
    ref_dir = os.path.join(src, "tests", "tiktoken_ref")
    rank_dir = os.path.join(src, "..", "shared", "data", "tiktoken")
    encodings = args.encodings.split(",")
    for e in encodings:
        if not os.path.exists(os.path.join(rank_dir, e + ".tiktoken")):
            print(f"SKIP: {rank_dir}/{e}.tiktoken not found (OpenAI's rank files are expected in "
                  "../shared/data/tiktoken next to the repo)")
            return SKIP
    if run(["node", "--version"]).returncode != 0:
        print("SKIP: node not found (needed for the npm tiktoken reference)")
        return SKIP
    if not os.path.isdir(os.path.join(ref_dir, "node_modules", "tiktoken")):
        print(f"SKIP: {ref_dir}/node_modules missing (the fixture runs `npm ci` there)")
        return SKIP
    shakespeare = ""
    for p in (os.path.join(src, "assets", "text", "raw.txt"),
              os.path.join(src, "..", "shared", "data", "shakespeare.txt")):
        if os.path.exists(p):
            shakespeare = p
            break

    work = args.keep or tempfile.mkdtemp(prefix="tiktoken_vs_npm_")
    os.makedirs(work, exist_ok=True)
    assets = os.path.join(work, "assets")
    corpus = os.path.join(work, "corpus.txt")
    t0 = time.time()
    # Debian's interpreter, as everywhere in the tests. The random strings
    # include code points assigned in Unicode 15.0-17.0 and unassigned ones
    # (see the generator's docstring): our classes follow tiktoken's Unicode
    # 16.0 tables, so they must match there too.
    python = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable
    gen = run([python, os.path.join(src, "scripts", "gen_tiktoken_corpus.py"), corpus,
               "--shakespeare", shakespeare, "--sources", src, "--random-kb", str(args.random_kb)])
    if gen.returncode != 0:
        print(gen.stderr.decode())
        return 1
    print(gen.stderr.decode().strip())
    data = open(corpus, "rb").read()

    failures = 0
    for enc in encodings:
        conv = run([os.path.join(tools, "convert_tiktoken"), "--from",
                    os.path.join(rank_dir, enc + ".tiktoken"), "--assets", assets, "-y",
                    "--no-verbose"])
        if conv.returncode != 0:
            print(f"FAIL convert {enc}: {conv.stderr.decode()}")
            failures += 1
            continue
        tok = [os.path.join(tools, "llm_tokenize"), "-t", enc, "--assets", assets]
        ours_r = run(tok + ["--disallowed_special", "none", "--stats", corpus])
        ref_file = os.path.join(work, enc + ".ref.txt")
        ref_r = run(["node", os.path.join(ref_dir, "encode.js"), enc, corpus, "--out", ref_file])
        if ours_r.returncode != 0 or ref_r.returncode != 0:
            print(f"FAIL {enc}: ours rc={ours_r.returncode} {ours_r.stderr.decode()} "
                  f"ref rc={ref_r.returncode} {ref_r.stderr.decode()}")
            failures += 1
            continue
        ours = ours_r.stdout.split()
        ref = open(ref_file, "rb").read().split()
        if ours != ref:
            i = first_diff(ours, ref)
            ctx_ours = b" ".join(ours[max(0, i - 5):i + 10]).decode()
            ctx_ref = b" ".join(ref[max(0, i - 5):i + 10]).decode()
            dec = run(tok + ["-d"], input=b" ".join(ref[max(0, i - 5):i + 10]))
            print(f"FAIL {enc}: {len(ours)} vs {len(ref)} tokens, first difference at token {i}\n"
                  f"  ours: {ctx_ours}\n  tiktoken: {ctx_ref}\n  text: {dec.stdout!r}")
            failures += 1
        else:
            print(f"OK {enc}: {len(data)} bytes, {len(ours)} tokens identical to tiktoken "
                  f"({ours_r.stderr.decode().strip()})")
        back = run(tok + ["-d"], input=ours_r.stdout)
        if back.returncode != 0 or back.stdout != data:
            print(f"FAIL {enc}: decode(encode(corpus)) != corpus (rc={back.returncode})")
            failures += 1
        else:
            print(f"OK {enc}: decode(encode(corpus)) == corpus")

        # Special tokens under tiktoken's allowed/disallowed policies.
        cases = os.path.join(work, "special_cases.txt")
        with open(cases, "w", encoding="utf-8") as f:
            f.write("\n".join(SPECIAL_CASES) + "\n")
        specials = set(open(os.path.join(assets, "bpe_checkpoints", enc, "special_tokens.txt"),
                            encoding="utf-8").read().split("\n"))
        specials = {s.rsplit(" ", 1)[0] for s in specials if s}
        for allowed, disallowed in POLICIES:
            if any(x not in specials for x in (allowed, disallowed) if x not in ("all", "none")):
                continue
            ours_s = run(tok + ["--lines", "--allowed_special", allowed, "--disallowed_special",
                                disallowed, cases])
            ref_s = run(["node", os.path.join(ref_dir, "special_cases.js"), enc, allowed,
                         disallowed, cases])
            ours_lines = ours_s.stdout.decode().split("\n")[:-1]
            ref_lines = ref_s.stdout.decode().split("\n")[:-1]
            if ref_s.returncode != 0 or len(ours_lines) != len(SPECIAL_CASES) or \
                    len(ref_lines) != len(SPECIAL_CASES):
                print(f"FAIL {enc} specials {allowed}/{disallowed}: {ours_s.stderr.decode()} "
                      f"{ref_s.stderr.decode()}")
                failures += 1
                continue
            bad = 0
            for case, o, r in zip(SPECIAL_CASES, ours_lines, ref_lines):
                o_norm = "error" if o.startswith("error:") else o
                if o_norm != r:
                    print(f"FAIL {enc} allowed={allowed} disallowed={disallowed} {case!r}:\n"
                          f"  ours: {o}\n  tiktoken: {r}")
                    bad += 1
            n_err = sum(r == "error" for r in ref_lines)
            if bad:
                failures += 1
            else:
                print(f"OK {enc} specials allowed={allowed} disallowed={disallowed}: "
                      f"{len(SPECIAL_CASES)} cases ({n_err} errors) identical")
    print(f"elapsed {time.time() - t0:.1f}s")
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
