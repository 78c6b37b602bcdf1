// Fuzz target: special-token parsing and the four encode policies.
//
// Oracle (independent of the tokenizer's own splitter): scan the text left to
// right; at each position take the longest registered special token that
// starts there (leftmost, then longest), else advance one byte. With every
// special allowed, Encode must equal the plain encoding of the text between
// matches with each match replaced by its id.
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/tokenizer/tokenizer.h"
#include "core/tokenizer/utf8.h"
#include "tests/fuzz/fuzz_targets.h"
#include "tests/fuzz/fuzz_tokenizers.h"
#include "tests/fuzz/fuzz_util.h"

namespace llm {
namespace fuzz {
namespace {

// Overlapping on purpose: "<|end|>" and "<|endoftext|>" share "<|end",
// "<|a|>" is a suffix of "<|a|><|a|>"-style repeats, one is non-ASCII.
const std::vector<std::string>& SpecialTexts() {
  static const std::vector<std::string> v = {"<|endoftext|>", "<|end|>", "<|fim_prefix|>",
                                             "<|a|>", "<|\xC3\xA9|>", "<|endoftext|>!"};
  return v;
}

const Tokenizer& SpecialTokenizer() {
  static const Tokenizer* tok = [] {
    const Tokenizer& base = FuzzTokenizer(0, true);
    auto t = Tokenizer::FromMerges(base.pattern(), FuzzMerges());
    FUZZ_CHECK(t.ok(), t.status().ToString());
    std::vector<std::pair<std::string, int32_t>> specials;
    // Ids with a gap above the regular vocabulary (as tiktoken's p50k).
    int32_t id = base.vocab_size() + 3;
    for (const std::string& s : SpecialTexts()) specials.push_back({s, id++});
    absl::Status st = (*t)->AddSpecialTokens(specials);
    FUZZ_CHECK(st.ok(), st.ToString());
    return t->release();
  }();
  return *tok;
}

// Leftmost-longest matches of the registered specials: (offset, index).
std::vector<std::pair<size_t, size_t>> Matches(std::string_view text) {
  std::vector<std::pair<size_t, size_t>> out;
  size_t i = 0;
  while (i < text.size()) {
    size_t best = SIZE_MAX, best_len = 0;
    for (size_t k = 0; k < SpecialTexts().size(); ++k) {
      const std::string& s = SpecialTexts()[k];
      if (s.size() > best_len && text.substr(i, s.size()) == s) {
        best = k;
        best_len = s.size();
      }
    }
    if (best == SIZE_MAX) {
      ++i;
    } else {
      out.push_back({i, best});
      i += best_len;
    }
  }
  return out;
}

bool ContainsAnySpecial(std::string_view text, const std::vector<bool>& which) {
  for (size_t k = 0; k < SpecialTexts().size(); ++k) {
    if (which[k] && text.find(SpecialTexts()[k]) != std::string_view::npos) return true;
  }
  return false;
}

int Run(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const int mode = data[0] % 5;
  const uint8_t mask = data[1];
  const std::string_view text(reinterpret_cast<const char*>(data) + 2, size - 2);
  const Tokenizer& tok = SpecialTokenizer();
  const Tokenizer& plain_tok = FuzzTokenizer(0, true);  // same merges, no specials
  const size_t n = SpecialTexts().size();

  SpecialTokenPolicy policy;  // mode 0: default (disallow all)
  std::vector<bool> allowed(n, false);
  if (mode == 1) {
    policy = SpecialTokenPolicy::AllowAll();
    allowed.assign(n, true);
  } else if (mode == 2) {
    policy = SpecialTokenPolicy::PlainText();
  } else if (mode >= 3) {
    for (size_t k = 0; k < n; ++k) {
      if (mask & (1u << k)) {
        policy.allowed.push_back(SpecialTexts()[k]);
        allowed[k] = true;
      }
    }
    policy.allowed.push_back("<|not registered|>");  // ignored, as tiktoken
    if (mode == 4) {
      policy.disallow_all = false;
      for (size_t k = 0; k < n; ++k) {
        if (mask & (0x40u >> (k % 2)) && !allowed[k]) policy.disallowed.push_back(SpecialTexts()[k]);
      }
    }
  }

  auto r = tok.Encode(text, policy);
  if (!ValidateUtf8(text).ok()) {
    FUZZ_CHECK(!r.ok() && r.status().code() == absl::StatusCode::kInvalidArgument,
               "invalid UTF-8 must be InvalidArgument: " + r.status().ToString());
    return 0;
  }
  if (!r.ok()) {
    FUZZ_CHECK(r.status().code() == absl::StatusCode::kInvalidArgument,
               "unexpected error code: " + r.status().ToString());
    FUZZ_CHECK(mode == 0 || mode >= 3, "AllowAll/PlainText must not fail: " + r.status().ToString());
    std::vector<bool> not_allowed(n);
    for (size_t k = 0; k < n; ++k) not_allowed[k] = !allowed[k];
    FUZZ_CHECK(ContainsAnySpecial(text, not_allowed),
               "error without a disallowed special token: " + r.status().ToString());
    return 0;
  }
  auto back = tok.DecodeBytes(*r);
  FUZZ_CHECK(back.ok() && *back == text, "special-token encoding does not round-trip");
  for (int32_t t : *r) {
    const int32_t sid = t - (plain_tok.vocab_size() + 3);
    if (sid >= 0) {
      FUZZ_CHECK(sid < static_cast<int32_t>(n) && allowed[sid], "not-allowed special id emitted");
    }
  }
  if (mode == 0) {
    FUZZ_CHECK(!ContainsAnySpecial(text, std::vector<bool>(n, true)),
               "default policy accepted text with a special token");
  }
  if (mode == 2 || (mode == 0)) {
    auto plain = plain_tok.Encode(text, SpecialTokenPolicy::PlainText());
    FUZZ_CHECK(plain.ok() && *plain == *r, "plain-text encoding differs from no-specials tokenizer");
  }
  if (mode == 1) {
    std::vector<int32_t> expect;
    size_t prev = 0;
    auto add_plain = [&](std::string_view seg) {
      auto p = plain_tok.Encode(seg, SpecialTokenPolicy::PlainText());
      FUZZ_CHECK(p.ok(), p.status().ToString());
      expect.insert(expect.end(), p->begin(), p->end());
    };
    for (const auto& [off, k] : Matches(text)) {
      add_plain(text.substr(prev, off - prev));
      expect.push_back(tok.SpecialTokenId(SpecialTexts()[k]));
      prev = off + SpecialTexts()[k].size();
    }
    add_plain(text.substr(prev));
    FUZZ_CHECK(expect == *r, "AllowAll encoding differs from leftmost-longest oracle");
  }
  return 0;
}

}  // namespace

int FuzzSpecialTokens(const uint8_t* data, size_t size) { return Run(data, size); }

}  // namespace fuzz
}  // namespace llm

LLM_DEFINE_FUZZ_ENTRY(llm::fuzz::FuzzSpecialTokens)
