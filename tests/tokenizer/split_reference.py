#!/usr/bin/python3
"""Reference pre-tokenizer splits with Python's `regex` module, and the
differential test of our C++ PreTokenizer against them.

Run with Debian's interpreter (/usr/bin/python3 has python3-regex).

Unicode versions: our character classes follow tiktoken's Unicode version
(16.0, core/tokenizer/pretokenizer_unicode_tables.inc), python3-regex
2022.10.31 carries Unicode 15.0 tables. `check` first compares the two
class by class over every code point and requires that they differ only on
code points the reference sees as unassigned (\p{Cn}: assigned in 15.1/16.0);
random code points are drawn outside that set (all other code points,
unassigned ones included, are fair game).

Corpus file format: a sequence of documents, each "<byte length>\\n<bytes>\\n".
Split output format: one line per document, the byte offsets where pieces
END, separated by spaces (empty line for an empty document).

Modes:
  gen-corpus --seed S --out FILE [--shakespeare PATH] [--docs N]
  split --pattern-file P --corpus FILE          (prints the reference splits)
  check --tool TOOL [--seed S] [--workdir DIR] [--shakespeare PATH]
        generates a corpus, and for every known pattern spelling runs
        `TOOL PATTERN_FILE CORPUS` (which must print our splits in the same
        format) and requires identical output. Exit status 1 on any mismatch.
"""
import argparse
import os
import random
import re
import subprocess
import sys
import tempfile
import time

try:
    import regex
except ImportError:  # fail loudly: a silent pass would hide everything
    sys.stderr.write("FATAL: python3-regex is not installed for %s "
                     "(run scripts/install_deps.sh)\n" % sys.executable)
    sys.exit(1)

# The reference spellings, typed independently of the C++ code:
# tiktoken pat_str (npm tiktoken 1.0.22 encoders/*.json and tiktoken Python),
# and the original project's GPT-4 spelling.
PATTERNS = {
    "gpt4_original":
        r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]++[\r\n]*|\s*[\r\n]|\s+(?!\S)|\s+""",
    "cl100k_tiktoken_js":
        r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+""",
    "cl100k_tiktoken_py":
        r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+|\s++$|\s*[\r\n]|\s+(?!\S)|\s""",
    "o200k":
        r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+""",
    "gpt2_tiktoken":
        r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+""",
    "gpt2_factored":
        r"""'(?:[sdmt]|ll|ve|re)| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+""",
}


# ---------------------------------------------------------------------------
# Corpus generation.

def _chars(*ranges):
    out = []
    for a, b in ranges:
        out.extend(chr(c) for c in range(a, b + 1))
    return out


WHITESPACE = [chr(c) for c in range(0x110000)
              if not 0xD800 <= c < 0xE000 and regex.match(r"\s", chr(c))]
NEAR_WHITESPACE = ["\x1c", "\x1d", "\x1e", "\x1f", "\ufeff", "\u180e", "\u200b",
                   "\u200c", "\u200d", "\u2060", "\x00", "\x7f"]
ASCII_LETTERS = _chars((0x41, 0x5A), (0x61, 0x7A))
ASCII_PUNCT = list("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~")
DIGITS = list("0123456789") + ["\u0663", "\u0967", "\u00b2", "\u00bd", "\u2162",
                                "\uff11", "\U0001d7ce", "\u0e51", "\u2460"]
SCRIPTS = {
    "cjk": _chars((0x4E00, 0x4FFF), (0x3040, 0x30FF)),
    "hangul": _chars((0xAC00, 0xAD00)),
    "arabic": _chars((0x0620, 0x065F)),
    "hebrew": _chars((0x05D0, 0x05EA), (0x05B0, 0x05BD)),
    "devanagari": _chars((0x0900, 0x097F)),
    "thai": _chars((0x0E01, 0x0E5B)),
    "cyrillic": _chars((0x0400, 0x04FF)),
    "greek": _chars((0x0370, 0x03FF)),
    "latin_ext": _chars((0x00C0, 0x024F), (0x1E00, 0x1EFF)),
    "marks": _chars((0x0300, 0x036F), (0x1AB0, 0x1AFF), (0x20D0, 0x20FF)),
    "modifiers": _chars((0x02B0, 0x02FF)),  # Lm and Sk
    "titlecase": ["\u01c5", "\u01c8", "\u01cb", "\u01f2", "\u1f88", "\u1fbc"],
}
EMOJI = ["\U0001F600", "\U0001F609", "\U0001F44D\U0001F3FD", "\U0001F468\u200D\U0001F469\u200D\U0001F467",
         "\u2764\ufe0f", "\U0001F1EB\U0001F1F7", "\U0001F3F3\ufe0f\u200d\U0001F308", "#\ufe0f\u20e3",
         "\U0001FAE0", "\U0001F6DC"]
CONTRACTIONS = ["'s", "'S", "'t", "'T", "'m", "'M", "'d", "'D", "'ll", "'LL", "'Ll", "'lL",
                "'ve", "'VE", "'Ve", "'re", "'RE", "'Re", "'rE", "'\u017f", "'", "''", "'x",
                "'l", "'r", "'v", "\u2019s"]
NEWLINES = ["\n", "\r\n", "\r", "\n\n", "\r\r\n", " \n", "\t\n", "\n ", "\u2028", "\x85", "/\n",
            "!\n\n/"]
WORDS = ["hello", "Hello", "HELLO", "HelloWorld", "camelCase", "XMLHttp", "don", "I", "joined",
         "a", "world", "caf\u00e9", "na\u0308ive", "\u0391\u03b8\u03ae\u03bd\u03b1",
         "\u041f\u0440\u0438\u0432\u0435\u0442", "\uc548\ub155\ud558\uc138\uc694",
         "\u0928\u092e\u0938\u094d\u0924\u0947", "/path/to", "x\u02b0y", "a\u0301B\u0301"]


# ---------------------------------------------------------------------------
# Our tables vs the reference's.

TABLES_INC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "core",
                          "tokenizer", "pretokenizer_unicode_tables.inc")
# C++ table name -> the reference's spelling of the class.
TABLE_CLASSES = {"kL": r"\p{L}", "kN": r"\p{N}", "kLu": r"\p{Lu}", "kLt": r"\p{Lt}",
                 "kLm": r"\p{Lm}", "kLo": r"\p{Lo}", "kLl": r"\p{Ll}", "kM": r"\p{M}",
                 "kWhiteSpace": r"\s"}
ALL_CHARS = "".join(chr(c) for c in range(0x110000) if not 0xD800 <= c < 0xE000)

# Code points whose class membership differs between our tables and the
# reference (filled by compare_tables); random_code_point avoids them.
EXCLUDED = frozenset()


def parse_tables(path):
    """Returns {table name: set of code points} and {letter: set} from the .inc."""
    text = open(path, encoding="utf-8").read()
    tables = {}
    for m in re.finditer(r"CodePointRange (\w+)\[\] = \{(.*?)\};", text, re.S):
        cps = set()
        for a, b in re.findall(r"\{(0x[0-9A-F]+), (0x[0-9A-F]+)\}", m.group(2)):
            cps.update(range(int(a, 16), int(b, 16) + 1))
        tables[m.group(1)] = cps
    folds = {}
    for letter, body in re.findall(r"\{'(\w)', \{([^}]*)\}\}", text):
        folds[letter] = {int(x, 16) for x in body.split(",")}
    return tables, folds


def reference_set(pattern):
    return {ord(c) for m in regex.finditer(pattern + "+", ALL_CHARS) for c in m.group()}


def compare_tables(path=TABLES_INC):
    """Compares our class tables with python3-regex over every code point.
    Returns (set of code points that differ, list of errors): a difference is
    only acceptable on a code point the reference sees as unassigned."""
    tables, folds = parse_tables(path)
    differ, errors = set(), []
    for name, pattern in TABLE_CLASSES.items():
        if name not in tables:
            errors.append("table %s missing from %s" % (name, path))
            continue
        d = tables[name] ^ reference_set(pattern)
        differ |= d
        print("tables: %-12s %-7s %7d code points, %5d differ from python3-regex" %
              (name, pattern, len(tables[name]), len(d)))
    unassigned = reference_set(r"\p{Cn}")
    for c in sorted(differ - unassigned)[:20]:
        errors.append("U+%04X is assigned for python3-regex but its classes differ from ours" % c)
    for letter, cps in folds.items():
        ref = {ord(m.group()) for m in regex.finditer("(?i:%s)" % letter, ALL_CHARS)}
        if ref != cps:
            errors.append("(?i:%s): ours %s, python3-regex %s" %
                          (letter, sorted(map(hex, cps)), sorted(map(hex, ref))))
    return differ, errors


def random_code_point(rng):
    while True:
        c = rng.randrange(0x110000) if rng.random() < 0.5 else rng.randrange(0x30000)
        if not 0xD800 <= c < 0xE000 and c not in EXCLUDED:
            return chr(c)


def random_doc(rng):
    kind = rng.random()
    n = rng.choice([0, 1, 2, 3, 5, 8, 13, 30, 80, 200])
    parts = []
    if kind < 0.3:
        # Pure ASCII soup: stresses the ASCII fast path and its boundaries.
        alphabet = ASCII_LETTERS + ASCII_PUNCT + list("0123456789") + [" "] * 12 + \
            ["\t", "\n", "\r", "\x0b", "\x0c", "\x1c", "\x1f", "\x00"] + ["'"] * 4 + \
            list("sStTlLvVeErRmMdD")
        for _ in range(n):
            parts.append(rng.choice(alphabet))
    else:
        for _ in range(n):
            r = rng.random()
            if r < 0.15:
                parts.append(rng.choice(WHITESPACE) * rng.choice([1, 1, 1, 2, 3]))
            elif r < 0.2:
                parts.append(rng.choice(NEAR_WHITESPACE))
            elif r < 0.3:
                parts.append(rng.choice(WORDS))
            elif r < 0.38:
                parts.append(rng.choice(CONTRACTIONS))
            elif r < 0.45:
                parts.append(rng.choice(NEWLINES))
            elif r < 0.5:
                parts.append("".join(rng.choice(DIGITS) for _ in range(rng.randint(1, 7))))
            elif r < 0.55:
                parts.append(rng.choice(EMOJI))
            elif r < 0.7:
                script = SCRIPTS[rng.choice(sorted(SCRIPTS))]
                parts.append("".join(rng.choice(script) for _ in range(rng.randint(1, 6))))
            elif r < 0.8:
                parts.append(random_code_point(rng))
            elif r < 0.9:
                parts.append(rng.choice(ASCII_PUNCT) * rng.randint(1, 3))
            else:
                parts.append(" " * rng.randint(1, 4))
    return "".join(parts)


def gen_corpus(seed, out_path, shakespeare=None, docs=20000):
    rng = random.Random(seed)
    with open(out_path, "wb") as f:
        def put(s):
            b = s.encode("utf-8")
            f.write(b"%d\n" % len(b))
            f.write(b)
            f.write(b"\n")
        put("")
        for special in [" ", "   ", "\r\n", "\n\n\n", "a   b", "  \n", "\t\t", "a \n  ",
                        "Hello world!!!? (\uc548\ub155\ud558\uc138\uc694!) joined123 \U0001F609",
                        "1234567", "'ll've", "don'T", "HelloWorld", "I'M", "/path/to\n"]:
            put(special)
        for _ in range(docs):
            put(random_doc(rng))
        # Every whitespace / near-whitespace code point between every kind of
        # neighbour, at the end and in the middle of a document.
        neighbours = ["a", "1", "!", "\n", " ", "\u00e9", "'", ""]
        for w in WHITESPACE + NEAR_WHITESPACE:
            for left in neighbours:
                for right in neighbours:
                    put(left + w + right)
                    put(left + w + w + right)
        if shakespeare and os.path.exists(shakespeare):
            with open(shakespeare, "r", encoding="utf-8") as s:
                text = s.read()[:1_500_000]
            i = 0
            while i < len(text):
                j = i + rng.randint(1, 20000)
                put(text[i:j])
                i = j


def read_corpus(path):
    with open(path, "rb") as f:
        data = f.read()
    docs = []
    i = 0
    while i < len(data):
        nl = data.index(b"\n", i)
        n = int(data[i:nl])
        docs.append(data[nl + 1:nl + 1 + n].decode("utf-8"))
        i = nl + 1 + n + 1
    return docs


def reference_split_lines(pattern, docs):
    rx = regex.compile(pattern)
    lines = []
    for doc in docs:
        ends = []
        pos = 0
        char_pos = 0
        for m in rx.finditer(doc):
            if m.start() != char_pos:  # a gap would break the tiling contract
                raise SystemExit("reference pattern left a gap in %r" % doc)
            pos += len(m.group().encode("utf-8"))
            char_pos = m.end()
            ends.append(str(pos))
        lines.append(" ".join(ends))
    return lines


def compare_tool(tool, pattern_file, corpus, mode, name, docs, expected, python_secs):
    """Runs the C++ dump tool and compares its lines with `expected`;
    returns 1 on any mismatch (printing the first few), else 0."""
    t1 = time.time()
    out = subprocess.run([tool, pattern_file, corpus] + mode, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    if out.returncode != 0:
        print("FAIL %s: tool exited %d: %s" % (name, out.returncode, out.stderr.decode()))
        return 1
    got = out.stdout.decode().split("\n")
    if got and got[-1] == "":
        got.pop()
    bad = 0
    if len(got) != len(expected):
        print("FAIL %s: %d lines from the tool, %d expected" % (name, len(got), len(expected)))
        bad += 1

    def show(raw, ends):
        offs = [int(x) for x in ends.split()]
        return [raw[a:b].decode("utf-8", "replace") for a, b in zip([0] + offs, offs)]

    for i, (e, g) in enumerate(zip(expected, got)):
        if e != g:
            bad += 1
            if bad <= 5:
                raw = docs[i].encode("utf-8")
                print("FAIL %s doc %d %r\n  expected %r\n  got      %r" %
                      (name, i, docs[i], show(raw, e), show(raw, g)))
    print("%s %s: %d documents, %d mismatches (python %.1fs, tool %.1fs)" %
          ("ok  " if bad == 0 else "FAIL", name, len(expected), bad, python_secs,
           time.time() - t1))
    return 1 if bad else 0


def check(args):
    global EXCLUDED
    t0 = time.time()
    differ, errors = compare_tables()
    for e in errors:
        print("FAIL tables: " + e)
    if errors:
        return 1
    print("tables: %d code points differ, all unassigned for python3-regex (new in Unicode "
          "15.1/16.0, tiktoken's version): excluded from random text (%.1fs)" %
          (len(differ), time.time() - t0))
    EXCLUDED = frozenset(differ)
    workdir = args.workdir or tempfile.mkdtemp(prefix="split_reference_")
    os.makedirs(workdir, exist_ok=True)
    corpus = os.path.join(workdir, "corpus.bin")
    t0 = time.time()
    gen_corpus(args.seed, corpus, args.shakespeare, args.docs)
    docs = read_corpus(corpus)
    print("corpus: %d documents, %d bytes (%.1fs)" %
          (len(docs), os.path.getsize(corpus), time.time() - t0))
    failures = 0
    for name, pattern in PATTERNS.items():
        t0 = time.time()
        expected = reference_split_lines(pattern, docs)
        python_secs = time.time() - t0
        pattern_file = os.path.join(workdir, name + ".pattern")
        with open(pattern_file, "w", encoding="utf-8") as f:
            f.write(pattern)
        # Our tool twice: as shipped, and with the ASCII fast path disabled
        # (every piece through RE2 + emulation rules).
        for mode in ([], ["--no-fast-path"]):
            label = name + (" (no fast path)" if mode else "")
            failures += compare_tool(args.tool, pattern_file, corpus, mode, label, docs, expected,
                                     python_secs)
    return 1 if failures else 0


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="mode", required=True)
    g = sub.add_parser("gen-corpus")
    g.add_argument("--seed", type=int, default=1)
    g.add_argument("--out", required=True)
    g.add_argument("--shakespeare")
    g.add_argument("--docs", type=int, default=20000)
    s = sub.add_parser("split")
    s.add_argument("--pattern-file", required=True)
    s.add_argument("--corpus", required=True)
    c = sub.add_parser("check")
    c.add_argument("--tool", required=True)
    c.add_argument("--seed", type=int, default=1)
    c.add_argument("--docs", type=int, default=20000)
    c.add_argument("--workdir")
    c.add_argument("--shakespeare")
    args = ap.parse_args()
    if args.mode == "gen-corpus":
        global EXCLUDED
        EXCLUDED = frozenset(compare_tables()[0])
        gen_corpus(args.seed, args.out, args.shakespeare, args.docs)
    elif args.mode == "split":
        with open(args.pattern_file, encoding="utf-8") as f:
            pattern = f.read()
        sys.stdout.write("\n".join(reference_split_lines(pattern, read_corpus(args.corpus))) + "\n")
    else:
        sys.exit(check(args))


if __name__ == "__main__":
    main()
