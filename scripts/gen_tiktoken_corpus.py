#!/usr/bin/env python3
"""Deterministic mixed-script test corpus for comparing tokenizers with tiktoken.

    gen_tiktoken_corpus.py OUT.txt [--shakespeare PATH] [--sources DIR] [--random-kb N] [--seed S]

Writes UTF-8 text made of (in this order):
  * the Shakespeare text (if --shakespeare is given and exists);
  * this repository's own C++, Python, CMake and JSON files (sorted paths under
    --sources, default: the repo root next to this script);
  * English with contractions in every letter case ('s 'S 'LL 'Ll 'lL 're ...),
    also with U+2019 apostrophes and glued to digits/punctuation;
  * digit runs (1..40 digits, grouped, decimals, mixed with letters);
  * CJK, Arabic, Hebrew, Devanagari, Thai, Cyrillic, Greek, Korean sentences,
    emoji with ZWJ and skin tones, flags, keycaps, combining marks;
  * whitespace edge cases: runs of spaces/tabs, \\r\\n, trailing whitespace,
    U+0085, U+00A0, U+1680, U+2000..U+200A, U+2028, U+2029, U+202F, U+205F,
    U+3000, U+FEFF, U+000B, U+000C between letters, digits, punctuation, newlines;
  * random Unicode strings from random.Random(seed) (stdlib only, so the output
    depends only on the arguments and the Python version's `random` algorithm,
    which is stable across CPython 3 versions for these calls).
Surrogates are never emitted (the output is valid UTF-8). Random strings use
every kind of code point: assigned in the running Python's Unicode database
(Debian's /usr/bin/python3: 14.0), assigned later (extra weight on blocks
added in Unicode 15.0, 15.1 and 16.0, whose letters and digits tiktoken
1.0.22 (Rust regex, Unicode 16.0 tables) and our pre-tokenizer tables treat
as \\p{L} / \\p{N}, and on some of Unicode 17.0's, still unassigned for both),
private use and unassigned code points. --assigned-only restricts them to
code points assigned in the running Python's database (others become U+FFFD).
"""
import argparse
import os
import random
import sys
import unicodedata

CONTRACTION_WORDS = ["it", "IT", "he", "She", "THEY", "we", "You", "I", "John", "DON", "can", "won"]
# "\u017f" (LONG S) case-folds to s, so '\u017f is a contraction for (?i:'s).
SUFFIXES = ["s", "t", "re", "ve", "m", "ll", "d", "\u017f", "\u212a"]
SCRIPTS = [
    "日本語のテキストを分割します。東京は晴れ、大阪は雨でした。",
    "中文文本测试：我们今天去北京吗？这是一个很长的句子，没有空格。",
    "한국어 문장입니다. 안녕하세요! 오늘 날씨가 좋네요.",
    "العربية: هذا نص تجريبي لاختبار التقسيم، مع أرقام ١٢٣٤٥ وعلامات؟",
    "עברית: זהו טקסט לבדיקה, עם ניקוד: שָׁלוֹם עֲלֵיכֶם.",
    "हिन्दी: यह एक परीक्षण वाक्य है। संख्या ४५६ और मात्राएँ क्षत्रिय।",
    "ภาษาไทย: นี่คือประโยคทดสอบที่ไม่มีช่องว่างระหว่างคำ ๑๒๓",
    "Русский: Съешь же ещё этих мягких французских булок, да выпей чаю! ЁЛКА ёлка",
    "Ελληνικά: Ξεσκεπάζω την ψυχοφθόρα βδελυγμία. ΆΈΉΊ",
    "Tiếng Việt: Tôi có thể ăn thủy tinh mà không hại gì.",
    "Emoji: 👩‍👩‍👧‍👦 👨🏽‍💻 👍🏿👍🏻 🏳️‍🌈 🇯🇵🇺🇸 1️⃣ #️⃣ ❤️‍🔥 🧑🏾‍🤝‍🧑🏼 😀😃😄",
    "Combining: e\u0301 a\u0300\u0316 Z\u0351\u036b\u0343\u036a\u0302\u036b\u033d\u034f\u0334\u0319"
    "\u0324\u031e\u0349\u035a\u032f\u031e\u0320\u034dA\u036b\u0357 n\u0303o\u0308 \u1e9b\u0323",
    "Math: ∑ᵢ xᵢ² ≤ ∞, ½ ⅓ ¼, ℕ ℤ ℚ ℝ, 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 𝟘𝟙𝟚, Ⅻ ⅻ, ①②③",
    "Mixed: naïve café—déjà vu «quote» „Anführung“ ‘single’ …ellipsis… ¿Qué? ¡Sí!",
]
WS_CHARS = [" ", "\t", "\n", "\r\n", "\r", "\u000b", "\u000c", "\u0085", "\u00a0", "\u1680"] + [
    chr(c) for c in range(0x2000, 0x200B)] + ["\u2028", "\u2029", "\u202f", "\u205f", "\u3000",
                                              "\ufeff", "\u200b", "\u180e", "\u001c",
                                              "\u001f", "\u2060"]
WS_NEIGHBOURS = ["a", "Z", "7", "!", ".", "é", "日", "😀", "'s", "\n", "", "  ", "x\n"]

# Code point ranges for random strings: (lo, hi, weight).
RANDOM_RANGES = [
    (0x20, 0x7E, 30), (0x09, 0x0D, 6), (0x80, 0x2FF, 8), (0x300, 0x36F, 4), (0x370, 0x52F, 4),
    (0x590, 0x6FF, 4), (0x900, 0xDFF, 4), (0xE00, 0xE7F, 3), (0x1000, 0x1FFF, 3),
    (0x2000, 0x206F, 6), (0x2070, 0x2BFF, 3), (0x3000, 0x30FF, 4), (0x3400, 0x9FFF, 4),
    (0xAC00, 0xD7A3, 3), (0xE000, 0xF8FF, 1), (0xF900, 0xFFFD, 3), (0x10000, 0x1FFFF, 4),
    (0x1F300, 0x1FAFF, 4), (0x20000, 0x2FFFF, 1), (0xE0000, 0xE007F, 1), (0x0, 0x1F, 1),
    # Blocks added or extended in Unicode 15.0 / 15.1 / 16.0 (letters, digits,
    # marks unknown to Python 3.11's Unicode 14 and to python3-regex's 15.0).
    (0x10D40, 0x10D8F, 1),  # Garay (16.0)
    (0x105C0, 0x105FF, 1),  # Todhri (16.0)
    (0x11380, 0x113FF, 1),  # Tulu-Tigalari (16.0)
    (0x11BC0, 0x11BFF, 1),  # Sunuwar (16.0)
    (0x11F00, 0x11F5F, 1),  # Kawi (15.0)
    (0x13430, 0x1345F, 1),  # Egyptian Hieroglyph Format Controls (extended 15.0)
    (0x13460, 0x143FF, 2),  # Egyptian Hieroglyphs Extended-A (16.0)
    (0x16100, 0x1613F, 1),  # Gurung Khema (16.0)
    (0x16D40, 0x16D7F, 1),  # Kirat Rai (16.0)
    (0x1CC00, 0x1CEBF, 1),  # Symbols for Legacy Computing Supplement (16.0)
    (0x1E4D0, 0x1E4FF, 1),  # Nag Mundari (15.0)
    (0x1E5D0, 0x1E5FF, 1),  # Ol Onal (16.0)
    (0x2EBF0, 0x2EE5F, 1),  # CJK Extension I (15.1)
    (0x31350, 0x323AF, 1),  # CJK Extension H (15.0)
    (0x323B0, 0x3347F, 1),  # CJK Extension J (17.0: unassigned for tiktoken 1.0.22)
    (0x11DB0, 0x11DEF, 1),  # Tolong Siki (17.0)
    (0x30000, 0x10FFFF, 1),  # mostly unassigned planes and private use
]


def english(rng):
    out = []
    for i in range(4000):
        w = rng.choice(CONTRACTION_WORDS)
        s = rng.choice(SUFFIXES)
        s = "".join(c.upper() if rng.random() < 0.5 else c for c in s)
        apos = "\u2019" if rng.random() < 0.15 else "'"
        sep = rng.choice([" ", " ", " ", ", ", "\n", "", "  ", ".", "'"])
        tail = rng.choice(["", "", "s", "123", "!", " ", "'", "X"])
        out.append(f"{w}{apos}{s}{tail}{sep}")
        if i % 50 == 49:
            out.append("\nThey'RE here; we'Ll see. It'S HIS dog's bone. I'M sure you'Ve DONE it'D.\n")
    return "".join(out)


def digits(rng):
    out = []
    for n in range(1, 41):
        out.append("".join(rng.choice("0123456789") for _ in range(n)))
        out.append(rng.choice([" ", "\n", ",", ".", "a", " x", "$", "%", "١٢", "٣"]))
    for _ in range(3000):
        k = rng.randint(1, 12)
        num = str(rng.randint(0, 10 ** k))
        fmt = rng.randint(0, 5)
        if fmt == 0:
            num = f"{int(num):,}"
        elif fmt == 1:
            num = num + "." + str(rng.randint(0, 9999))
        elif fmt == 2:
            num = "v" + num + "beta" + num[:2]
        elif fmt == 3:
            num = "-" + num + "e" + str(rng.randint(-30, 30))
        out.append(num + rng.choice([" ", "  ", "\n", ", ", "th ", "%", "\t"]))
    return "".join(out)


def scripts(rng):
    out = []
    for _ in range(600):
        s = rng.choice(SCRIPTS)
        if rng.random() < 0.3:
            s = s.upper()
        out.append(s + rng.choice(["\n", " ", "\n\n", "  \n", "\t", ""]))
    return "".join(out)


def whitespace(rng):
    out = []
    for ws in WS_CHARS:
        for left in WS_NEIGHBOURS:
            for right in WS_NEIGHBOURS:
                for n in (1, 2, 3):
                    out.append(left + ws * n + right + "|")
        out.append("\n")
    for _ in range(6000):
        k = rng.randint(1, 8)
        run = "".join(rng.choice(WS_CHARS) for _ in range(k))
        out.append(rng.choice(WS_NEIGHBOURS) + run + rng.choice(WS_NEIGHBOURS))
    out.append("trailing spaces   \ntrailing tab\t\ntrailing nbsp\u00a0\n   \n\t\n \r\n\r\n  ")
    return "".join(out)


def random_unicode(rng, kb, assigned_only):
    weights = [w for _, _, w in RANDOM_RANGES]
    out, size = [], 0
    while size < kb * 1024:
        n = rng.randint(1, 60)
        chars = []
        for _ in range(n):
            lo, hi, _ = rng.choices(RANDOM_RANGES, weights)[0]
            c = rng.randint(lo, hi)
            if 0xD800 <= c <= 0xDFFF or (assigned_only and unicodedata.category(chr(c)) == "Cn"):
                c = 0xFFFD
            chars.append(chr(c))
        s = "".join(chars) + rng.choice([" ", "\n", "", "  ", "\r\n"])
        out.append(s)
        size += len(s.encode("utf-8"))
    return "".join(out)


def sources(root):
    exts = (".cc", ".h", ".py", ".json", ".cmake", ".txt", ".proto", ".sh", ".js", ".md")
    skip_dirs = {"node_modules", ".git", "assets"}
    parts = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in skip_dirs and not d.startswith("build"))
        for f in sorted(filenames):
            if not f.endswith(exts):
                continue
            path = os.path.join(dirpath, f)
            try:
                data = open(path, "rb").read()
                text = data.decode("utf-8")
            except (OSError, UnicodeDecodeError):
                continue
            if len(data) > 300_000:
                continue
            parts.append(text)
    return "".join(parts)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out")
    ap.add_argument("--shakespeare", default="")
    ap.add_argument("--sources", default=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    ap.add_argument("--random-kb", type=int, default=1024)
    ap.add_argument("--seed", type=int, default=20240601)
    ap.add_argument("--assigned-only", action="store_true",
                    help="random strings only use code points assigned in this Python's "
                         "Unicode database")
    args = ap.parse_args()
    rng = random.Random(args.seed)
    chunks = []
    if args.shakespeare and os.path.exists(args.shakespeare):
        chunks.append(open(args.shakespeare, encoding="utf-8").read())
    if args.sources:
        chunks.append(sources(args.sources))
    chunks += [english(rng), digits(rng), scripts(rng), whitespace(rng),
               random_unicode(rng, args.random_kb, args.assigned_only)]
    text = "".join(chunks)
    with open(args.out, "w", encoding="utf-8", newline="") as f:
        f.write(text)
    sizes = [len(c.encode("utf-8")) for c in chunks]
    print(f"{args.out}: {len(text.encode('utf-8'))} bytes ({', '.join(map(str, sizes))})",
          file=sys.stderr)


if __name__ == "__main__":
    main()
