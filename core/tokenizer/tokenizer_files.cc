// Tokenizer directory format (the original's RegexTokenizer.save/load):
//   pattern.txt         split pattern + "\n"
//   merges.txt          "left,right:id" per merge, ids 256, 257, ...
//   vocab.txt           "[id] : [render]" per regular token (for humans; not read)
//   cache.txt           "base64(piece utf-8):[t1, t2, ...]" per trained-cache
//                       piece with more than one token
//   special_tokens.txt  (our extension, optional) "text id" per line
//   ranks.tiktoken      (our extension, for tokenizers built with FromRanks,
//                       e.g. by tools/convert_tiktoken) "base64(bytes) rank"
//                       per line, exactly tiktoken's file. When present, Load
//                       builds the tokenizer from it (token id == rank, exactly
//                       tiktoken's ids) and merges.txt, if also present, is
//                       only checked for consistency. Such a merges.txt is the
//                       original's view of a converted encoding (as its
//                       scripts/convert_tiktoken.py wrote it): ids 0..255 are
//                       the raw bytes, ids >= 256 are tiktoken ranks, one line
//                       per token reachable by a merge (ids ascending, with
//                       gaps where a rank is unreachable or absent).
//   vocab.ref.txt       (written by convert_tiktoken, not read) "[rank] :
//                       [render]" per tiktoken rank, as the original's
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "core/tokenizer/tokenizer.h"
#include "core/tokenizer/utf8.h"
#include "core/util/file_util.h"
#include "core/util/status_macros.h"

namespace llm {
namespace {

// Splits file contents into lines (without "\n"); a final line without "\n"
// is kept, the empty string after a final "\n" is not.
std::vector<absl::string_view> Lines(absl::string_view contents) {
  std::vector<absl::string_view> lines = absl::StrSplit(contents, '\n');
  if (!lines.empty() && lines.back().empty()) lines.pop_back();
  return lines;
}

absl::Status LineError(const std::string& path, size_t line, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat(path, ":", line, ": ", what));
}

// Parses a non-negative decimal int32 (digits only, as written by Save).
bool ParseId(absl::string_view s, int32_t* out) {
  s = absl::StripAsciiWhitespace(s);
  if (s.empty() || s.size() > 10) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  int64_t v = 0;
  for (char c : s) v = v * 10 + (c - '0');
  if (v > 0x7FFFFFFF) return false;
  *out = static_cast<int32_t>(v);
  return true;
}

// Strict base64 (standard alphabet, '=' padding) as Python's b64decode.
bool DecodeBase64(absl::string_view s, std::string* out) {
  if (s.size() % 4 != 0) return false;
  for (char c : s) {
    if (!(absl::ascii_isalnum(c) || c == '+' || c == '/' || c == '=')) return false;
  }
  return absl::Base64Unescape(s, out);
}

absl::StatusOr<std::string> ReadRequired(const std::string& path) {
  if (!PathExists(path)) return absl::NotFoundError(absl::StrCat("missing file: ", path));
  return ReadFile(path);
}

absl::StatusOr<std::vector<Merge>> ParseMerges(const std::string& path, absl::string_view data) {
  std::vector<Merge> merges;
  const std::vector<absl::string_view> lines = Lines(data);
  if (lines.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": empty merges file"));
  }
  merges.reserve(lines.size());
  for (size_t i = 0; i < lines.size(); ++i) {
    const size_t ln = i + 1;
    const absl::string_view line = absl::StripAsciiWhitespace(lines[i]);
    const size_t colon = line.find(':');
    if (colon == absl::string_view::npos) {
      return LineError(path, ln, absl::StrCat("missing ':' in \"", line, "\" (want left,right:id)"));
    }
    const absl::string_view pair = line.substr(0, colon);
    const size_t comma = pair.find(',');
    if (comma == absl::string_view::npos) {
      return LineError(path, ln, absl::StrCat("missing ',' in \"", line, "\" (want left,right:id)"));
    }
    Merge m;
    if (!ParseId(pair.substr(0, comma), &m.left) || !ParseId(pair.substr(comma + 1), &m.right) ||
        !ParseId(line.substr(colon + 1), &m.id)) {
      return LineError(path, ln, absl::StrCat("bad number in \"", line, "\""));
    }
    const int32_t expected = static_cast<int32_t>(256 + i);
    if (m.id != expected) {
      return LineError(path, ln,
                       absl::StrCat("merge id ", m.id, " out of order (expected ", expected, ")"));
    }
    if (m.left >= m.id || m.right >= m.id) {
      return LineError(path, ln,
                       absl::StrCat("merge ", m.left, ",", m.right, ":", m.id,
                                    " uses a token that does not exist yet"));
    }
    merges.push_back(m);
  }
  return merges;
}

absl::StatusOr<std::vector<std::pair<std::string, std::vector<int32_t>>>> ParseCache(
    const std::string& path, absl::string_view data, const Tokenizer& tok) {
  std::vector<std::pair<std::string, std::vector<int32_t>>> pieces;
  const std::vector<absl::string_view> lines = Lines(data);
  for (size_t i = 0; i < lines.size(); ++i) {
    const size_t ln = i + 1;
    const absl::string_view line = absl::StripAsciiWhitespace(lines[i]);
    const size_t colon = line.find(':');
    if (colon == absl::string_view::npos) {
      return LineError(path, ln, "missing ':' (want base64:[t1, t2, ...])");
    }
    std::string piece;
    if (!DecodeBase64(line.substr(0, colon), &piece)) {
      return LineError(path, ln, absl::StrCat("bad base64 \"", line.substr(0, colon), "\""));
    }
    if (absl::Status s = ValidateUtf8(piece); !s.ok()) {
      return LineError(path, ln, absl::StrCat("piece is not UTF-8: ", s.message()));
    }
    absl::string_view list = absl::StripAsciiWhitespace(line.substr(colon + 1));
    if (list.size() < 2 || list.front() != '[' || list.back() != ']') {
      return LineError(path, ln, "token list must look like [t1, t2, ...]");
    }
    list = absl::StripAsciiWhitespace(list.substr(1, list.size() - 2));
    std::vector<int32_t> tokens;
    if (!list.empty()) {
      for (absl::string_view item : absl::StrSplit(list, ',')) {
        int32_t t;
        if (!ParseId(item, &t)) {
          return LineError(path, ln, absl::StrCat("bad number \"", item, "\" in token list"));
        }
        tokens.push_back(t);
      }
    }
    auto decoded = tok.DecodeBytes(tokens);
    if (!decoded.ok()) return LineError(path, ln, decoded.status().message());
    if (*decoded != piece) {
      return LineError(path, ln, "cache entry's tokens do not decode to its piece");
    }
    pieces.emplace_back(std::move(piece), std::move(tokens));
  }
  return pieces;
}

absl::StatusOr<std::vector<std::pair<std::string, int32_t>>> ParseSpecials(
    const std::string& path, absl::string_view data) {
  std::vector<std::pair<std::string, int32_t>> specials;
  const std::vector<absl::string_view> lines = Lines(data);
  for (size_t i = 0; i < lines.size(); ++i) {
    const absl::string_view line = lines[i];
    const size_t sp = line.rfind(' ');
    int32_t id;
    if (sp == absl::string_view::npos || sp == 0) {
      return LineError(path, i + 1, "want \"text id\"");
    }
    if (!ParseId(line.substr(sp + 1), &id)) {
      return LineError(path, i + 1, absl::StrCat("bad number \"", line.substr(sp + 1), "\""));
    }
    specials.emplace_back(std::string(line.substr(0, sp)), id);
  }
  return specials;
}

// The original's id of a rank-based token in merges.txt: single-byte tokens
// are their byte value, all others their rank. -1 if ranks below 256 are not
// exactly the 256 single bytes (then merges.txt cannot be written).
int32_t OriginalId(const Tokenizer& tok, int32_t rank) {
  if (rank >= 256) return rank;
  const std::string& b = tok.TokenBytes(rank);
  return b.size() == 1 ? static_cast<uint8_t>(b[0]) : -1;
}

// Bytes of an id in the original's numbering (see OriginalId), or null.
const std::string* OriginalIdBytes(const Tokenizer& tok, int32_t id, std::string* byte) {
  if (id < 256) {
    *byte = std::string(1, static_cast<char>(id));
    return byte;
  }
  if (!tok.IsValidToken(id) || tok.SpecialTokenId(tok.TokenBytes(id)) >= 0) return nullptr;
  return &tok.TokenBytes(id);
}

// Checks a rank-based directory's merges.txt (original's numbering) against
// the ranks: each line's halves must concatenate to its token and ids must
// ascend. Catches a merges.txt left over from another tokenizer.
absl::Status CheckRankMerges(const std::string& path, absl::string_view data,
                             const Tokenizer& tok) {
  const std::vector<absl::string_view> lines = Lines(data);
  int32_t last = 255;
  for (size_t i = 0; i < lines.size(); ++i) {
    const absl::string_view line = absl::StripAsciiWhitespace(lines[i]);
    const size_t colon = line.find(':');
    const size_t comma = line.find(',');
    Merge m;
    if (colon == absl::string_view::npos || comma == absl::string_view::npos || comma > colon ||
        !ParseId(line.substr(0, comma), &m.left) ||
        !ParseId(line.substr(comma + 1, colon - comma - 1), &m.right) ||
        !ParseId(line.substr(colon + 1), &m.id)) {
      return LineError(path, i + 1, absl::StrCat("want left,right:id, got \"", line, "\""));
    }
    if (m.id <= last) {
      return LineError(path, i + 1, absl::StrCat("merge id ", m.id, " not ascending"));
    }
    last = m.id;
    std::string lb, rb, ib;
    const std::string* l = OriginalIdBytes(tok, m.left, &lb);
    const std::string* r = OriginalIdBytes(tok, m.right, &rb);
    const std::string* t = OriginalIdBytes(tok, m.id, &ib);
    if (l == nullptr || r == nullptr || t == nullptr || *l + *r != *t) {
      return LineError(path, i + 1,
                       absl::StrCat("merge ", m.left, ",", m.right, ":", m.id,
                                    " does not match ranks.tiktoken (stale merges.txt?)"));
    }
  }
  return absl::OkStatus();
}

std::string Join(const std::vector<int32_t>& tokens) {
  std::string s = "[";
  for (size_t i = 0; i < tokens.size(); ++i) absl::StrAppend(&s, i ? ", " : "", tokens[i]);
  s += "]";
  return s;
}

}  // namespace

absl::StatusOr<std::vector<std::string>> ReadTiktokenFile(const std::string& path) {
  ASSIGN_OR_RETURN(std::string data, ReadRequired(path));
  return ParseTiktokenRanks(data, path);
}

absl::StatusOr<std::vector<std::string>> ParseTiktokenRanks(std::string_view contents,
                                                            const std::string& path) {
  const absl::string_view data(contents.data(), contents.size());
  std::vector<std::string> by_rank;
  std::vector<bool> seen;
  const std::vector<absl::string_view> lines = Lines(data);
  for (size_t i = 0; i < lines.size(); ++i) {
    const absl::string_view line = absl::StripAsciiWhitespace(lines[i]);
    if (line.empty()) continue;
    const size_t sp = line.find(' ');
    if (sp == absl::string_view::npos) return LineError(path, i + 1, "want \"base64 rank\"");
    std::string bytes;
    if (!DecodeBase64(line.substr(0, sp), &bytes) || bytes.empty()) {
      return LineError(path, i + 1, absl::StrCat("bad base64 \"", line.substr(0, sp), "\""));
    }
    int32_t rank;
    if (!ParseId(line.substr(sp + 1), &rank) || rank >= (1 << 24)) {
      return LineError(path, i + 1, absl::StrCat("bad rank \"", line.substr(sp + 1), "\""));
    }
    if (static_cast<size_t>(rank) >= by_rank.size()) {
      by_rank.resize(rank + 1);
      seen.resize(rank + 1, false);
    }
    if (seen[rank]) return LineError(path, i + 1, absl::StrCat("duplicate rank ", rank));
    seen[rank] = true;
    by_rank[rank] = std::move(bytes);
  }
  // Gaps are allowed (p50k_base has no rank 50256: that id is the special
  // token <|endoftext|>); they stay empty strings, which FromRanks skips.
  if (by_rank.empty()) return absl::InvalidArgumentError(absl::StrCat(path, ": empty rank file"));
  return by_rank;
}

absl::StatusOr<std::unique_ptr<Tokenizer>> Tokenizer::Load(const std::string& dir,
                                                           TokenizerOptions opts) {
  if (!PathExists(dir)) {
    return absl::NotFoundError(absl::StrCat("tokenizer directory not found: ", dir));
  }
  const std::string pattern_path = dir + "/pattern.txt";
  ASSIGN_OR_RETURN(std::string pattern, ReadRequired(pattern_path));
  if (pattern.empty() || pattern.back() != '\n') {
    return absl::InvalidArgumentError(
        absl::StrCat(pattern_path, ": truncated (want the pattern followed by a newline)"));
  }
  pattern.pop_back();  // the original writes pattern + "\n"

  std::unique_ptr<Tokenizer> tok;
  const std::string merges_path = dir + "/merges.txt";
  const std::string ranks_path = dir + "/ranks.tiktoken";
  if (PathExists(ranks_path)) {
    ASSIGN_OR_RETURN(std::vector<std::string> ranks, ReadTiktokenFile(ranks_path));
    auto t = FromRanks(pattern, std::move(ranks), opts);
    if (!t.ok()) {
      return absl::Status(t.status().code(), absl::StrCat(ranks_path, ": ", t.status().message()));
    }
    tok = std::move(t).value();
    if (PathExists(merges_path)) {
      ASSIGN_OR_RETURN(std::string merges_data, ReadFile(merges_path));
      RETURN_IF_ERROR(CheckRankMerges(merges_path, merges_data, *tok));
    }
  } else {
    ASSIGN_OR_RETURN(std::string merges_data, ReadRequired(merges_path));
    ASSIGN_OR_RETURN(std::vector<Merge> merges, ParseMerges(merges_path, merges_data));
    auto t = FromMerges(pattern, std::move(merges), opts);
    if (!t.ok()) {
      return absl::Status(t.status().code(), absl::StrCat(dir, ": ", t.status().message()));
    }
    tok = std::move(t).value();
  }

  const std::string specials_path = dir + "/special_tokens.txt";
  if (PathExists(specials_path)) {
    ASSIGN_OR_RETURN(std::string data, ReadFile(specials_path));
    ASSIGN_OR_RETURN(auto specials, ParseSpecials(specials_path, data));
    if (absl::Status s = tok->AddSpecialTokens(specials); !s.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(specials_path, ": ", s.message()));
    }
  }
  const std::string cache_path = dir + "/cache.txt";
  if (PathExists(cache_path)) {
    ASSIGN_OR_RETURN(std::string data, ReadFile(cache_path));
    ASSIGN_OR_RETURN(auto pieces, ParseCache(cache_path, data, *tok));
    tok->AddTrainedPieces(std::move(pieces));
  }
  return tok;
}

absl::Status Tokenizer::Save(const std::string& dir) const {
  RETURN_IF_ERROR(MakeDirs(dir));
  RETURN_IF_ERROR(WriteFileAtomic(dir + "/pattern.txt", pattern_ + "\n"));
  if (rank_based_) {
    std::string ranks;
    for (int32_t id = 0; id < num_regular_; ++id) {
      if (kind_[id] != kRegular) continue;
      absl::StrAppend(&ranks, absl::Base64Escape(token_bytes_[id]), " ", id, "\n");
    }
    RETURN_IF_ERROR(WriteFileAtomic(dir + "/ranks.tiktoken", ranks));
    // merges.txt in the original's numbering, when it has one (ranks 0..255
    // are the single bytes, true for all of OpenAI's encodings).
    bool representable = num_regular_ >= 256;
    for (int32_t id = 0; representable && id < 256; ++id) {
      representable = kind_[id] == kRegular && OriginalId(*this, id) >= 0;
    }
    if (representable) {
      std::string merges;
      for (const Merge& m : merges_) {
        absl::StrAppend(&merges, OriginalId(*this, m.left), ",", OriginalId(*this, m.right), ":",
                        m.id, "\n");
      }
      RETURN_IF_ERROR(WriteFileAtomic(dir + "/merges.txt", merges));
    } else {
      RETURN_IF_ERROR(RemoveAll(dir + "/merges.txt"));
    }
  } else {
    std::string merges;
    for (const Merge& m : merges_) absl::StrAppend(&merges, m.left, ",", m.right, ":", m.id, "\n");
    RETURN_IF_ERROR(WriteFileAtomic(dir + "/merges.txt", merges));
    RETURN_IF_ERROR(RemoveAll(dir + "/ranks.tiktoken"));  // Load prefers ranks.tiktoken
  }
  std::string vocab;
  for (int32_t id = 0; id < num_regular_; ++id) {
    if (kind_[id] != kRegular) continue;
    absl::StrAppend(&vocab, "[", id, "] : [", Render(id), "]\n");
  }
  RETURN_IF_ERROR(WriteFileAtomic(dir + "/vocab.txt", vocab));
  std::string cache;
  for (const auto& [piece, tokens] : extra_pieces_) {
    if (tokens.size() > 1) absl::StrAppend(&cache, absl::Base64Escape(piece), ":", Join(tokens), "\n");
  }
  RETURN_IF_ERROR(WriteFileAtomic(dir + "/cache.txt", cache));
  if (!special_tokens_.empty()) {
    std::string specials;
    for (const auto& [text, id] : special_tokens_) absl::StrAppend(&specials, text, " ", id, "\n");
    RETURN_IF_ERROR(WriteFileAtomic(dir + "/special_tokens.txt", specials));
  } else {
    RETURN_IF_ERROR(RemoveAll(dir + "/special_tokens.txt"));  // stale from an earlier save
  }
  return absl::OkStatus();
}

}  // namespace llm
