#include "core/data/corpus.h"

#include <curl/curl.h>
#include <openssl/evp.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <mutex>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "core/util/file_util.h"
#include "core/util/paths.h"
#include "core/util/progress.h"
#include "core/util/status_macros.h"

namespace llm {
namespace {

constexpr int64_t kMiB = 1024 * 1024;

// Length in bytes of the UTF-8 sequence starting at text[i], or 0 if the
// bytes there are not a valid (shortest-form, non-surrogate, <= U+10FFFF)
// encoding of one code point.
size_t Utf8SequenceLength(std::string_view text, size_t i) {
  auto byte = [&](size_t k) { return static_cast<unsigned char>(text[k]); };
  auto cont = [&](size_t k) { return k < text.size() && (byte(k) & 0xC0) == 0x80; };
  unsigned char b0 = byte(i);
  if (b0 < 0x80) return 1;
  if (b0 >= 0xC2 && b0 <= 0xDF) return cont(i + 1) ? 2 : 0;
  if (b0 >= 0xE0 && b0 <= 0xEF) {
    if (!cont(i + 1) || !cont(i + 2)) return 0;
    if (b0 == 0xE0 && byte(i + 1) < 0xA0) return 0;   // overlong
    if (b0 == 0xED && byte(i + 1) >= 0xA0) return 0;  // surrogate
    return 3;
  }
  if (b0 >= 0xF0 && b0 <= 0xF4) {
    if (!cont(i + 1) || !cont(i + 2) || !cont(i + 3)) return 0;
    if (b0 == 0xF0 && byte(i + 1) < 0x90) return 0;   // overlong
    if (b0 == 0xF4 && byte(i + 1) >= 0x90) return 0;  // > U+10FFFF
    return 4;
  }
  return 0;
}

std::string Commas(int64_t n) {
  std::string digits = absl::StrCat(n < 0 ? -n : n);
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return n < 0 ? "-" + out : out;
}

void Log(const DownloadOptions& o, const std::string& line) {
  if (o.log) o.log(line);
}

// Whether the four files under `dir` exist and are a valid, consistent copy.
// Returns the report on success, or the reason they are not valid.
absl::StatusOr<DownloadReport> CheckExisting(const std::string& dir, const CorpusSpec& spec) {
  ASSIGN_OR_RETURN(std::string raw, ReadFile(dir + "/raw.txt"));
  RETURN_IF_ERROR(VerifyCorpus(raw, spec, dir + "/raw.txt"));
  ASSIGN_OR_RETURN(CorpusSplits splits, SplitCorpus(raw, spec));
  const std::pair<const char*, std::string_view> parts[] = {
      {"train.txt", splits.train}, {"val.txt", splits.val}, {"test.txt", splits.test}};
  for (const auto& [file, expected] : parts) {
    std::string path = absl::StrCat(dir, "/", file);
    ASSIGN_OR_RETURN(std::string got, ReadFile(path));
    if (got != expected) {
      return absl::DataLossError(absl::StrCat("'", path, "' does not match its slice of raw.txt"));
    }
  }
  DownloadReport r;
  r.skipped = true;
  r.source = "existing files";
  r.text_dir = dir;
  r.raw_bytes = static_cast<int64_t>(raw.size());
  r.train_bytes = static_cast<int64_t>(splits.train.size());
  r.val_bytes = static_cast<int64_t>(splits.val.size());
  r.test_bytes = static_cast<int64_t>(splits.test.size());
  r.train_chars = spec.train_chars;
  r.val_chars = spec.val_chars;
  r.test_chars = spec.test_chars;
  return r;
}

// libcurl glue ---------------------------------------------------------------

struct Transfer {
  std::string body;
  size_t max_bytes = 0;
  bool too_large = false;
  const FetchOptions* options = nullptr;
  std::unique_ptr<ProgressBar> bar;
};

size_t WriteCallback(char* data, size_t size, size_t nmemb, void* user) {
  auto* t = static_cast<Transfer*>(user);
  size_t n = size * nmemb;
  if (t->body.size() + n > t->max_bytes) {
    t->too_large = true;
    return 0;  // makes curl abort with CURLE_WRITE_ERROR
  }
  t->body.append(data, n);
  return n;
}

int ProgressCallback(void* user, curl_off_t dltotal, curl_off_t dlnow, curl_off_t, curl_off_t) {
  auto* t = static_cast<Transfer*>(user);
  if (!t->options->show_progress || dlnow <= 0) return 0;
  if (t->bar == nullptr) {
    int64_t total = dltotal > 0 ? static_cast<int64_t>(dltotal) : t->options->expected_bytes;
    t->bar = std::make_unique<ProgressBar>("download", total, "B");
  }
  t->bar->Update(static_cast<int64_t>(dlnow));
  return 0;
}

void GlobalCurlInit() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

absl::Status HttpStatusError(long code, const std::string& url) {
  std::string msg = absl::StrCat("HTTP ", code, " fetching ", url);
  switch (code) {
    case 401:
    case 403:
      return absl::PermissionDeniedError(msg);
    case 404:
    case 410:
      return absl::NotFoundError(msg);
    case 429:
      return absl::ResourceExhaustedError(msg);
    default:
      return code >= 500 ? absl::UnavailableError(msg) : absl::FailedPreconditionError(msg);
  }
}

}  // namespace

const CorpusSpec& ShakespeareCorpus() {
  static const CorpusSpec* spec = [] {
    auto* s = new CorpusSpec;
    s->name = "shakespeare";
    s->url = "https://ocw.mit.edu/ans7870/6/6.006/s08/lecturenotes/files/t8.shakespeare.txt";
    s->total_bytes = 5'458'199;
    s->total_chars = 5'458'199;
    s->sha256_hex = "c5601d266987ac885ca96522b1b4e439feb7eca39f0fe1111f7342b63b6468f3";
    s->test_chars = 1 * kMiB;
    s->val_chars = 1 * kMiB;
    s->train_chars = s->total_chars - s->val_chars - s->test_chars;
    return s;
  }();
  return *spec;
}

std::string Sha256Hex(std::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
  // These only fail on allocation failure or a broken OpenSSL: invariants.
  if (ctx == nullptr || EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) != 1 ||
      EVP_DigestUpdate(ctx.get(), data.data(), data.size()) != 1 ||
      EVP_DigestFinal_ex(ctx.get(), digest, &len) != 1) {
    std::fprintf(stderr, "FATAL: OpenSSL SHA-256 failed\n");
    std::abort();
  }
  std::string hex;
  hex.reserve(2 * len);
  static constexpr char kHex[] = "0123456789abcdef";
  for (unsigned int i = 0; i < len; ++i) {
    hex += kHex[digest[i] >> 4];
    hex += kHex[digest[i] & 15];
  }
  return hex;
}

absl::Status VerifyCorpus(std::string_view data, const CorpusSpec& spec, const std::string& source) {
  if (static_cast<int64_t>(data.size()) != spec.total_bytes) {
    return absl::DataLossError(absl::StrCat(
        source, ": wrong size for the ", spec.name, " corpus: expected ", Commas(spec.total_bytes),
        " bytes, got ", Commas(static_cast<int64_t>(data.size())), " bytes"));
  }
  std::string actual = Sha256Hex(data);
  if (actual != spec.sha256_hex) {
    return absl::DataLossError(absl::StrCat(source, ": wrong SHA-256 for the ", spec.name,
                                            " corpus: expected ", spec.sha256_hex, ", got ",
                                            actual));
  }
  return absl::OkStatus();
}

absl::StatusOr<CorpusSplits> SplitCorpus(std::string_view text, const CorpusSpec& spec) {
  if (spec.train_chars < 0 || spec.val_chars < 0 || spec.test_chars < 0 ||
      spec.train_chars + spec.val_chars + spec.test_chars != spec.total_chars) {
    return absl::InvalidArgumentError(absl::StrCat(
        "split sizes ", spec.train_chars, " + ", spec.val_chars, " + ", spec.test_chars,
        " do not add up to the corpus size ", spec.total_chars));
  }
  // Byte offsets of the two cut points (after train, after val).
  const int64_t cut_chars[2] = {spec.train_chars, spec.train_chars + spec.val_chars};
  size_t cut_bytes[2] = {0, 0};
  int64_t chars = 0;
  size_t i = 0;
  while (i < text.size()) {
    for (int c = 0; c < 2; ++c) {
      if (chars == cut_chars[c]) cut_bytes[c] = i;
    }
    size_t len = Utf8SequenceLength(text, i);
    if (len == 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("corpus is not valid UTF-8 at byte offset ", i));
    }
    i += len;
    ++chars;
  }
  for (int c = 0; c < 2; ++c) {
    if (chars == cut_chars[c]) cut_bytes[c] = i;
  }
  if (chars != spec.total_chars) {
    return absl::InvalidArgumentError(absl::StrCat("corpus has ", Commas(chars),
                                                   " characters, expected ",
                                                   Commas(spec.total_chars)));
  }
  CorpusSplits s;
  s.train = text.substr(0, cut_bytes[0]);
  s.val = text.substr(cut_bytes[0], cut_bytes[1] - cut_bytes[0]);
  s.test = text.substr(cut_bytes[1]);
  return s;
}

absl::StatusOr<std::string> HttpGet(const std::string& url, const FetchOptions& options) {
  GlobalCurlInit();
  std::unique_ptr<CURL, decltype(&curl_easy_cleanup)> curl(curl_easy_init(), &curl_easy_cleanup);
  if (curl == nullptr) return absl::InternalError("curl_easy_init failed");
  Transfer t;
  t.max_bytes = options.max_bytes;
  t.options = &options;
  char errbuf[CURL_ERROR_SIZE] = {0};
  CURL* c = curl.get();
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
  curl_easy_setopt(c, CURLOPT_MAXREDIRS, 5L);
  curl_easy_setopt(c, CURLOPT_FAILONERROR, 1L);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, options.connect_timeout_seconds);
  curl_easy_setopt(c, CURLOPT_TIMEOUT, options.total_timeout_seconds);
  curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1024L);
  curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, options.low_speed_seconds);
  curl_easy_setopt(c, CURLOPT_USERAGENT, "llm-cpp-download_data/1.0");
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, &WriteCallback);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &t);
  curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, &ProgressCallback);
  curl_easy_setopt(c, CURLOPT_XFERINFODATA, &t);
  if (options.max_bytes > 0) {
    curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, static_cast<curl_off_t>(options.max_bytes));
  }

  CURLcode rc = curl_easy_perform(c);
  if (t.bar != nullptr) t.bar->Finish();
  long http_code = 0;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &http_code);
  if (rc == CURLE_OK) return std::move(t.body);

  std::string detail = errbuf[0] != '\0' ? std::string(errbuf) : curl_easy_strerror(rc);
  if (rc == CURLE_HTTP_RETURNED_ERROR) return HttpStatusError(http_code, url);
  if (t.too_large || rc == CURLE_FILESIZE_EXCEEDED) {
    return absl::ResourceExhaustedError(
        absl::StrCat("download of ", url, " exceeds the limit of ", options.max_bytes, " bytes"));
  }
  switch (rc) {
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_CONNECT:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
      return absl::UnavailableError(absl::StrCat("cannot fetch ", url, ": ", detail));
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
      return absl::InvalidArgumentError(absl::StrCat("bad URL '", url, "': ", detail));
    default:
      return absl::UnknownError(absl::StrCat("cannot fetch ", url, ": ", detail));
  }
}

std::vector<std::string> DefaultFallbackPaths() {
  std::vector<std::string> paths;
  const char* shared = std::getenv("LLM_SHARED_DIR");
  if (shared != nullptr && shared[0] != '\0') {
    paths.push_back(absl::StrCat(shared, "/data/shakespeare.txt"));
  }
  paths.push_back("../shared/data/shakespeare.txt");
  return paths;
}

absl::StatusOr<DownloadReport> DownloadAndSplit(const DownloadOptions& options) {
  const CorpusSpec& spec = options.spec;
  const std::string dir = TextDir();

  // 1. Nothing to do if a valid copy is already in place.
  if (!options.overwrite) {
    absl::StatusOr<DownloadReport> existing = CheckExisting(dir, spec);
    if (existing.ok()) {
      Log(options, absl::StrCat("Text files in ", dir,
                                " are present and valid (raw.txt SHA-256 ", spec.sha256_hex,
                                "); nothing to do. Use -y/--overwrite to redo."));
      return existing;
    }
    if (PathExists(dir + "/raw.txt")) {
      Log(options, absl::StrCat("Existing text files are not usable (",
                                std::string(existing.status().message()), "); recreating them."));
    }
  }

  // 2. Fetch.
  std::string raw;
  std::string source;
  if (!options.from.empty()) {
    ASSIGN_OR_RETURN(raw, ReadFile(options.from));
    source = absl::StrCat("file ", options.from);
    Log(options, absl::StrCat("Read ", Commas(static_cast<int64_t>(raw.size())), " bytes from ",
                              options.from));
  } else {
    std::string network_error;
    if (options.allow_network) {
      const std::string url = options.url.empty() ? spec.url : options.url;
      Log(options, absl::StrCat("Downloading ", url));
      FetchOptions fetch = options.fetch;
      if (fetch.expected_bytes == 0) fetch.expected_bytes = spec.total_bytes;
      absl::StatusOr<std::string> body = HttpGet(url, fetch);
      if (body.ok()) {
        raw = *std::move(body);
        source = url;
        Log(options, absl::StrCat("Downloaded ", Commas(static_cast<int64_t>(raw.size())),
                                  " bytes from ", url));
      } else {
        network_error = std::string(body.status().message());
        Log(options, absl::StrCat("Download failed: ", network_error));
      }
    } else {
      network_error = "network disabled (--no-network)";
    }
    if (source.empty()) {
      for (const std::string& path : options.fallback_paths) {
        if (!PathExists(path)) continue;
        ASSIGN_OR_RETURN(raw, ReadFile(path));
        source = absl::StrCat("file ", path);
        Log(options, absl::StrCat("Using the offline copy ", path, " (",
                                  Commas(static_cast<int64_t>(raw.size())), " bytes)"));
        break;
      }
    }
    if (source.empty()) {
      std::string tried;
      for (const std::string& path : options.fallback_paths) {
        absl::StrAppend(&tried, tried.empty() ? "" : ", ", path);
      }
      return absl::FailedPreconditionError(absl::StrCat(
          "no source for the ", spec.name, " corpus: ", network_error,
          "; no offline copy found (looked for ", tried.empty() ? "nothing" : tried,
          "). Download ", spec.url, " on a machine with network access and run: download_data "
          "--from PATH (expected ", Commas(spec.total_bytes), " bytes, SHA-256 ",
          spec.sha256_hex, ")"));
    }
  }

  // 3. Verify, split, write.
  RETURN_IF_ERROR(VerifyCorpus(raw, spec, source));
  ASSIGN_OR_RETURN(CorpusSplits splits, SplitCorpus(raw, spec));
  RETURN_IF_ERROR(MakeDirs(dir));
  RETURN_IF_ERROR(WriteFileAtomic(dir + "/raw.txt", raw));
  RETURN_IF_ERROR(WriteFileAtomic(dir + "/train.txt", splits.train));
  RETURN_IF_ERROR(WriteFileAtomic(dir + "/val.txt", splits.val));
  RETURN_IF_ERROR(WriteFileAtomic(dir + "/test.txt", splits.test));

  DownloadReport r;
  r.source = source;
  r.text_dir = dir;
  r.raw_bytes = static_cast<int64_t>(raw.size());
  r.train_bytes = static_cast<int64_t>(splits.train.size());
  r.val_bytes = static_cast<int64_t>(splits.val.size());
  r.test_bytes = static_cast<int64_t>(splits.test.size());
  r.train_chars = spec.train_chars;
  r.val_chars = spec.val_chars;
  r.test_chars = spec.test_chars;
  return r;
}

}  // namespace llm
