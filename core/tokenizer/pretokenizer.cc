// Pre-tokenizer: exact emulation of Python `regex` splitting on RE2.
//
// How a known pattern is reproduced
// ---------------------------------
// The reference splits with `regex.finditer(pattern, text)`. All known
// patterns match at every position (every code point is a letter, a number,
// whitespace or "other", and each of those starts some branch), and no branch
// matches the empty string, so the reference's pieces tile the text and can be
// found with ANCHORED matches: at `pos`, the piece is the reference's match
// anchored at `pos`.
//
// Each known pattern is data (kKnownPatterns below):
//   * `re2`: an RE2 translation of every branch except the whitespace tail.
//     RE2's leftmost-first alternation reproduces the backtracking engine's
//     choice exactly for regular (non-possessive, lookaround-free) patterns.
//     The translation applies these rewrite rules:
//       R1 Possessive quantifiers (`?+ ++ *+ {1,3}+`) become greedy. In these
//          patterns every possessive either guards a class disjoint from what
//          follows it or ends its branch, so giving back would never lead to
//          a different match; the differential test confirms it.
//       R2 Character classes are spelled as explicit code point ranges
//          generated from the reference (pretokenizer_unicode_tables.inc):
//          <L> <N> <Lu> <Lt> <Lm> <Lo> <Ll> <M> and <WS> (the reference's
//          `\s`: the 25 Unicode White_Space code points; RE2's `\s` is
//          ASCII-only and even lacks \v). Measured: Debian RE2 20220601's
//          \p{L,N,Lu,Ll,Lt,Lm,Lo,M} equal python3-regex 2022.10.31's for every
//          code point, but spelling the classes from the reference keeps us
//          exact if either library is upgraded.
//       R3 `(?i:x)` for a letter x becomes the explicit set of code points the
//          reference folds together, <x> (e.g. <s> = S, s, U+017F LONG S).
//       R4 `\s++$` (whitespace run that reaches the end) becomes `<WS>+\z`:
//          the possessive run can only stop at a non-space, so Python's `$`
//          "before a final newline" case can never apply.
//   * `tail`: the final `\s+(?!\S)|\s+` (or `|\s`) branches, which need
//     lookahead, are emulated in code when the RE2 part does not match:
//       T1 Whitespace tail. Let the maximal whitespace run at pos have n code
//          points. If it reaches the end of the text, the piece is the whole
//          run; otherwise (followed by a non-space) the piece is the run minus
//          its last code point when n >= 2 (`\s+(?!\S)` backtracks one), or
//          the single code point when n == 1 (`\s+` / `\s`). Consequence:
//          "a   b" splits as "a", "  ", " b".
//       T0 Safety net: if nothing matches (impossible for the known patterns)
//          the piece is one code point, so Split always makes progress.
//   * `fast`: an optional hand-written matcher for pure-ASCII stretches (see
//     the Ascii*Piece functions). It answers only when every character it had
//     to inspect is ASCII, otherwise it defers to RE2 for that piece. Tests
//     compare it with the RE2 path on random ASCII text and with Python.
//
// Adding a pattern = adding a kKnownPatterns entry (reference text, RE2
// translation, tail rule) and, optionally, an ASCII matcher.
#include "core/tokenizer/pretokenizer.h"

#include <array>
#include <cstdint>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "core/tokenizer/pretokenizer_internal.h"
#include "core/tokenizer/utf8.h"
#include "re2/re2.h"

namespace llm {
namespace {

struct CodePointRange {
  uint32_t lo;
  uint32_t hi;
};
struct CaseFoldSet {
  char letter;
  uint32_t code_points[4];  // zero-terminated
};

#include "core/tokenizer/pretokenizer_unicode_tables.inc"

// ---------------------------------------------------------------------------
// Pattern data.

// Reference spellings (exact text, as stored in pattern.txt / tiktoken).
// The original project's GPT-4 pattern (minbpe spelling).
constexpr char kGpt4Original[] =
    R"('(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]++[\r\n]*|\s*[\r\n]|\s+(?!\S)|\s+)";
// tiktoken's cl100k_base pat_str as shipped in npm tiktoken 1.0.22 (and
// Meta's Llama 3): same splits as kGpt4Original.
constexpr char kCl100kTiktokenJs[] =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
// tiktoken (Python, >= 0.8) cl100k_base pat_str. NOT identical to the two
// above: a whitespace run that reaches the end of the text is one piece here
// (`\s++$`), e.g. "a\n  " -> "a", "\n  " instead of "a", "\n", "  ".
constexpr char kCl100kTiktokenPy[] =
    R"('(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+|\s++$|\s*[\r\n]|\s+(?!\S)|\s)";
constexpr char kO200k[] =
    R"([^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
// GPT-2 / r50k_base / p50k_base as tiktoken spells it.
constexpr char kGpt2Tiktoken[] =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";
// The same GPT-2 pattern, factored.
constexpr char kGpt2Factored[] =
    R"('(?:[sdmt]|ll|ve|re)| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

// RE2 translations (placeholders <..> expand to class contents, see R2/R3).
constexpr char kCl100kRe2[] =
    R"('(?:[<s><d><m><t>]|[<l>][<l>]|[<v>][<e>]|[<r>][<e>])|[^\r\n<L><N>]?[<L>]+|[<N>]{1,3}| ?[^<WS><L><N>]+[\r\n]*|[<WS>]*[\r\n])";
constexpr char kCl100kJsRe2[] =
    R"('(?:[<s>]|[<t>]|[<r>][<e>]|[<v>][<e>]|[<m>]|[<l>][<l>]|[<d>])|[^\r\n<L><N>]?[<L>]+|[<N>]{1,3}| ?[^<WS><L><N>]+[\r\n]*|[<WS>]*[\r\n]+)";
constexpr char kCl100kPyRe2[] =
    R"('(?:[<s><d><m><t>]|[<l>][<l>]|[<v>][<e>]|[<r>][<e>])|[^\r\n<L><N>]?[<L>]+|[<N>]{1,3}| ?[^<WS><L><N>]+[\r\n]*|[<WS>]+\z|[<WS>]*[\r\n])";
#define LLM_O200K_CONTRACTION \
  "(?:'[<s>]|'[<t>]|'[<r>][<e>]|'[<v>][<e>]|'[<m>]|'[<l>][<l>]|'[<d>])?"
constexpr char kO200kRe2[] =
    R"([^\r\n<L><N>]?[<Lu><Lt><Lm><Lo><M>]*[<Ll><Lm><Lo><M>]+)" LLM_O200K_CONTRACTION
    R"(|[^\r\n<L><N>]?[<Lu><Lt><Lm><Lo><M>]+[<Ll><Lm><Lo><M>]*)" LLM_O200K_CONTRACTION
    R"(|[<N>]{1,3}| ?[^<WS><L><N>]+[\r\n/]*|[<WS>]*[\r\n]+)";
#undef LLM_O200K_CONTRACTION
constexpr char kGpt2Re2[] =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?[<L>]+| ?[<N>]+| ?[^<WS><L><N>]+)";

// Which hand-written ASCII matcher (if any) reproduces a pattern.
enum class AsciiMatcher { kNone, kCl100k, kO200k, kGpt2 };
// How the lookahead tail is emulated.
enum class TailRule {
  kWhitespaceRun,  // T1: `\s+(?!\S)|\s+` or `\s+(?!\S)|\s`
};

struct KnownPattern {
  const char* reference;
  const char* re2;
  TailRule tail;
  AsciiMatcher ascii;
  // For the cl100k ASCII matcher: a whitespace run reaching the end of the
  // text is one piece (R4 spelling).
  bool ws_run_to_end_is_one_piece;
};

constexpr KnownPattern kKnownPatterns[] = {
    {kGpt4Original, kCl100kRe2, TailRule::kWhitespaceRun, AsciiMatcher::kCl100k, false},
    {kCl100kTiktokenJs, kCl100kJsRe2, TailRule::kWhitespaceRun, AsciiMatcher::kCl100k, false},
    {kCl100kTiktokenPy, kCl100kPyRe2, TailRule::kWhitespaceRun, AsciiMatcher::kCl100k, true},
    {kO200k, kO200kRe2, TailRule::kWhitespaceRun, AsciiMatcher::kO200k, false},
    {kGpt2Tiktoken, kGpt2Re2, TailRule::kWhitespaceRun, AsciiMatcher::kGpt2, false},
    {kGpt2Factored, kGpt2Re2, TailRule::kWhitespaceRun, AsciiMatcher::kGpt2, false},
};

const KnownPattern* FindKnownPattern(std::string_view pattern) {
  for (const KnownPattern& k : kKnownPatterns) {
    if (pattern == k.reference) return &k;
  }
  return nullptr;
}

// ---------------------------------------------------------------------------
// Class expansion (R2, R3).

void AppendRangeText(uint32_t lo, uint32_t hi, std::string* out) {
  absl::StrAppendFormat(out, "\\x{%X}", lo);
  if (hi != lo) absl::StrAppendFormat(out, "-\\x{%X}", hi);
}

template <size_t N>
std::string RangesText(const CodePointRange (&ranges)[N]) {
  std::string out;
  for (const CodePointRange& r : ranges) AppendRangeText(r.lo, r.hi, &out);
  return out;
}

// Contents (without brackets) for placeholder `name`, or NotFound.
absl::StatusOr<std::string> ExpandPlaceholder(std::string_view name) {
  if (name == "L") return RangesText(kL);
  if (name == "N") return RangesText(kN);
  if (name == "Lu") return RangesText(kLu);
  if (name == "Lt") return RangesText(kLt);
  if (name == "Lm") return RangesText(kLm);
  if (name == "Lo") return RangesText(kLo);
  if (name == "Ll") return RangesText(kLl);
  if (name == "M") return RangesText(kM);
  if (name == "WS") return RangesText(kWhiteSpace);
  if (name.size() == 1) {
    for (const CaseFoldSet& f : kCaseFold) {
      if (f.letter != name[0]) continue;
      std::string out;
      for (uint32_t cp : f.code_points) {
        if (cp != 0) AppendRangeText(cp, cp, &out);
      }
      return out;
    }
  }
  return absl::NotFoundError(absl::StrCat("unknown class placeholder <", std::string(name), ">"));
}

absl::StatusOr<std::string> ExpandTemplate(std::string_view tmpl) {
  std::string out;
  size_t i = 0;
  while (i < tmpl.size()) {
    if (tmpl[i] != '<') {
      out.push_back(tmpl[i++]);
      continue;
    }
    const size_t close = tmpl.find('>', i);
    if (close == std::string_view::npos) {
      return absl::InternalError(absl::StrCat("unterminated placeholder at offset ", i));
    }
    absl::StatusOr<std::string> cls = ExpandPlaceholder(tmpl.substr(i + 1, close - i - 1));
    if (!cls.ok()) return cls.status();
    out += *cls;
    i = close + 1;
  }
  return out;
}

// ---------------------------------------------------------------------------
// Character classes at run time.

bool InRanges(const CodePointRange* ranges, size_t n, uint32_t cp) {
  size_t lo = 0, hi = n;  // binary search for the last range with lo <= cp
  while (lo < hi) {
    const size_t mid = (lo + hi) / 2;
    if (ranges[mid].lo <= cp) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  return lo > 0 && cp <= ranges[lo - 1].hi;
}

template <size_t N>
bool InTable(const CodePointRange (&ranges)[N], uint32_t cp) {
  return InRanges(ranges, N, cp);
}

// ASCII character kinds, derived from the generated reference tables.
enum AsciiKind : uint8_t {
  kUpper,    // \p{Lu} (A-Z)
  kLower,    // \p{Ll} (a-z)
  kDigit,    // \p{N}
  kNewline,  // \r or \n (whitespace)
  kSpace,    // other whitespace: \t \v \f and ' '
  kOther,    // everything else, including controls U+001C..U+001F
};

struct AsciiKinds {
  std::array<AsciiKind, 128> kind;
  AsciiKinds() {
    for (uint32_t c = 0; c < 128; ++c) {
      AsciiKind k = kOther;
      if (InTable(kLu, c)) {
        k = kUpper;
      } else if (InTable(kLl, c)) {
        k = kLower;
      } else if (InTable(kL, c)) {
        k = kOther;  // no such ASCII letter; keep "other" (never reached)
      } else if (InTable(kN, c)) {
        k = kDigit;
      } else if (c == '\r' || c == '\n') {
        k = kNewline;
      } else if (InTable(kWhiteSpace, c)) {
        k = kSpace;
      }
      kind[c] = k;
    }
  }
};

const AsciiKinds& Kinds() {
  static const AsciiKinds* kinds = new AsciiKinds();
  return *kinds;
}

// ---------------------------------------------------------------------------
// ASCII fast paths. Each returns the end of the piece starting at `pos`, or 0
// ("not sure") when a non-ASCII character could change the answer; the
// caller then uses RE2. `n` = text size, pos < n.

// Kind of byte i, or kNonAscii past the end / for bytes >= 0x80.
constexpr int kNonAscii = -1;
constexpr int kEnd = -2;

class AsciiView {
 public:
  AsciiView(std::string_view text, const AsciiKinds& kinds)
      : p_(reinterpret_cast<const unsigned char*>(text.data())), n_(text.size()), k_(kinds) {}
  // kEnd past the end, kNonAscii for bytes >= 0x80, else the AsciiKind.
  int Kind(size_t i) const {
    if (i >= n_) return kEnd;
    return p_[i] < 0x80 ? static_cast<int>(k_.kind[p_[i]]) : kNonAscii;
  }
  unsigned char Byte(size_t i) const { return i < n_ ? p_[i] : 0; }
  size_t size() const { return n_; }

 private:
  const unsigned char* p_;
  size_t n_;
  const AsciiKinds& k_;
};

inline bool IsLetterKind(int k) { return k == kUpper || k == kLower; }
inline char Lower(unsigned char c) { return (c >= 'A' && c <= 'Z') ? c + 32 : c; }

// Advances over a run of kind(s) accepted by `pred`; returns the first index
// not accepted (which may hold a non-ASCII byte or be the end).
template <typename Pred>
inline size_t RunOf(const AsciiView& v, size_t i, Pred pred) {
  while (pred(v.Kind(i))) ++i;
  return i;
}

// Case-insensitive contraction after an apostrophe at `pos` (`'s 't 'm 'd`
// or `'re 've 'll`): returns its end, pos if none, or 0 if a non-ASCII byte
// (e.g. U+017F, which folds to s) could matter. `case_insensitive` selects
// (?i:...) vs the case-sensitive GPT-2 form. The alternatives are mutually
// exclusive, so the reference's alternation order does not matter here.
inline size_t AsciiContraction(const AsciiView& v, size_t pos, bool case_insensitive) {
  const int k1 = v.Kind(pos + 1);
  if (k1 == kNonAscii) return case_insensitive ? 0 : pos;
  if (!IsLetterKind(k1)) return pos;
  unsigned char c1 = v.Byte(pos + 1);
  if (case_insensitive) c1 = Lower(c1);
  if (c1 == 's' || c1 == 't' || c1 == 'm' || c1 == 'd') return pos + 2;
  if (c1 != 'r' && c1 != 'v' && c1 != 'l') return pos;
  const int k2 = v.Kind(pos + 2);
  if (k2 == kNonAscii) return case_insensitive ? 0 : pos;  // only ASCII e/l fold here, but be safe
  if (!IsLetterKind(k2)) return pos;
  unsigned char c2 = v.Byte(pos + 2);
  if (case_insensitive) c2 = Lower(c2);
  if ((c1 == 'r' && c2 == 'e') || (c1 == 'v' && c2 == 'e') || (c1 == 'l' && c2 == 'l')) {
    return pos + 3;
  }
  return pos;
}

// Shared by cl100k/o200k/gpt2: the whitespace run at `pos` (v.Kind(pos) is
// kSpace or kNewline) handled by the newline branch (`\s*[\r\n]` when
// `newline_branch`) and tail rule T1. Returns 0 if the run touches non-ASCII.
inline size_t AsciiWhitespace(const AsciiView& v, size_t pos, bool newline_branch,
                              bool run_to_end_is_one_piece) {
  size_t last_newline_end = 0;
  size_t i = pos;
  size_t count = 0;
  for (;; ++i, ++count) {
    const int k = v.Kind(i);
    if (k == kNewline) {
      last_newline_end = i + 1;
    } else if (k != kSpace) {
      if (k == kNonAscii) return 0;  // might be Unicode whitespace
      break;
    }
  }
  // i = end of the maximal run; Kind(i) is kEnd or a non-space ASCII kind.
  if (run_to_end_is_one_piece && i == v.size()) return i;  // `\s++$`
  if (newline_branch && last_newline_end != 0) return last_newline_end;
  if (i == v.size() || count == 1) return i;
  return i - 1;  // T1: give back the last space
}

// cl100k (all three spellings).
size_t AsciiCl100kPiece(const AsciiView& v, size_t pos, bool run_to_end_is_one_piece) {
  const int k = v.Kind(pos);
  const unsigned char c = v.Byte(pos);
  // Branch 1: '(?i:[sdmt]|ll|ve|re)
  if (c == '\'') {
    const size_t e = AsciiContraction(v, pos, /*case_insensitive=*/true);
    if (e == 0) return 0;
    if (e != pos) return e;
  }
  const auto letters = [](int kk) { return IsLetterKind(kk); };
  // Branch 2: [^\r\n\p{L}\p{N}]?\p{L}+
  if (IsLetterKind(k)) {
    const size_t e = RunOf(v, pos + 1, letters);
    return v.Kind(e) == kNonAscii ? 0 : e;
  }
  if (k == kSpace || k == kOther) {
    const int k1 = v.Kind(pos + 1);
    if (k1 == kNonAscii) return 0;
    if (IsLetterKind(k1)) {
      const size_t e = RunOf(v, pos + 2, letters);
      return v.Kind(e) == kNonAscii ? 0 : e;
    }
  }
  // Branch 3: \p{N}{1,3}
  if (k == kDigit) {
    size_t e = pos + 1;
    while (e < pos + 3 && v.Kind(e) == kDigit) ++e;
    if (e < pos + 3 && v.Kind(e) == kNonAscii) return 0;  // could be a digit
    return e;
  }
  // Branch 4: ` ?[^\s\p{L}\p{N}]+[\r\n]*`
  size_t start = pos;
  if (c == ' ' && v.Kind(pos + 1) == kOther) start = pos + 1;
  if (v.Kind(start) == kOther) {
    const size_t e = RunOf(v, start + 1, [](int kk) { return kk == kOther; });
    if (v.Kind(e) == kNonAscii) return 0;
    return RunOf(v, e, [](int kk) { return kk == kNewline; });
  }
  // Whitespace: (`\s++$`) | `\s*[\r\n]` | T1.
  return AsciiWhitespace(v, pos, /*newline_branch=*/true, run_to_end_is_one_piece);
}

// o200k.
size_t AsciiO200kPiece(const AsciiView& v, size_t pos) {
  const int k = v.Kind(pos);
  // Branches 1-2: [^\r\n\p{L}\p{N}]? then upper* lower+ | upper+ lower*, then
  // an optional (?i:) contraction. In ASCII the two branches give the same
  // extent: optional prefix, the upper run, the lower run (>= 1 letter).
  size_t letters_start = pos;
  if (k == kSpace || k == kOther) {
    const int k1 = v.Kind(pos + 1);
    if (k1 == kNonAscii) return 0;
    if (IsLetterKind(k1)) letters_start = pos + 1;
  }
  if (IsLetterKind(v.Kind(letters_start))) {
    size_t e = RunOf(v, letters_start, [](int kk) { return kk == kUpper; });
    e = RunOf(v, e, [](int kk) { return kk == kLower; });
    // Non-ASCII here could be Lm/Lo/M (in both sets) or Ll/Lu, extending it.
    if (v.Kind(e) == kNonAscii) return 0;
    if (v.Byte(e) == '\'') {
      const size_t c = AsciiContraction(v, e, /*case_insensitive=*/true);
      if (c == 0) return 0;
      return c;  // == e when there is no contraction
    }
    return e;
  }
  // Branch 3: \p{N}{1,3}
  if (k == kDigit) {
    size_t e = pos + 1;
    while (e < pos + 3 && v.Kind(e) == kDigit) ++e;
    if (e < pos + 3 && v.Kind(e) == kNonAscii) return 0;
    return e;
  }
  // Branch 4: ` ?[^\s\p{L}\p{N}]+[\r\n/]*`
  size_t start = pos;
  if (v.Byte(pos) == ' ' && v.Kind(pos + 1) == kOther) start = pos + 1;
  if (v.Kind(start) == kOther) {
    const size_t e = RunOf(v, start + 1, [](int kk) { return kk == kOther; });
    if (v.Kind(e) == kNonAscii) return 0;
    size_t i = e;
    while (v.Kind(i) == kNewline || v.Byte(i) == '/') ++i;
    return i;
  }
  // Whitespace: `\s*[\r\n]+` | T1.
  return AsciiWhitespace(v, pos, /*newline_branch=*/true, /*run_to_end_is_one_piece=*/false);
}

// gpt2.
size_t AsciiGpt2Piece(const AsciiView& v, size_t pos) {
  const unsigned char c = v.Byte(pos);
  // Branch 1: 's|'t|'re|'ve|'m|'ll|'d (case-sensitive)
  if (c == '\'') {
    const size_t e = AsciiContraction(v, pos, /*case_insensitive=*/false);
    if (e != pos) return e;
  }
  // Branches 2-4: ` ?` + a run of letters | numbers | others.
  size_t start = pos;
  if (c == ' ') {
    const int k1 = v.Kind(pos + 1);
    if (k1 == kNonAscii) return 0;
    if (k1 != kSpace && k1 != kNewline && k1 != kEnd) start = pos + 1;
  }
  const int ks = v.Kind(start);
  if (IsLetterKind(ks) || ks == kDigit || ks == kOther) {
    const bool letter = IsLetterKind(ks);
    size_t e = start + 1;
    for (;; ++e) {
      const int kk = v.Kind(e);
      const bool same = letter ? IsLetterKind(kk) : kk == ks;
      if (!same) break;
    }
    return v.Kind(e) == kNonAscii ? 0 : e;
  }
  // Whitespace: T1 only (no newline branch).
  return AsciiWhitespace(v, pos, /*newline_branch=*/false, /*run_to_end_is_one_piece=*/false);
}

// ---------------------------------------------------------------------------

class Re2PreTokenizer final : public PreTokenizer {
 public:
  Re2PreTokenizer(std::string pattern, const KnownPattern* known, std::unique_ptr<RE2> re,
                  bool use_ascii_fast_path)
      : pattern_(std::move(pattern)),
        known_(known),
        re_(std::move(re)),
        ascii_(use_ascii_fast_path ? known->ascii : AsciiMatcher::kNone),
        kinds_(Kinds()) {}

  const std::string& pattern() const override { return pattern_; }

  void Split(std::string_view text,
             absl::FunctionRef<void(size_t begin, size_t end)> fn) const override {
    const AsciiView view(text, kinds_);
    size_t pos = 0;
    while (pos < text.size()) {
      size_t end = 0;
      switch (ascii_) {
        case AsciiMatcher::kCl100k:
          end = AsciiCl100kPiece(view, pos, known_->ws_run_to_end_is_one_piece);
          break;
        case AsciiMatcher::kO200k:
          end = AsciiO200kPiece(view, pos);
          break;
        case AsciiMatcher::kGpt2:
          end = AsciiGpt2Piece(view, pos);
          break;
        case AsciiMatcher::kNone:
          break;
      }
      if (end <= pos) end = GeneralPiece(text, pos);
      fn(pos, end);
      pos = end;
    }
  }

 private:
  // The reference piece at `pos` via RE2 plus the tail rule; always > pos.
  size_t GeneralPiece(std::string_view text, size_t pos) const {
    re2::StringPiece input(text.data(), text.size());
    re2::StringPiece match;
    if (re_->Match(input, pos, text.size(), RE2::ANCHOR_START, &match, 1) && !match.empty()) {
      return pos + match.size();
    }
    int len = 0;
    const uint32_t cp = DecodeUtf8At(text, pos, &len);
    if (len < 1 || pos + len > text.size()) return text.size();  // defensive: malformed tail
    if (known_->tail == TailRule::kWhitespaceRun && InTable(kWhiteSpace, cp)) {
      // T1: scan the maximal whitespace run.
      size_t i = pos + len;
      size_t last_start = pos;
      size_t count = 1;
      while (i < text.size()) {
        int l = 0;
        const uint32_t c = DecodeUtf8At(text, i, &l);
        if (l < 1 || i + l > text.size() || !InTable(kWhiteSpace, c)) break;
        last_start = i;
        i += l;
        ++count;
      }
      if (i == text.size() || count == 1) return i;
      return last_start;
    }
    return pos + len;  // T0
  }

  const std::string pattern_;
  const KnownPattern* known_;
  const std::unique_ptr<RE2> re_;
  const AsciiMatcher ascii_;
  const AsciiKinds& kinds_;
};

}  // namespace

namespace pretokenizer_internal {

absl::StatusOr<std::string> Re2TranslationOf(std::string_view pattern) {
  const KnownPattern* known = FindKnownPattern(pattern);
  if (known == nullptr) return absl::NotFoundError("not a known split pattern");
  return ExpandTemplate(known->re2);
}

bool IsReferenceWhiteSpace(uint32_t cp) { return InTable(kWhiteSpace, cp); }

absl::StatusOr<std::unique_ptr<PreTokenizer>> CreateWithOptions(std::string_view pattern,
                                                                bool use_ascii_fast_path) {
  const KnownPattern* known = FindKnownPattern(pattern);
  if (known == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(
        "unsupported split pattern (only the gpt-4/cl100k_base, o200k_base and gpt2 patterns are "
        "reproduced exactly): ",
        std::string(pattern)));
  }
  absl::StatusOr<std::string> re2_text = ExpandTemplate(known->re2);
  if (!re2_text.ok()) return re2_text.status();
  RE2::Options options;
  options.set_encoding(RE2::Options::EncodingUTF8);
  options.set_log_errors(false);
  // The explicit Unicode classes make big automata; give the DFA room so it
  // never falls back to the slow NFA.
  options.set_max_mem(int64_t{256} << 20);
  auto re = std::make_unique<RE2>(*re2_text, options);
  if (!re->ok()) {
    return absl::InternalError(absl::StrCat("RE2 rejected the translation of a known pattern: ",
                                            re->error()));
  }
  return std::unique_ptr<PreTokenizer>(
      new Re2PreTokenizer(std::string(pattern), known, std::move(re), use_ascii_fast_path));
}

}  // namespace pretokenizer_internal

absl::StatusOr<std::string> SplitPatternByName(std::string_view name) {
  if (name == "gpt-4") return std::string(kGpt4Original);
  if (name == "cl100k_base") return std::string(kCl100kTiktokenJs);
  if (name == "o200k_base") return std::string(kO200k);
  if (name == "gpt2" || name == "r50k_base" || name == "p50k_base") {
    return std::string(kGpt2Tiktoken);
  }
  return absl::NotFoundError(absl::StrCat(
      "unknown split pattern name '", std::string(name),
      "' (known: gpt-4, cl100k_base, o200k_base, gpt2, r50k_base, p50k_base)"));
}

std::string_view DefaultSplitPatternName() { return "gpt-4"; }

absl::StatusOr<std::unique_ptr<PreTokenizer>> PreTokenizer::Create(std::string_view pattern) {
  return pretokenizer_internal::CreateWithOptions(pattern, /*use_ascii_fast_path=*/true);
}

std::vector<std::string_view> PreTokenizer::SplitToVector(std::string_view text) const {
  std::vector<std::string_view> pieces;
  Split(text, [&](size_t begin, size_t end) { pieces.push_back(text.substr(begin, end - begin)); });
  return pieces;
}

}  // namespace llm
