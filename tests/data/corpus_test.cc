// Unit tests for core/data/corpus.h. Most use a tiny synthetic CorpusSpec so
// they run in milliseconds; the real corpus is covered by
// tests/tools/download_data_test.cc.
#include "core/data/corpus.h"

#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>

#include "core/util/file_util.h"
#include "core/util/paths.h"

namespace llm {
namespace {

using ::testing::HasSubstr;

std::string TempDir() {
  std::string tmpl = std::filesystem::temp_directory_path().string() + "/llm_corpus_XXXXXX";
  char* d = ::mkdtemp(tmpl.data());
  EXPECT_NE(d, nullptr);
  return tmpl;
}

// "héllo\nwörld\n!" : 13 characters, 15 bytes (é and ö are 2 bytes each).
const std::string kText = "h\xC3\xA9llo\nw\xC3\xB6rld\n!";

CorpusSpec TinySpec() {
  CorpusSpec s;
  s.name = "tiny";
  s.url = "http://127.0.0.1:1/tiny.txt";
  s.total_bytes = 15;
  s.total_chars = 13;
  // printf 'h\xc3\xa9llo\nw\xc3\xb6rld\n!' | sha256sum
  s.sha256_hex = "17c40c58b9a2c51cbacb715245a9db86ca9027989660a9f42e4977ee846edf9e";
  s.train_chars = 7;  // "héllo\nw"
  s.val_chars = 5;    // "örld\n"
  s.test_chars = 1;   // "!"
  return s;
}

TEST(CorpusTest, Sha256KnownVectors) {
  // FIPS 180-2 test vectors.
  EXPECT_EQ(Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(Sha256Hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(CorpusTest, ShakespeareSpecMatchesTheOriginal) {
  const CorpusSpec& s = ShakespeareCorpus();
  EXPECT_EQ(s.total_bytes, 5458199);
  EXPECT_EQ(s.test_chars, 1048576);
  EXPECT_EQ(s.val_chars, 1048576);
  EXPECT_EQ(s.train_chars, 3361047);
  EXPECT_EQ(s.url, "https://ocw.mit.edu/ans7870/6/6.006/s08/lecturenotes/files/t8.shakespeare.txt");
  EXPECT_EQ(s.sha256_hex, "c5601d266987ac885ca96522b1b4e439feb7eca39f0fe1111f7342b63b6468f3");
}

TEST(CorpusTest, SplitsByCharactersNotBytes) {
  auto s = SplitCorpus(kText, TinySpec());
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->train, "h\xC3\xA9llo\nw");
  EXPECT_EQ(s->val, "\xC3\xB6rld\n");
  EXPECT_EQ(s->test, "!");
}

TEST(CorpusTest, SplitRejectsBadUtf8AndWrongLength) {
  std::string bad = kText;
  bad[1] = 'x';  // leaves the continuation byte 0xA9 at offset 2 orphaned
  auto s = SplitCorpus(bad, TinySpec());
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(std::string(s.status().message()), HasSubstr("byte offset 2"));
  auto short_text = SplitCorpus("abc", TinySpec());
  ASSERT_FALSE(short_text.ok());
  EXPECT_THAT(std::string(short_text.status().message()), HasSubstr("expected 13"));
}

TEST(CorpusTest, VerifyNamesExpectedAndActual) {
  CorpusSpec spec = TinySpec();
  absl::Status size = VerifyCorpus("abc", spec, "file X");
  EXPECT_EQ(size.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(size.message()), HasSubstr("file X"));
  EXPECT_THAT(std::string(size.message()), HasSubstr("expected 15 bytes, got 3 bytes"));
  std::string same_size(15, 'a');
  absl::Status sha = VerifyCorpus(same_size, spec, "file X");
  EXPECT_EQ(sha.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(sha.message()), HasSubstr("expected " + spec.sha256_hex));
  EXPECT_THAT(std::string(sha.message()), HasSubstr("got " + Sha256Hex(same_size)));
}

// DownloadAndSplit against a temp assets dir ---------------------------------

class DownloadTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = TempDir();
    SetAssetsDir(dir_ + "/assets");
    source_ = dir_ + "/tiny.txt";
    ASSERT_TRUE(WriteFileAtomic(source_, kText).ok());
    spec_ = TinySpec();
    opts_.spec = spec_;
    opts_.allow_network = false;
    opts_.fallback_paths = {};
  }
  void TearDown() override { ASSERT_TRUE(RemoveAll(dir_).ok()); }
  std::string Text(const std::string& name) {
    auto r = ReadFile(dir_ + "/assets/text/" + name);
    return r.ok() ? *r : "<" + std::string(r.status().message()) + ">";
  }

  std::string dir_, source_;
  CorpusSpec spec_;
  DownloadOptions opts_;
};

TEST_F(DownloadTest, SpecHash) {
  // Computed with: printf 'h\xc3\xa9llo\nw\xc3\xb6rld\n!' | sha256sum
  EXPECT_EQ(Sha256Hex(kText), "17c40c58b9a2c51cbacb715245a9db86ca9027989660a9f42e4977ee846edf9e");
}

TEST_F(DownloadTest, FromLocalFileWritesAllFour) {
  opts_.from = source_;
  auto r = DownloadAndSplit(opts_);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_FALSE(r->skipped);
  EXPECT_EQ(r->source, "file " + source_);
  EXPECT_EQ(Text("raw.txt"), kText);
  EXPECT_EQ(Text("train.txt"), "h\xC3\xA9llo\nw");
  EXPECT_EQ(Text("val.txt"), "\xC3\xB6rld\n");
  EXPECT_EQ(Text("test.txt"), "!");
  EXPECT_EQ(r->train_bytes, 8);
  EXPECT_EQ(r->val_bytes, 6);
  EXPECT_EQ(r->test_bytes, 1);

  // Second run: valid files are kept.
  auto again = DownloadAndSplit(opts_);
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->skipped);

  // A damaged split is detected and rebuilt.
  ASSERT_TRUE(WriteFileAtomic(dir_ + "/assets/text/val.txt", "garbage").ok());
  auto fixed = DownloadAndSplit(opts_);
  ASSERT_TRUE(fixed.ok()) << fixed.status();
  EXPECT_FALSE(fixed->skipped);
  EXPECT_EQ(Text("val.txt"), "\xC3\xB6rld\n");

  // --overwrite redoes the work even when everything is valid.
  opts_.overwrite = true;
  auto redo = DownloadAndSplit(opts_);
  ASSERT_TRUE(redo.ok());
  EXPECT_FALSE(redo->skipped);
}

TEST_F(DownloadTest, WrongChecksumIsAnErrorAndWritesNothing) {
  std::string wrong = kText;
  wrong[0] = 'H';  // same size, different content
  ASSERT_TRUE(WriteFileAtomic(source_, wrong).ok());
  opts_.from = source_;
  auto r = DownloadAndSplit(opts_);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(r.status().message()), HasSubstr(source_));
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("expected " + spec_.sha256_hex));
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("got " + Sha256Hex(wrong)));
  EXPECT_FALSE(PathExists(dir_ + "/assets/text/raw.txt"));
}

TEST_F(DownloadTest, MissingFromFileIsNotFound) {
  opts_.from = dir_ + "/does_not_exist.txt";
  opts_.fallback_paths = {source_};  // --from is final: no fallback
  auto r = DownloadAndSplit(opts_);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("does_not_exist.txt"));
}

TEST_F(DownloadTest, NoNetworkUsesFirstExistingFallback) {
  opts_.fallback_paths = {dir_ + "/missing.txt", source_};
  auto r = DownloadAndSplit(opts_);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->source, "file " + source_);
  EXPECT_EQ(Text("test.txt"), "!");
}

TEST_F(DownloadTest, NoSourceAtAllSaysHowToSupplyTheFile) {
  opts_.fallback_paths = {dir_ + "/missing.txt"};
  auto r = DownloadAndSplit(opts_);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition);
  std::string msg(r.status().message());
  EXPECT_THAT(msg, HasSubstr("--no-network"));
  EXPECT_THAT(msg, HasSubstr("--from PATH"));
  EXPECT_THAT(msg, HasSubstr(dir_ + "/missing.txt"));
  EXPECT_THAT(msg, HasSubstr(spec_.sha256_hex));
}

TEST_F(DownloadTest, UnreachableNetworkFallsBackQuickly) {
  // Port 1 on localhost: connection refused at once (no real network used).
  opts_.allow_network = true;
  opts_.url = "http://127.0.0.1:1/tiny.txt";
  opts_.fetch.show_progress = false;
  opts_.fallback_paths = {source_};
  std::vector<std::string> log;
  opts_.log = [&](const std::string& line) { log.push_back(line); };
  auto r = DownloadAndSplit(opts_);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->source, "file " + source_);
  bool saw_failure = false;
  for (const auto& l : log) saw_failure |= l.find("Download failed") != std::string::npos;
  EXPECT_TRUE(saw_failure);
}

// A one-shot HTTP server on 127.0.0.1 that answers each connection with the
// next canned response.
class TinyHttpServer {
 public:
  explicit TinyHttpServer(std::vector<std::string> responses) : responses_(std::move(responses)) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    socklen_t len = sizeof(addr);
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    EXPECT_EQ(::listen(fd_, 4), 0);
    thread_ = std::thread([this] {
      for (const std::string& resp : responses_) {
        int c = ::accept(fd_, nullptr, nullptr);
        if (c < 0) return;
        std::string req;
        char buf[4096];
        while (req.find("\r\n\r\n") == std::string::npos) {
          ssize_t n = ::recv(c, buf, sizeof(buf), 0);
          if (n <= 0) break;
          req.append(buf, static_cast<size_t>(n));
        }
        requests_.push_back(req);
        (void)!::send(c, resp.data(), resp.size(), MSG_NOSIGNAL);
        ::close(c);
      }
    });
  }
  ~TinyHttpServer() {
    ::shutdown(fd_, SHUT_RDWR);
    ::close(fd_);
    thread_.join();
  }
  std::string Url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }
  static std::string Ok(const std::string& body) {
    return "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(body.size()) +
           "\r\nConnection: close\r\n\r\n" + body;
  }

 private:
  std::vector<std::string> responses_;
  std::vector<std::string> requests_;
  int fd_ = -1;
  int port_ = 0;
  std::thread thread_;
};

TEST(HttpGetTest, DownloadsFollowsRedirectsAndFailsOnHttpErrors) {
  TinyHttpServer server({"HTTP/1.1 302 Found\r\nLocation: /final\r\nContent-Length: 0\r\n"
                         "Connection: close\r\n\r\n",
                         TinyHttpServer::Ok("payload"),
                         "HTTP/1.1 404 Not Found\r\nContent-Length: 3\r\nConnection: close\r\n"
                         "\r\nno!"});
  FetchOptions o;
  o.show_progress = false;
  auto body = HttpGet(server.Url("/start"), o);
  ASSERT_TRUE(body.ok()) << body.status();
  EXPECT_EQ(*body, "payload");
  auto missing = HttpGet(server.Url("/missing"), o);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(missing.status().message()), HasSubstr("HTTP 404"));
  EXPECT_THAT(std::string(missing.status().message()), HasSubstr("/missing"));
}

TEST(HttpGetTest, SizeLimitAndBadSchemes) {
  TinyHttpServer server({TinyHttpServer::Ok(std::string(1000, 'x'))});
  FetchOptions o;
  o.show_progress = false;
  o.max_bytes = 100;
  auto big = HttpGet(server.Url("/big"), o);
  ASSERT_FALSE(big.ok());
  EXPECT_EQ(big.status().code(), absl::StatusCode::kResourceExhausted);
  auto file = HttpGet("file:///etc/passwd", o);
  ASSERT_FALSE(file.ok());
  EXPECT_EQ(file.status().code(), absl::StatusCode::kInvalidArgument);
  auto refused = HttpGet("http://127.0.0.1:1/x", o);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kUnavailable);
}

TEST_F(DownloadTest, DownloadFromUrlIsVerifiedAndSplit) {
  TinyHttpServer server({TinyHttpServer::Ok(kText)});
  opts_.allow_network = true;
  opts_.url = server.Url("/tiny.txt");
  opts_.fetch.show_progress = false;
  auto r = DownloadAndSplit(opts_);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->source, opts_.url);
  EXPECT_EQ(Text("raw.txt"), kText);
  EXPECT_EQ(Text("train.txt"), "h\xC3\xA9llo\nw");
}

TEST_F(DownloadTest, DownloadedContentWithWrongChecksumIsRejectedNotFallenBackFrom) {
  TinyHttpServer server({TinyHttpServer::Ok(std::string(15, 'z'))});
  opts_.allow_network = true;
  opts_.url = server.Url("/tiny.txt");
  opts_.fetch.show_progress = false;
  opts_.fallback_paths = {source_};
  auto r = DownloadAndSplit(opts_);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(r.status().message()), HasSubstr(opts_.url));
}

}  // namespace
}  // namespace llm
