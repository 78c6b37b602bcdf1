// convert_tiktoken: turn one of OpenAI's public tiktoken encodings into a
// tokenizer checkpoint every tool (and the server, `-t cl100k_base`) can load
// (the original's scripts/convert_tiktoken.py, which recovers the merge list
// from the ranks).
//
//   convert_tiktoken --encoding cl100k_base            # download + sha256 check
//   convert_tiktoken --from cl100k_base.tiktoken -y    # local file (encoding from its sha256)
//   convert_tiktoken --from ranks.tiktoken --encoding o200k_base -n my_o200k
//   convert_tiktoken --from custom.tiktoken --split_pattern gpt-4 -n custom
//
// Output: ASSETS/bpe_checkpoints/NAME/ with pattern.txt, ranks.tiktoken (the
// source of truth on load: ids == tiktoken ranks), merges.txt (the recovered
// merges in the original's numbering), vocab.txt, vocab.ref.txt (tiktoken's
// ranks rendered as the original does), cache.txt (empty) and
// special_tokens.txt. See core/tokenizer/tokenizer_files.cc for the format.
#include <cstdio>
#include <ctime>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "core/data/corpus.h"
#include "core/tokenizer/pretokenizer.h"
#include "core/tokenizer/tiktoken_encodings.h"
#include "core/tokenizer/tokenizer.h"
#include "core/util/file_util.h"
#include "core/util/flags.h"
#include "core/util/paths.h"
#include "core/util/status_macros.h"

namespace {

constexpr char kSample[] = "Hello World! my name is AMAZING  123 LOL (안녕하세요!) joined123 😉";

struct Args {
  std::string from;
  std::string encoding;
  std::string name;
  std::string split_pattern;
  std::string url;
  std::string assets;
  bool overwrite = false;
  bool verbose = true;
};

double Since(const struct timespec& start) {
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return static_cast<double>(now.tv_sec - start.tv_sec) +
         1e-9 * static_cast<double>(now.tv_nsec - start.tv_nsec);
}

// The rank file's bytes and a description of where they came from.
struct Source {
  std::string data;
  std::string where;
};

absl::StatusOr<Source> Fetch(const Args& args, const llm::TiktokenEncoding* enc) {
  if (!args.from.empty()) {
    if (!llm::PathExists(args.from)) {
      return absl::NotFoundError(absl::StrCat("--from ", args.from, ": no such file"));
    }
    ASSIGN_OR_RETURN(std::string data, llm::ReadFile(args.from));
    return Source{std::move(data), args.from};
  }
  const std::string url = args.url.empty() ? enc->url : args.url;
  llm::FetchOptions fetch;
  fetch.show_progress = args.verbose;
  fetch.total_timeout_seconds = 300;
  if (args.verbose) std::printf("  downloading %s\n", url.c_str());
  absl::StatusOr<std::string> body = llm::HttpGet(url, fetch);
  if (!body.ok()) {
    return absl::Status(
        body.status().code(),
        absl::StrFormat("cannot download %s: %s\n  To convert without network access, fetch the "
                        "file elsewhere (e.g. `curl -o %s.tiktoken %s`, sha256 %s), copy it here "
                        "and run:\n    convert_tiktoken --from %s.tiktoken --encoding %s",
                        url, std::string(body.status().message()), enc->name, enc->url,
                        enc->sha256_hex, enc->name, enc->name));
  }
  return Source{std::move(body).value(), url};
}

absl::Status Run(const Args& args) {
  struct timespec start;
  clock_gettime(CLOCK_MONOTONIC, &start);

  // --- Which encoding (pattern, special tokens, expected hash).
  const llm::TiktokenEncoding* enc = nullptr;
  if (!args.encoding.empty()) {
    enc = llm::FindTiktokenEncoding(args.encoding);
    if (enc == nullptr) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "unknown --encoding '%s' (choose from %s)", args.encoding, llm::TiktokenEncodingNames()));
    }
  } else if (args.from.empty()) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "give --encoding NAME (to download, or to name a local file) and/or --from PATH; "
        "encodings: %s",
        llm::TiktokenEncodingNames()));
  }
  ASSIGN_OR_RETURN(Source src, Fetch(args, enc));
  const std::string sha = llm::Sha256Hex(src.data);
  if (enc == nullptr) enc = llm::FindTiktokenEncodingBySha256(sha);
  std::string pattern_name;
  std::vector<std::pair<std::string, int32_t>> specials;
  if (!args.split_pattern.empty()) {
    // A custom rank file: the caller chooses the pattern; no special tokens.
    if (!args.encoding.empty()) {
      return absl::InvalidArgumentError("--split_pattern and --encoding are mutually exclusive");
    }
    pattern_name = args.split_pattern;
    if (enc != nullptr && args.verbose) {
      std::printf("  note: %s is OpenAI's %s; converting it with --split_pattern %s and no "
                  "special tokens as asked\n",
                  src.where.c_str(), enc->name.c_str(), pattern_name.c_str());
    }
    enc = nullptr;
  } else if (enc == nullptr) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "%s (sha256 %s) is not one of OpenAI's rank files (%s); pass --encoding NAME if it "
        "should be, or --split_pattern NAME (and -n NAME) to convert a custom rank file",
        src.where, sha, llm::TiktokenEncodingNames()));
  } else {
    // As tiktoken's load_tiktoken_bpe(expected_hash=...): refuse a mismatch.
    if (sha != enc->sha256_hex) {
      return absl::DataLossError(absl::StrFormat(
          "%s: sha256 %s does not match OpenAI's %s.tiktoken (expected %s)", src.where, sha,
          enc->name, enc->sha256_hex));
    }
    pattern_name = enc->pattern_name;
    specials = enc->special_tokens;
  }
  absl::StatusOr<std::string> pattern = llm::SplitPatternByName(pattern_name);
  if (!pattern.ok()) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "unknown --split_pattern '%s' (choose from gpt-4, cl100k_base, o200k_base, gpt2)",
        pattern_name));
  }

  // --- Checkpoint location (refuse to clobber without -y).
  const std::string name = !args.name.empty() ? args.name : enc != nullptr ? enc->name : "";
  if (name.empty()) return absl::InvalidArgumentError("give a checkpoint name with -n NAME");
  const std::string dir = llm::TokenizerDir(name);
  if (llm::PathExists(dir) && !args.overwrite) {
    return absl::AlreadyExistsError(absl::StrFormat(
        "Checkpoint dir %s already exists. Change name (-n) or provide -y to overwrite.", dir));
  }

  // --- Ranks -> tokenizer (merges recovered inside FromRanks).
  if (args.verbose) {
    std::printf("-- Converting %s ---------------------------------------------\n",
                enc != nullptr ? enc->name.c_str() : "custom rank file");
    std::printf("  source: %s (%zu bytes, sha256 %s%s)\n", src.where.c_str(), src.data.size(),
                sha.c_str(), enc != nullptr ? ", verified" : "");
  }
  ASSIGN_OR_RETURN(std::vector<std::string> ranks, llm::ParseTiktokenRanks(src.data, src.where));
  size_t num_ranks = 0, multi_byte = 0;
  for (const std::string& b : ranks) {
    num_ranks += !b.empty();
    multi_byte += b.size() > 1;
  }
  if (enc != nullptr && static_cast<int64_t>(num_ranks) != enc->num_ranks) {
    return absl::DataLossError(absl::StrFormat("%s: %d ranks, expected %d", src.where, num_ranks,
                                               enc->num_ranks));
  }
  ASSIGN_OR_RETURN(std::unique_ptr<llm::Tokenizer> tokenizer,
                   llm::Tokenizer::FromRanks(*pattern, std::move(ranks)));
  RETURN_IF_ERROR(tokenizer->AddSpecialTokens(specials));
  if (args.verbose) {
    std::printf("  ranks: %zu (%zu multi-byte), merges recovered: %d, unreachable by a merge: %zu\n",
                num_ranks, multi_byte, tokenizer->num_merges(),
                multi_byte - static_cast<size_t>(tokenizer->num_merges()));
    std::printf("  split pattern: %s\n  special tokens:", pattern_name.c_str());
    for (const auto& [text, id] : specials) std::printf(" %s=%d", text.c_str(), id);
    std::printf("%s\n  vocab_size=%d, elapsed=%.3fs\n", specials.empty() ? " none" : "",
                tokenizer->vocab_size(), Since(start));
  }

  // --- Validate on a sample (as train_tokenizer does).
  std::printf("-- Validating ----------------------------------------------------\n");
  ASSIGN_OR_RETURN(std::vector<int32_t> tokens,
                   tokenizer->Encode(kSample, llm::SpecialTokenPolicy::PlainText()));
  std::printf("sample='%s'\ntokens=[%s]\n", kSample, absl::StrJoin(tokens, ", ").c_str());
  ASSIGN_OR_RETURN(std::string recreated, tokenizer->DecodeBytes(tokens));
  if (recreated != kSample) {
    return absl::InternalError("validation failed: decode(encode(sample)) != sample; not saving");
  }

  // --- Save (drop files of an earlier checkpoint that this one does not
  // have), vocab.ref.txt, then reload and compare fingerprints.
  for (const char* stale : {"special_tokens.txt", "merges.txt", "cache.txt"}) {
    RETURN_IF_ERROR(llm::RemoveAll(dir + "/" + stale));
  }
  RETURN_IF_ERROR(tokenizer->Save(dir));
  std::string ref;
  ref.reserve(static_cast<size_t>(tokenizer->vocab_size()) * 16);
  for (int32_t id = 0; id < tokenizer->vocab_size(); ++id) {
    if (!tokenizer->IsValidToken(id) || tokenizer->SpecialTokenId(tokenizer->TokenBytes(id)) == id) {
      continue;
    }
    absl::StrAppend(&ref, "[", id, "] : [", tokenizer->Render(id), "]\n");
  }
  RETURN_IF_ERROR(llm::WriteFileAtomic(dir + "/vocab.ref.txt", ref));
  ASSIGN_OR_RETURN(std::unique_ptr<llm::Tokenizer> reloaded, llm::Tokenizer::Load(dir));
  if (reloaded->Fingerprint() != tokenizer->Fingerprint()) {
    return absl::InternalError(absl::StrCat("reloading ", dir, " gave a different tokenizer"));
  }
  std::printf("Saved %s (vocab_size=%d, fingerprint %s) in %.3fs\n", dir.c_str(),
              tokenizer->vocab_size(), tokenizer->Fingerprint().c_str(), Since(start));
  return absl::OkStatus();
}

}  // namespace

int main(int argc, char** argv) {
  Args args;
  llm::FlagParser p("convert_tiktoken",
                    "Convert an OpenAI tiktoken encoding into a tokenizer checkpoint.");
  p.AddString({"-e", "--encoding"}, &args.encoding,
              "Encoding to convert: " + llm::TiktokenEncodingNames() +
                  " (downloaded from OpenAI unless --from is given)");
  p.AddString({"--from"}, &args.from,
              "Local .tiktoken rank file (OpenAI's files are recognised by their sha256)");
  p.AddString({"-n", "--name"}, &args.name, "Checkpoint name [default: the encoding's name]");
  p.AddBool({"-y", "--overwrite"}, &args.overwrite,
            "Overwrite an existing checkpoint if it already exists");
  p.AddString({"-s", "--split_pattern"}, &args.split_pattern,
              "Custom rank files only: split pattern (gpt-4, cl100k_base, o200k_base, gpt2)");
  p.AddString({"--url"}, &args.url, "Download from this URL instead of OpenAI's (a mirror)");
  p.AddBool({"--verbose"}, &args.verbose, "Progress output (--no-verbose disables it)");
  p.AddString({"--assets"}, &args.assets, "Assets directory [default: $LLM_ASSETS_DIR or ./assets]");
  p.SetEpilog(
      "Writes ASSETS/bpe_checkpoints/NAME/{pattern.txt,ranks.tiktoken,merges.txt,vocab.txt,"
      "vocab.ref.txt,cache.txt,special_tokens.txt}.\n"
      "Loading it (e.g. `llm_tokenize -t cl100k_base`) gives exactly tiktoken's token ids.\n"
      "Examples:\n  convert_tiktoken --encoding o200k_base\n"
      "  convert_tiktoken --from ../shared/data/tiktoken/cl100k_base.tiktoken -y");
  if (int rc = p.ParseOrExit(argc, argv); rc >= 0) return rc;
  if (!args.assets.empty()) llm::SetAssetsDir(args.assets);
  absl::Status status = Run(args);
  if (!status.ok()) {
    std::fflush(stdout);
    std::fprintf(stderr, "convert_tiktoken: error: %s\n", std::string(status.message()).c_str());
    return 1;
  }
  return 0;
}
