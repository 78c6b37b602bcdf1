// llm_tokenize: encode text to token ids (or decode ids to text) from the
// command line, for scripting and for comparing with other tokenizers.
//
//   llm_tokenize -t cl100k_base notes.txt          # ids, space-separated, one line
//   echo "hello world" | llm_tokenize -t o200k_base
//   llm_tokenize -t cl100k_base -d ids.txt         # ids -> text (raw bytes)
//   llm_tokenize -t cl100k_base --allowed_special all chat.txt
//   llm_tokenize -t cl100k_base --lines prompts.txt  # one line of ids per input line
//
// -t names a checkpoint in ASSETS/bpe_checkpoints (trained by
// train_tokenizer or made by convert_tiktoken) or is a directory path.
// Special tokens follow tiktoken's encode(): by default every special token
// is disallowed (its text in the input is an error);
// --allowed_special all|a,b encodes them as their ids and
// --disallowed_special none treats the remaining ones as plain text.
#include <time.h>
#include <unistd.h>

#include <charconv>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "core/tokenizer/tokenizer.h"
#include "core/util/file_util.h"
#include "core/util/flags.h"
#include "core/util/paths.h"
#include "core/util/status_macros.h"

namespace {

struct Args {
  std::string tokenizer;
  bool decode = false;
  std::string allowed_special;
  std::string disallowed_special = "all";
  bool stats = false;
  bool lines = false;
  std::string assets;
  std::vector<std::string> positional;
};

double Now() {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return static_cast<double>(t.tv_sec) + 1e-9 * static_cast<double>(t.tv_nsec);
}

absl::StatusOr<std::string> ReadInput(const std::string& path) {
  if (!path.empty() && path != "-") {
    if (!llm::PathExists(path)) return absl::NotFoundError(absl::StrCat(path, ": no such file"));
    return llm::ReadFile(path);
  }
  std::string data;
  char buf[1 << 16];
  for (;;) {
    const ssize_t n = ::read(0, buf, sizeof(buf));
    if (n == 0) break;
    if (n < 0) return absl::UnavailableError("cannot read standard input");
    data.append(buf, static_cast<size_t>(n));
  }
  return data;
}

absl::Status WriteAll(std::string_view s) {
  if (!s.empty() && std::fwrite(s.data(), 1, s.size(), stdout) != s.size()) {
    return absl::UnavailableError("cannot write standard output");
  }
  return std::fflush(stdout) == 0 ? absl::OkStatus()
                                  : absl::UnavailableError("cannot write standard output");
}

absl::StatusOr<std::unique_ptr<llm::Tokenizer>> LoadTokenizer(const std::string& name) {
  const bool is_path = name.find('/') != std::string::npos;
  const std::string dir = is_path ? name : llm::TokenizerDir(name);
  if (!llm::PathExists(dir)) {
    return absl::NotFoundError(absl::StrFormat(
        "tokenizer '%s' not found (looked for %s). Make it with `convert_tiktoken --encoding %s` "
        "(OpenAI encodings) or `train_tokenizer -n %s`, or pass a directory path",
        name, dir, is_path ? "NAME" : name, is_path ? "NAME" : name));
  }
  return llm::Tokenizer::Load(dir);
}

// tiktoken's allowed_special / disallowed_special: "all", "none" or a
// comma-separated list of special token texts.
absl::StatusOr<llm::SpecialTokenPolicy> MakePolicy(const Args& args, const llm::Tokenizer& tok) {
  llm::SpecialTokenPolicy policy;
  auto parse = [&tok](const std::string& flag, const std::string& v, bool* all,
                      std::vector<std::string>* list) -> absl::Status {
    *all = v == "all";
    list->clear();
    if (v == "all" || v == "none" || v.empty()) return absl::OkStatus();
    for (absl::string_view s : absl::StrSplit(v, ',')) {
      if (tok.SpecialTokenId(std::string_view(s.data(), s.size())) < 0) {
        return absl::InvalidArgumentError(absl::StrCat(flag, ": '", s,
                                                       "' is not a special token of this tokenizer"));
      }
      list->emplace_back(s);
    }
    return absl::OkStatus();
  };
  RETURN_IF_ERROR(parse("--allowed_special", args.allowed_special, &policy.allow_all,
                        &policy.allowed));
  RETURN_IF_ERROR(parse("--disallowed_special", args.disallowed_special, &policy.disallow_all,
                        &policy.disallowed));
  return policy;
}

void AppendIds(const std::vector<int32_t>& ids, std::string* out) {
  char buf[16];
  for (size_t i = 0; i < ids.size(); ++i) {
    if (i) out->push_back(' ');
    auto r = std::to_chars(buf, buf + sizeof(buf), ids[i]);
    out->append(buf, r.ptr);
  }
  out->push_back('\n');
}

// --lines: every input line (without its "\n") is encoded on its own; a line
// that fails prints "error: MESSAGE" and makes the exit code 1.
absl::Status EncodeLines(const Args& args, const llm::Tokenizer& tok, const std::string& text) {
  ASSIGN_OR_RETURN(llm::SpecialTokenPolicy policy, MakePolicy(args, tok));
  std::vector<absl::string_view> lines = absl::StrSplit(text, '\n');
  if (!lines.empty() && lines.back().empty()) lines.pop_back();
  std::string out;
  int failed = 0;
  size_t first_failed = 0;
  for (size_t i = 0; i < lines.size(); ++i) {
    absl::StatusOr<std::vector<int32_t>> ids =
        tok.Encode(std::string_view(lines[i].data(), lines[i].size()), policy);
    if (ids.ok()) {
      AppendIds(*ids, &out);
    } else {
      if (failed++ == 0) first_failed = i + 1;
      absl::StrAppend(&out, "error: ", ids.status().message(), "\n");
    }
  }
  RETURN_IF_ERROR(WriteAll(out));
  if (failed > 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(failed, " line(s) failed to encode, the first is line ", first_failed));
  }
  return absl::OkStatus();
}

absl::Status Encode(const Args& args, const llm::Tokenizer& tok, const std::string& text) {
  if (args.lines) return EncodeLines(args, tok, text);
  ASSIGN_OR_RETURN(llm::SpecialTokenPolicy policy, MakePolicy(args, tok));
  const double t0 = Now();
  ASSIGN_OR_RETURN(std::vector<int32_t> ids, tok.Encode(text, policy));
  const double secs = Now() - t0;
  std::string out;
  out.reserve(ids.size() * 7 + 1);
  AppendIds(ids, &out);
  RETURN_IF_ERROR(WriteAll(out));
  if (args.stats) {
    std::fprintf(stderr, "bytes=%zu tokens=%zu encode_seconds=%.4f MB/s=%.2f\n", text.size(),
                 ids.size(), secs, secs > 0 ? static_cast<double>(text.size()) / 1e6 / secs : 0.0);
  }
  return absl::OkStatus();
}

absl::Status Decode(const llm::Tokenizer& tok, const std::string& input) {
  std::vector<int32_t> ids;
  ids.reserve(input.size() / 5);
  size_t i = 0;
  const size_t n = input.size();
  auto is_space = [](char c) { return c == ' ' || c == '\n' || c == '\t' || c == '\r'; };
  while (i < n) {
    while (i < n && is_space(input[i])) ++i;
    if (i == n) break;
    size_t j = i;
    while (j < n && !is_space(input[j])) ++j;
    int32_t v = 0;
    auto r = std::from_chars(input.data() + i, input.data() + j, v);
    if (r.ec != std::errc() || r.ptr != input.data() + j || v < 0) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "input byte offset %d: '%s' is not a token id (want non-negative integers separated "
          "by whitespace)",
          i, input.substr(i, std::min<size_t>(j - i, 40))));
    }
    ids.push_back(v);
    i = j;
  }
  ASSIGN_OR_RETURN(std::string bytes, tok.DecodeBytes(ids));
  return WriteAll(bytes);
}

absl::Status Run(const Args& args) {
  if (args.positional.size() > 1) {
    return absl::InvalidArgumentError("at most one input FILE (stdin when omitted)");
  }
  const std::string path = args.positional.empty() ? "" : args.positional[0];
  ASSIGN_OR_RETURN(std::unique_ptr<llm::Tokenizer> tok, LoadTokenizer(args.tokenizer));
  ASSIGN_OR_RETURN(std::string input, ReadInput(path));
  absl::Status s = args.decode ? Decode(*tok, input) : Encode(args, *tok, input);
  if (!s.ok()) {
    return absl::Status(s.code(), absl::StrCat(path.empty() ? "<stdin>" : path, ": ", s.message()));
  }
  return absl::OkStatus();
}

}  // namespace

int main(int argc, char** argv) {
  Args args;
  llm::FlagParser p("llm_tokenize", "Encode text to token ids, or decode ids to text.");
  p.AddString({"-t", "--tokenizer"}, &args.tokenizer,
              "Tokenizer checkpoint name (ASSETS/bpe_checkpoints/NAME) or directory", true);
  p.AddBool({"-d", "--decode"}, &args.decode,
            "Decode: read whitespace-separated ids, write the text's raw bytes");
  p.AddString({"--allowed_special"}, &args.allowed_special,
              "Special tokens encoded as their ids: all, none or a,b,... [default: none]");
  p.AddString({"--disallowed_special"}, &args.disallowed_special,
              "Special tokens whose text is an error: all, none or a,b,... [default: all]; "
              "those neither allowed nor disallowed are encoded as plain text");
  p.AddBool({"--lines"}, &args.lines,
            "Encode each input line separately: one output line per input line ('error: ...' "
            "for a line that fails; the exit code is then 1)");
  p.AddBool({"--stats"}, &args.stats, "Print bytes, tokens and encode speed to stderr");
  p.AddString({"--assets"}, &args.assets, "Assets directory [default: $LLM_ASSETS_DIR or ./assets]");
  p.AllowPositional(&args.positional, "[FILE]");
  p.SetEpilog(
      "Reads FILE (or stdin, also for '-'); encode prints the ids separated by spaces on one "
      "line.\nExamples:\n  llm_tokenize -t cl100k_base README.md\n"
      "  llm_tokenize -t o200k_base in.txt | llm_tokenize -t o200k_base -d > same.txt");
  if (int rc = p.ParseOrExit(argc, argv); rc >= 0) return rc;
  if (!args.assets.empty()) llm::SetAssetsDir(args.assets);
  absl::Status status = Run(args);
  if (!status.ok()) {
    std::fprintf(stderr, "llm_tokenize: error: %s\n", std::string(status.message()).c_str());
    return 1;
  }
  return 0;
}
