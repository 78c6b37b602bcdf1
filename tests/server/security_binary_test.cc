// Security checks on the real llm_server binary: prompt text and bearer
// tokens never reach the log unless --log_prompts is given; token files and
// TLS flags are validated at startup; the default address is loopback.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <tuple>
#include <utility>
#include <thread>
#include <vector>

#include "client/llm_client_lib.h"
#include "tests/server/test_util.h"
#include "tests/test_paths.h"

namespace llm {
namespace {

using std::chrono::milliseconds;
namespace fs = std::filesystem;

std::string ServerBinary() { return TestBinary("server/llm_server"); }

// The server with stdout on a pipe and stderr in `log` (a file: a pipe could
// fill up and block the server).
struct Server {
  pid_t pid = -1;
  int out_fd = -1;
  int port = -1;
};

Server Spawn(const std::vector<std::string>& args, const std::string& log,
             const std::vector<std::string>& env = {}) {
  int out[2];
  if (pipe(out) != 0) abort();
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  Server s;
  s.pid = fork();
  if (s.pid == 0) {
    dup2(out[1], 1);
    int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(fd, 2);
    close(out[0]);
    for (const auto& e : env) putenv(const_cast<char*>(e.c_str()));
    execv(argv[0], argv.data());
    _exit(127);
  }
  close(out[1]);
  s.out_fd = out[0];
  std::string line;
  char ch;
  while (read(s.out_fd, &ch, 1) == 1) {
    if (ch != '\n') {
      line += ch;
      continue;
    }
    if (line.rfind("listening on 127.0.0.1:", 0) == 0) {
      s.port = std::atoi(line.c_str() + 23);
      break;
    }
    line.clear();
  }
  return s;
}

int StopAndWait(pid_t pid, int sig = SIGTERM) {
  if (sig != 0) kill(pid, sig);
  int status = 0;
  for (int i = 0; i < 1000; ++i) {
    if (waitpid(pid, &status, WNOHANG) == pid) return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    std::this_thread::sleep_for(milliseconds(10));
  }
  kill(pid, SIGKILL);
  waitpid(pid, &status, 0);
  return -1;
}

std::string Slurp(const std::string& path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

class SecurityBinaryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!fs::exists(ServerBinary())) GTEST_SKIP() << "no binary at " << ServerBinary();
    dir_ = fs::temp_directory_path() / ("llm_security_bin_" + std::to_string(getpid()));
    fs::remove_all(dir_);
    ASSERT_TRUE(testing::WriteTinyAssets(dir_.string()).ok());
    log_ = (dir_ / "server.log").string();
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::vector<std::string> Args() {
    return {ServerBinary(), "-t", "tiny", "-n", "tiny", "-c", "0", "--assets", dir_.string(), "--port", "0",
            "--grace_period", "0.2", "--threads", "2", "--log_level", "debug", "--max_prompt_bytes", "1000"};
  }

  // Sends prompts/texts containing `secret` through every path that could
  // log them: a normal completion, a rejected one (disallowed special
  // token), an invalid-UTF-8 one, an oversized one, Tokenize (ok and bad).
  void SendSecrets(LlmClient& client, const std::string& secret) {
    CallOptions o;
    o.timeout = milliseconds(5000);
    v1::CompleteRequest r;
    r.set_prompt("hello " + secret);
    r.set_max_tokens(3);
    EXPECT_TRUE(client.Complete(r, nullptr, o).ok());
    r.set_prompt(secret + "<|endoftext|>");
    EXPECT_EQ(client.Complete(r, nullptr, o).status().code(), absl::StatusCode::kInvalidArgument);
    r.set_prompt(secret + "\xff");
    EXPECT_EQ(client.Complete(r, nullptr, o).status().code(), absl::StatusCode::kInvalidArgument);
    r.set_prompt(secret + std::string(2000, 'x'));
    EXPECT_EQ(client.Complete(r, nullptr, o).status().code(), absl::StatusCode::kInvalidArgument);
    v1::TokenizeRequest t;
    t.set_text(secret);
    EXPECT_TRUE(client.Tokenize(t, o).ok());
    t.set_text(secret + "<|endoftext|>");
    EXPECT_EQ(client.Tokenize(t, o).status().code(), absl::StatusCode::kInvalidArgument);
  }

  fs::path dir_;
  std::string log_;
};

TEST_F(SecurityBinaryTest, PromptsAreNotLoggedUnlessLogPromptsIsSet) {
  const std::string secret = "PurpleElephant42";
  Server s = Spawn(Args(), log_);
  ASSERT_GT(s.port, 0);
  {
    LlmClient client("127.0.0.1:" + std::to_string(s.port));
    SendSecrets(client, secret);
  }
  EXPECT_EQ(StopAndWait(s.pid), 0);
  std::string log = Slurp(log_);
  EXPECT_NE(log.find("complete #1"), std::string::npos) << log;  // calls are logged...
  EXPECT_EQ(log.find(secret), std::string::npos) << "prompt text leaked into the log:\n" << log;  // ...text is not

  // Control: with --log_prompts the same prompt does appear (so the grep above
  // would have found it).
  std::vector<std::string> args = Args();
  args.push_back("--log_prompts");
  s = Spawn(args, log_);
  ASSERT_GT(s.port, 0);
  {
    LlmClient client("127.0.0.1:" + std::to_string(s.port));
    SendSecrets(client, secret);
  }
  EXPECT_EQ(StopAndWait(s.pid), 0);
  log = Slurp(log_);
  EXPECT_NE(log.find(secret), std::string::npos) << log;
}

TEST_F(SecurityBinaryTest, TokensFromFileOrEnvAreEnforcedAndNeverLogged) {
  const std::string token = "tok-ZebraCrossing-91";
  const std::string file = (dir_ / "tokens.txt").string();
  std::ofstream(file) << "# accepted tokens\n" << token << "\nsecond-token\n";
  std::vector<std::string> args = Args();
  args.insert(args.end(), {"--auth_token_file", file});
  for (int variant = 0; variant < 2; ++variant) {
    Server s = variant == 0 ? Spawn(args, log_) : Spawn(Args(), log_, {"LLM_AUTH_TOKENS=other," + token});
    ASSERT_GT(s.port, 0);
    {  // clients gone before the server stops
      auto channel = MakeChannel("127.0.0.1:" + std::to_string(s.port), ClientSecurity{});
      ASSERT_TRUE(channel.ok());
      CallOptions o;
      o.timeout = milliseconds(5000);
      LlmClient anonymous(*channel);
      EXPECT_EQ(anonymous.Info(o).status().code(), absl::StatusCode::kUnauthenticated);
      LlmClient wrong(*channel, "tok-ZebraCrossing-9");
      EXPECT_EQ(wrong.Info(o).status().code(), absl::StatusCode::kUnauthenticated);
      LlmClient good(*channel, token);
      EXPECT_TRUE(good.Info(o).ok()) << variant;
      EXPECT_TRUE(anonymous.Health("", o).ok());
    }
    EXPECT_EQ(StopAndWait(s.pid), 0);
    const std::string log = Slurp(log_);
    EXPECT_EQ(log.find("ZebraCrossing"), std::string::npos) << "a token leaked into the log:\n" << log;
    EXPECT_NE(log.find("bearer tokens: 2 accepted"), std::string::npos) << log;
    EXPECT_NE(log.find("refused"), std::string::npos) << log;  // refusals are logged (without the token)
  }
}

// Runs llm_client with `args`, stdin from `input`; returns its exit code and
// stdout + stderr.
std::pair<int, std::string> RunLlmClient(const std::vector<std::string>& args, const std::string& input,
                                         const std::vector<std::string>& env = {}) {
  const std::string client = (fs::path(ServerBinary()).parent_path().parent_path() / "client" / "llm_client").string();
  std::string cmd;
  for (const auto& e : env) cmd += e + " ";
  cmd += client;
  for (const auto& a : args) cmd += " '" + a + "'";
  cmd += " 2>&1 <<'EOF'\n" + input + "\nEOF";
  FILE* p = popen(cmd.c_str(), "r");
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), p)) > 0) out.append(buf, n);
  const int status = pclose(p);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

TEST_F(SecurityBinaryTest, LlmClientSendsTheTokenFromItsFlagOrEnvironment) {
  const std::string file = (dir_ / "tokens.txt").string();
  std::ofstream(file) << "cli-token-1\n";
  std::vector<std::string> args = Args();
  args.insert(args.end(), {"--auth_token_file", file});
  Server s = Spawn(args, log_);
  ASSERT_GT(s.port, 0);
  const std::string port = std::to_string(s.port);
  auto [code, out] = RunLlmClient({"-e", "tokenize", "-p", port}, "hello");
  EXPECT_EQ(code, 1);
  EXPECT_NE(out.find("UNAUTHENTICATED"), std::string::npos) << out;
  std::tie(code, out) = RunLlmClient({"-e", "tokenize", "-p", port, "--auth_token", "cli-token-1"}, "hello");
  EXPECT_EQ(code, 0) << out;
  EXPECT_NE(out.find("[hell]"), std::string::npos) << out;
  std::tie(code, out) = RunLlmClient({"-e", "tokenize", "-p", port}, "hello", {"LLM_AUTH_TOKEN=cli-token-1"});
  EXPECT_EQ(code, 0) << out;
  std::tie(code, out) = RunLlmClient({"--health", "-p", port}, "");  // health needs no token
  EXPECT_EQ(code, 0) << out;
  std::tie(code, out) = RunLlmClient({"--info", "-p", port, "--tls_cert", file}, "");  // cert without --tls_ca
  EXPECT_EQ(code, 2) << out;
  EXPECT_NE(out.find("--tls_ca"), std::string::npos) << out;
  EXPECT_EQ(StopAndWait(s.pid), 0);
}

TEST_F(SecurityBinaryTest, BadSecurityFlagsExitWithAClearMessage) {
  std::ofstream(dir_ / "empty_tokens.txt") << "# nothing\n";
  struct Case {
    std::vector<std::string> extra;
    std::string want;
  };
  const std::vector<Case> cases = {
      {{"--auth_token_file", (dir_ / "missing.txt").string()}, "missing.txt"},
      {{"--auth_token_file", (dir_ / "empty_tokens.txt").string()}, "no token found"},
      {{"--tls_cert", (dir_ / "empty_tokens.txt").string()}, "--tls_cert and --tls_key"},
      {{"--tls_cert", (dir_ / "empty_tokens.txt").string(), "--tls_key", (dir_ / "empty_tokens.txt").string()},
       "not a PEM file"},
  };
  for (const Case& c : cases) {
    std::vector<std::string> args = Args();
    args.insert(args.end(), c.extra.begin(), c.extra.end());
    Server s = Spawn(args, log_);
    EXPECT_EQ(s.port, -1);
    const int code = StopAndWait(s.pid, 0);
    EXPECT_TRUE(code == 1 || code == 2) << code;
    const std::string log = Slurp(log_);
    EXPECT_NE(log.find(c.want), std::string::npos) << log;
  }
}

TEST_F(SecurityBinaryTest, ListensOnLoopbackByDefault) {
  Server s = Spawn(Args(), log_);
  ASSERT_GT(s.port, 0);  // Spawn matched "listening on 127.0.0.1:PORT"
  // /proc/net/tcp{,6}: the listening socket's local address must be
  // 127.0.0.1 (0100007F), or in tcp6 its v4-mapped form or ::1; never the
  // wildcard address.
  char want[16];
  std::snprintf(want, sizeof(want), ":%04X", s.port);
  bool found = false;
  for (const char* file : {"/proc/net/tcp", "/proc/net/tcp6"}) {
    std::ifstream tcp(file);
    std::string line;
    while (std::getline(tcp, line)) {
      std::istringstream in(line);
      std::string sl, local, remote, state;
      in >> sl >> local >> remote >> state;
      const size_t colon = local.find(':');
      if (state != "0A" || colon == std::string::npos || local.substr(colon) != want) continue;  // LISTEN
      found = true;
      const std::string addr = local.substr(0, colon);
      EXPECT_TRUE(addr == "0100007F" || addr == "0000000000000000FFFF00000100007F" ||
                  addr == "00000000000000000000000001000000")
          << file << ": " << line;
    }
  }
  EXPECT_TRUE(found) << "no listening socket for port " << s.port;
  EXPECT_EQ(StopAndWait(s.pid), 0);
}

}  // namespace
}  // namespace llm
