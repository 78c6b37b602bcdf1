// Drives the llm_client binary as a user would, against a real llm_server
// binary started on a free loopback port with assets written by this test:
// piped standard input, and an interactive terminal (a tmux session).
// Expected output is computed from the Tokenizer directly and from an
// independent formatter (checked by hand and against Python's format spec).
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "client/llm_client_extra.h"
#include "client/llm_client_lib.h"
#include "core/model/checkpoint.h"
#include "core/model/config.h"
#include "core/tokenizer/pretokenizer.h"
#include "core/tokenizer/tokenizer.h"
#include "tests/test_paths.h"

namespace llm {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

std::string BinaryDir() { return TestBuildDir(); }
std::string ClientBinary() { return BinaryDir() + "/client/llm_client"; }
std::string ServerBinary() { return BinaryDir() + "/server/llm_server"; }

std::string ReadFileOrEmpty(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The letters of the test tokenizer's merges, in rank order.
const std::string kLetters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";

// A tokenizer with ids past 1,000 (to exercise the thousands separator):
// every letter pair (52 x 52 merges, ids 256..2959), then space + letter
// (ids 2960..3011), and "<|endoftext|>" = 3012.
std::unique_ptr<Tokenizer> MakeTokenizer() {
  std::vector<Merge> merges;
  int32_t id = 256;
  for (char a : kLetters)
    for (char b : kLetters) merges.push_back({static_cast<unsigned char>(a), static_cast<unsigned char>(b), id++});
  for (char b : kLetters) merges.push_back({' ', static_cast<unsigned char>(b), id++});
  std::string pattern(SplitPatternByName(DefaultSplitPatternName()).value());
  auto tok = Tokenizer::FromMerges(pattern, merges).value();
  EXPECT_TRUE(tok->AddSpecialTokens({{"<|endoftext|>", id}}).ok());
  return tok;
}

ModelConfig MakeConfig(int32_t vocab) {
  ModelConfig c;
  c.vocab_size = vocab;
  c.context = 32;
  c.n_blocks = 1;
  c.d_model = 16;
  c.n_heads = 2;
  c.d_head = 8;
  c.d_ff = 32;
  return c;
}

std::vector<float> RandomParams(const ModelConfig& c) {
  ParamLayout layout(c);
  std::vector<float> p(layout.total);
  std::mt19937 rng(12345);
  std::uniform_real_distribution<float> u(-0.5f, 0.5f);
  for (float& x : p) x = u(rng);
  for (const BlockOffsets& b : layout.blocks)
    for (int i = 0; i < c.d_model; ++i) p[b.ln1_g + i] = p[b.ln2_g + i] = 1.0f;
  for (int i = 0; i < c.d_model; ++i) p[layout.lnf_g + i] = 1.0f;
  return p;
}

// Independent rendering of Python's f"{id:>6,}: [{piece}]\n".
std::string ExpectedLine(int64_t id, const std::string& piece) {
  std::string rev;
  int digits = 0;
  do {
    if (digits > 0 && digits % 3 == 0) rev += ',';
    rev += static_cast<char>('0' + id % 10);
    id /= 10;
    ++digits;
  } while (id > 0);
  std::string num(rev.rbegin(), rev.rend());
  while (num.size() < 6) num = " " + num;
  return num + ": [" + piece + "]\n";
}

struct RunResult {
  int exit_code = -1;
  std::string out, err;
};

// Runs llm_client with `args`, `input` as standard input (a file, so not a
// terminal), and a 60 s limit.
RunResult RunClient(const std::vector<std::string>& args, const std::string& input, const std::string& tmp) {
  static int counter = 0;
  const std::string base = tmp + "/run" + std::to_string(counter++);
  { std::ofstream(base + ".in", std::ios::binary) << input; }
  pid_t pid = fork();
  if (pid == 0) {
    freopen((base + ".in").c_str(), "rb", stdin);
    freopen((base + ".out").c_str(), "wb", stdout);
    freopen((base + ".err").c_str(), "wb", stderr);
    std::vector<std::string> all = {ClientBinary()};
    all.insert(all.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& a : all) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    _exit(127);
  }
  RunResult r;
  int status = 0;
  auto deadline = std::chrono::steady_clock::now() + 60s;
  while (waitpid(pid, &status, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() > deadline) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      ADD_FAILURE() << "llm_client timed out";
      break;
    }
    std::this_thread::sleep_for(5ms);
  }
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  r.out = ReadFileOrEmpty(base + ".out");
  r.err = ReadFileOrEmpty(base + ".err");
  return r;
}

int FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  socklen_t len = sizeof(addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return ntohs(addr.sin_port);
}

class LlmClientTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    tmp_ = (fs::temp_directory_path() / ("llm_client_test." + std::to_string(getpid()))).string();
    fs::remove_all(tmp_);
    fs::create_directories(tmp_);
    tokenizer_ = MakeTokenizer().release();
    ASSERT_TRUE(tokenizer_->Save(tmp_ + "/assets/bpe_checkpoints/clienttest").ok());
    fs::create_directories(tmp_ + "/assets/model_checkpoints/clienttest");
    CheckpointData data;
    data.config = MakeConfig(tokenizer_->vocab_size());
    data.params = RandomParams(data.config);
    data.tokenizer_name = "clienttest";
    data.tokenizer_fingerprint = tokenizer_->Fingerprint();
    ASSERT_TRUE(SaveCheckpoint(tmp_ + "/assets/model_checkpoints/clienttest/checkpoint.0.bin", data).ok());

    const std::string log = tmp_ + "/server.out";
    server_pid_ = fork();
    if (server_pid_ == 0) {
      freopen(log.c_str(), "wb", stdout);
      freopen((tmp_ + "/server.err").c_str(), "wb", stderr);
      std::string bin = ServerBinary(), assets = tmp_ + "/assets";
      execl(bin.c_str(), bin.c_str(), "--assets", assets.c_str(), "-t", "clienttest", "-n", "clienttest", "-c", "0",
            "--host", "127.0.0.1", "--port", "0", "--log_level", "warn", static_cast<char*>(nullptr));
      _exit(127);
    }
    const std::regex re("listening on 127\\.0\\.0\\.1:([0-9]+)");
    for (int i = 0; i < 6000 && port_ == 0; ++i) {
      std::smatch m;
      std::string out = ReadFileOrEmpty(log);
      if (std::regex_search(out, m, re)) port_ = std::stoi(m[1]);
      else std::this_thread::sleep_for(10ms);
      if (waitpid(server_pid_, nullptr, WNOHANG) != 0) break;
    }
    ASSERT_NE(port_, 0) << "llm_server did not start: " << ReadFileOrEmpty(tmp_ + "/server.err");
  }

  static void TearDownTestSuite() {
    if (server_pid_ > 0) {
      kill(server_pid_, SIGTERM);
      waitpid(server_pid_, nullptr, 0);
    }
    delete tokenizer_;
    fs::remove_all(tmp_);
  }

  void SetUp() override {
    if (port_ == 0) GTEST_SKIP() << "server not running";
  }

  // The expected tokenize output for one text.
  static std::string ExpectedTokens(const std::string& text) {
    absl::StatusOr<std::vector<int32_t>> ids = tokenizer_->Encode(text);
    EXPECT_TRUE(ids.ok()) << ids.status();
    if (!ids.ok()) return "";
    std::string out;
    for (size_t i = 0; i < ids->size(); ++i) {
      const int32_t id = (*ids)[i];
      absl::StatusOr<std::string> piece = tokenizer_->Decode({&id, 1});
      out += ExpectedLine(id, piece.ok() ? *piece : "?");
    }
    return out;
  }

  static std::string Port() { return std::to_string(port_); }

  static std::string tmp_;
  static Tokenizer* tokenizer_;
  static pid_t server_pid_;
  static int port_;
};
std::string LlmClientTest::tmp_;
Tokenizer* LlmClientTest::tokenizer_ = nullptr;
pid_t LlmClientTest::server_pid_ = -1;
int LlmClientTest::port_ = 0;

TEST(TokenLineFormat, HandWorkedExamples) {
  EXPECT_EQ(client::FormatTokenLine(77, "M"), "    77: [M]\n");
  EXPECT_EQ(client::FormatTokenLine(1410, " MACBETH"), " 1,410: [ MACBETH]\n");
  EXPECT_EQ(client::FormatTokenLine(0, ""), "     0: []\n");
  EXPECT_EQ(client::FormatTokenLine(999, "x"), "   999: [x]\n");
  EXPECT_EQ(client::FormatTokenLine(1000, "x"), " 1,000: [x]\n");
  EXPECT_EQ(client::FormatTokenLine(99999, "x"), "99,999: [x]\n");
  EXPECT_EQ(client::FormatTokenLine(100000, "x"), "100,000: [x]\n");  // wider than 6: not cut
  EXPECT_EQ(client::FormatTokenLine(1234567, "\n"), "1,234,567: [\n]\n");
  EXPECT_EQ(client::FormatThousands(-1234), "-1,234");
  for (int64_t id : {0, 7, 12, 345, 1000, 4096, 10255, 65535, 100277, 199997})
    EXPECT_EQ(client::FormatTokenLine(id, "p"), ExpectedLine(id, "p")) << id;
}

TEST(TokenLineFormat, MatchesPythonFormatSpec) {
  if (!fs::exists("/usr/bin/python3")) GTEST_SKIP() << "/usr/bin/python3 not found";
  const std::vector<int64_t> ids = {0, 5, 77, 999, 1000, 1410, 9999, 10000, 99999, 100000, 100256, 1234567};
  std::string cmd = "/usr/bin/python3 -c \"import sys\nfor n in [";
  for (int64_t id : ids) cmd += std::to_string(id) + ",";
  cmd += "]: sys.stdout.write(f'{n:>6,}: [x]\\n')\"";
  FILE* f = popen(cmd.c_str(), "r");
  ASSERT_NE(f, nullptr);
  std::string py;
  char buf[256];
  while (fgets(buf, sizeof(buf), f)) py += buf;
  ASSERT_EQ(pclose(f), 0);
  std::string ours;
  for (int64_t id : ids) ours += client::FormatTokenLine(id, "x");
  EXPECT_EQ(ours, py);
}

TEST(UnescapeNewlines, OnlyBackslashN) {
  EXPECT_EQ(client::UnescapeNewlines("a\\nb"), "a\nb");
  EXPECT_EQ(client::UnescapeNewlines("\\n\\n"), "\n\n");
  EXPECT_EQ(client::UnescapeNewlines("a\\tb\\"), "a\\tb\\");
  EXPECT_EQ(client::UnescapeNewlines("no escapes"), "no escapes");
}

TEST_F(LlmClientTest, PipedTokenizeMatchesTokenizer) {
  // Line 2 has a typed "\n"; line 3 has a multi-byte character (its bytes are
  // separate tokens, each printed as U+FFFD); the last line has no newline.
  const std::string input = "MACBETH and Hello world\nline one\\nline two\ncaf\xc3\xa9 ok\nLast";
  RunResult r = RunClient({"-e", "tokenize", "-p", Port()}, input, tmp_);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err, "");
  std::string expected = ExpectedTokens("MACBETH and Hello world") + ExpectedTokens("line one\nline two") +
                         ExpectedTokens("caf\xc3\xa9 ok") + ExpectedTokens("Last");
  EXPECT_EQ(r.out, expected);
  // Sanity of the fixture itself: ids past 1,000 and a newline token occur.
  EXPECT_NE(expected.find(","), std::string::npos);
  EXPECT_NE(expected.find("    10: [\n]\n"), std::string::npos);
  EXPECT_NE(expected.find("[\xef\xbf\xbd]"), std::string::npos);
}

TEST_F(LlmClientTest, PipedCompleteStreamsServerTextPlusNewline) {
  LlmClient lib("127.0.0.1:" + Port());
  std::string expected;
  for (const std::string prompt : {"Hello", "the\nend"}) {
    v1::CompleteRequest req;
    req.set_prompt(prompt);
    req.set_max_tokens(12);
    req.set_temperature(0.0f);
    auto res = lib.Complete(req);
    ASSERT_TRUE(res.ok()) << res.status();
    EXPECT_EQ(res->ids.size(), 12u);
    EXPECT_EQ(res->text, tokenizer_->Decode(res->ids).value());
    expected += res->text + "\n";
  }
  RunResult r = RunClient({"-e", "complete", "--port", Port(), "--max_tokens", "12", "--temperature", "0"},
                          "Hello\nthe\\nend\n", tmp_);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err, "");
  EXPECT_EQ(r.out, expected);
}

TEST_F(LlmClientTest, SamplingFlagsReachTheServer) {
  // Same seed -> same text; --max_tokens bounds the tokens; --stop cuts.
  std::vector<std::string> args = {"-e", "complete", "-p", Port(), "--max_tokens", "20", "--temperature", "0.9",
                                   "--top_k", "40", "--top_p", "0.95", "--seed", "7"};
  RunResult a = RunClient(args, "Hello\n", tmp_);
  RunResult b = RunClient(args, "Hello\n", tmp_);
  ASSERT_EQ(a.exit_code, 0) << a.err;
  EXPECT_EQ(a.out, b.out);
  LlmClient lib("127.0.0.1:" + Port());
  v1::CompleteRequest req;
  req.set_prompt("Hello");
  req.set_max_tokens(20);
  req.set_temperature(0.9f);
  req.set_top_k(40);
  req.set_top_p(0.95f);
  req.set_seed(7);
  auto res = lib.Complete(req);
  ASSERT_TRUE(res.ok()) << res.status();
  EXPECT_EQ(a.out, res->text + "\n");
  // A stop sequence taken from the middle of that text ends the output
  // before it (the server drops the stop text).
  std::string text = res->text;
  if (text.size() >= 6) {
    std::string stop = text.substr(text.size() / 2, 2);
    size_t cut = text.find(stop);
    std::vector<std::string> with_stop = args;
    with_stop.insert(with_stop.end(), {"--stop", stop, "--stop=\\n\\n\\n\\n"});
    RunResult s = RunClient(with_stop, "Hello\n", tmp_);
    EXPECT_EQ(s.exit_code, 0) << s.err;
    EXPECT_EQ(s.out, text.substr(0, cut) + "\n");
  }
}

TEST_F(LlmClientTest, ServerErrorsAreOneLineAndProcessingContinues) {
  // An empty prompt encodes to no token (INVALID_ARGUMENT); the next line
  // still completes; the exit code reports the failure.
  RunResult r = RunClient({"-e", "complete", "-p", Port(), "--max_tokens", "3", "--temperature", "0"}, "\nHello\n",
                          tmp_);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err.rfind("error: server returned INVALID_ARGUMENT: ", 0), 0u) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 1) << r.out;

  // Invalid UTF-8: the server's message names the byte offset.
  RunResult t = RunClient({"-e", "tokenize", "-p", Port()}, "ab\xff\nok\n", tmp_);
  EXPECT_EQ(t.exit_code, 1);
  EXPECT_EQ(t.err.rfind("error: server returned INVALID_ARGUMENT: ", 0), 0u) << t.err;
  EXPECT_NE(t.err.find("2"), std::string::npos) << t.err;
  EXPECT_EQ(t.out, ExpectedTokens("ok"));
}

TEST_F(LlmClientTest, UnreachableServerGivesClearMessage) {
  const std::string port = std::to_string(FreePort());
  const std::string expected = "error: cannot reach llm_server at 127.0.0.1:" + port +
                               " (is it running? start it with: llm_server -t TOKENIZER -n MODEL -c ITER --port " +
                               port + ")\n";
  for (const char* endpoint : {"tokenize", "complete"}) {
    RunResult r = RunClient({"-e", endpoint, "-p", port}, "hello\n", tmp_);
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_EQ(r.out, "");
    EXPECT_EQ(r.err, expected);
  }
  RunResult h = RunClient({"--health", "--port", port}, "", tmp_);
  EXPECT_EQ(h.exit_code, 1);
  EXPECT_EQ(h.err, expected);
}

TEST_F(LlmClientTest, HealthInfoHelpAndUsageErrors) {
  RunResult h = RunClient({"--health", "-p", Port()}, "", tmp_);
  EXPECT_EQ(h.exit_code, 0) << h.err;
  EXPECT_EQ(h.out, "SERVING\n");
  RunResult i = RunClient({"--info", "-p", Port()}, "", tmp_);
  EXPECT_EQ(i.exit_code, 0) << i.err;
  EXPECT_NE(i.out.find("tokenizer: clienttest (vocab_size=3,013, merges=2,756"), std::string::npos) << i.out;
  EXPECT_NE(i.out.find("model:     clienttest:0"), std::string::npos) << i.out;
  RunResult help = RunClient({"--help"}, "", tmp_);
  EXPECT_EQ(help.exit_code, 0);
  for (const char* flag : {"--endpoint", "--host", "--port", "--max_tokens", "--temperature", "--top_k", "--top_p",
                           "--seed", "--stop", "--health"})
    EXPECT_NE(help.out.find(flag), std::string::npos) << flag;
  RunResult bad = RunClient({"-e", "translate"}, "", tmp_);
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("'tokenize' or 'complete'"), std::string::npos) << bad.err;
  RunResult none = RunClient({}, "", tmp_);
  EXPECT_EQ(none.exit_code, 2);
}

// ---------------------------------------------------------------------------
// Interactive use in a terminal (tmux).

class Tmux {
 public:
  explicit Tmux(const std::string& command) : socket_("llmct" + std::to_string(getpid()) + "_" + std::to_string(n_++)) {
    // The shell prints the exit status and then keeps the pane alive (its
    // own SIGINT trap keeps it running after the client's Ctrl-C).
    Run("new-session -d -s main -x 200 -y 60 " + Quote("trap : INT; " + command + "; echo EXIT=$?; sleep 120"));
  }
  ~Tmux() { Run("kill-server"); }

  static bool Available() { return std::system("command -v tmux >/dev/null 2>&1") == 0; }

  void SendLiteral(const std::string& text) { Run("send-keys -t main -l " + Quote(text)); }
  void SendKey(const std::string& key) { Run("send-keys -t main " + key); }
  std::string Capture() {
    std::string cmd = "TERM=xterm tmux -L " + socket_ + " capture-pane -p -t main -S -100";
    std::string out;
    if (FILE* f = popen(cmd.c_str(), "r")) {
      char buf[4096];
      size_t n;
      while ((n = fread(buf, 1, sizeof(buf), f)) > 0) out.append(buf, n);
      pclose(f);
    }
    return out;
  }
  // Waits up to 30 s until the pane contains `text` `count` times.
  bool WaitFor(const std::string& text, int count = 1) {
    for (int i = 0; i < 3000; ++i) {
      std::string pane = Capture();
      int found = 0;
      for (size_t pos = pane.find(text); pos != std::string::npos; pos = pane.find(text, pos + 1)) ++found;
      if (found >= count) return true;
      std::this_thread::sleep_for(10ms);
    }
    return false;
  }

  static std::string Quote(const std::string& s) {
    std::string q = "'";
    for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return q + "'";
  }

 private:
  void Run(const std::string& args) {
    std::string cmd = "TERM=xterm tmux -L " + socket_ + " -f /dev/null " + args + " >/dev/null 2>&1";
    if (std::system(cmd.c_str()) != 0 && args != "kill-server") ADD_FAILURE() << "tmux failed: " << cmd;
  }
  std::string socket_;
  static inline int n_ = 0;
};

// The terminal turns "\n" into CR LF and capture-pane gives one line per row;
// a printed "[\n]" shows up as "[" and "]" on two rows, which is what the
// expected text's newlines already say.
TEST_F(LlmClientTest, InteractiveTokenizeInTerminal) {
  if (!Tmux::Available()) GTEST_SKIP() << "tmux not installed (scripts/install_deps.sh installs it)";
  Tmux t(ClientBinary() + " -e tokenize --port " + Port());
  ASSERT_TRUE(t.WaitFor("Enter text to tokenize:")) << t.Capture();
  t.SendLiteral("MACBETH and Hello");
  t.SendKey("Enter");
  const std::string block1 =
      "Enter text to tokenize:MACBETH and Hello\n" + ExpectedTokens("MACBETH and Hello") + "Enter text to tokenize:";
  ASSERT_TRUE(t.WaitFor(block1)) << t.Capture() << "\nexpected:\n" << block1;
  t.SendLiteral("one\\ntwo");
  t.SendKey("Enter");
  const std::string block2 = "Enter text to tokenize:one\\ntwo\n" + ExpectedTokens("one\ntwo") + "Enter text to tokenize:";
  ASSERT_TRUE(t.WaitFor(block2)) << t.Capture() << "\nexpected:\n" << block2;
  // Ctrl-C at the prompt exits cleanly (no trace, status 0).
  t.SendKey("C-c");
  ASSERT_TRUE(t.WaitFor("EXIT=0")) << t.Capture();
  std::string pane = t.Capture();
  EXPECT_EQ(pane.find("rror"), std::string::npos) << pane;
}

TEST_F(LlmClientTest, InteractiveCompleteInTerminal) {
  if (!Tmux::Available()) GTEST_SKIP() << "tmux not installed (scripts/install_deps.sh installs it)";
  // Expected text from the library; compared in the pane only if printable.
  LlmClient lib("127.0.0.1:" + Port());
  v1::CompleteRequest req;
  req.set_prompt("Hello");
  req.set_max_tokens(6);
  req.set_temperature(0.0f);
  auto res = lib.Complete(req);
  ASSERT_TRUE(res.ok()) << res.status();
  bool printable = true;
  for (unsigned char c : res->text) printable = printable && c >= 0x20 && c < 0x7f;

  Tmux t(ClientBinary() + " -e complete --max_tokens 6 --temperature 0 -p " + Port());
  ASSERT_TRUE(t.WaitFor("Enter text to complete:")) << t.Capture();
  t.SendLiteral("Hello");
  t.SendKey("Enter");
  ASSERT_TRUE(t.WaitFor("Enter text to complete:", 2)) << t.Capture();
  if (printable) {
    const std::string block = "Enter text to complete:Hello\n" + res->text + "\nEnter text to complete:";
    EXPECT_TRUE(t.WaitFor(block)) << t.Capture() << "\nexpected:\n" << block;
  }
  // EOF (Ctrl-D) at the prompt exits 0.
  t.SendKey("C-d");
  ASSERT_TRUE(t.WaitFor("EXIT=0")) << t.Capture();
}

}  // namespace
}  // namespace llm
