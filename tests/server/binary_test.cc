// Runs the real llm_server binary: startup line, asset errors, and graceful
// shutdown on SIGTERM / SIGINT with a call in flight.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "client/llm_client_lib.h"
#include "tests/server/test_util.h"
#include "tests/test_paths.h"

namespace llm {
namespace {

using std::chrono::milliseconds;

std::string ServerBinary() { return TestBinary("server/llm_server"); }

struct Child {
  pid_t pid = -1;
  int out_fd = -1;  // stdout
  int err_fd = -1;  // stderr
};

Child Spawn(const std::vector<std::string>& args) {
  int out[2], err[2];
  if (pipe(out) != 0 || pipe(err) != 0) abort();
  Child c;
  c.pid = fork();
  if (c.pid == 0) {
    dup2(out[1], 1);
    dup2(err[1], 2);
    close(out[0]);
    close(err[0]);
    std::vector<char*> argv;
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    _exit(127);
  }
  close(out[1]);
  close(err[1]);
  c.out_fd = out[0];
  c.err_fd = err[0];
  return c;
}

// Reads `fd` until EOF.
std::string ReadAll(int fd) {
  std::string s;
  char buf[4096];
  ssize_t n;
  while ((n = read(fd, buf, sizeof(buf))) > 0) s.append(buf, static_cast<size_t>(n));
  return s;
}

// Reads stdout lines until "listening on HOST:PORT"; returns PORT or -1.
int WaitForPort(int fd) {
  std::string acc;
  char ch;
  const std::regex re("listening on 127\\.0\\.0\\.1:([0-9]+)");
  while (read(fd, &ch, 1) == 1) {
    if (ch != '\n') {
      acc += ch;
      continue;
    }
    std::smatch m;
    if (std::regex_search(acc, m, re)) return std::stoi(m[1]);
    acc.clear();
  }
  return -1;
}

int WaitExit(pid_t pid) {
  int status = 0;
  for (int i = 0; i < 1000; ++i) {  // 10 s
    pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid) return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    std::this_thread::sleep_for(milliseconds(10));
  }
  kill(pid, SIGKILL);
  waitpid(pid, &status, 0);
  return -1;
}

class BinaryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!std::filesystem::exists(ServerBinary())) GTEST_SKIP() << "no binary at " << ServerBinary();
    dir_ = std::filesystem::temp_directory_path() / ("llm_server_test_" + std::to_string(getpid()));
    std::filesystem::remove_all(dir_);
    ASSERT_TRUE(testing::WriteTinyAssets(dir_.string()).ok());
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::vector<std::string> Args(const std::string& tok, const std::string& model) {
    return {ServerBinary(), "-t", tok, "-n", model, "-c", "0", "--assets", dir_.string(), "--port", "0",
            "--grace_period", "0.8", "--max_tokens_cap", "2000000", "--threads", "2"};
  }

  std::filesystem::path dir_;
};

TEST_F(BinaryTest, MissingTokenizerNamesTheCommandThatCreatesIt) {
  Child c = Spawn(Args("nope", "tiny"));
  std::string err = ReadAll(c.err_fd);
  EXPECT_EQ(WaitExit(c.pid), 1);
  EXPECT_NE(err.find("train_tokenizer -n nope"), std::string::npos) << err;
}

TEST_F(BinaryTest, MissingCheckpointNamesTheCommandThatCreatesIt) {
  std::vector<std::string> args = Args("tiny", "tiny");
  args[6] = "7";  // -c 7
  Child c = Spawn(args);
  std::string err = ReadAll(c.err_fd);
  EXPECT_EQ(WaitExit(c.pid), 1);
  EXPECT_NE(err.find("train_model -n tiny"), std::string::npos) << err;
  EXPECT_NE(err.find("available iterations: 0"), std::string::npos) << err;
}

TEST_F(BinaryTest, SigtermDrainsInFlightStreamThenExitsZero) {
  Child c = Spawn(Args("tiny", "tiny"));
  const int port = WaitForPort(c.out_fd);
  ASSERT_GT(port, 0);
  LlmClient client("127.0.0.1:" + std::to_string(port));
  auto info = client.Info();
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->model().name(), "tiny");

  v1::CompleteRequest req;
  req.set_prompt("hello");
  req.set_max_tokens(2000000);
  req.set_temperature(0);
  absl::StatusOr<CompletionResult> result;
  std::atomic<bool> streaming{false};
  std::thread t([&] {
    result = client.Complete(req, [&](const v1::CompleteResponse&) {
      streaming = true;
      return true;
    });
  });
  while (!streaming.load()) std::this_thread::sleep_for(milliseconds(1));
  const auto t0 = std::chrono::steady_clock::now();
  kill(c.pid, SIGTERM);
  t.join();
  const int code = WaitExit(c.pid);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_EQ(code, 0);
  EXPECT_GE(secs, 0.7);  // the grace period was honoured
  EXPECT_LT(secs, 5.0);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->finish_reason, v1::FINISH_REASON_CANCELLED);
  EXPECT_GT(result->usage.completion_tokens(), 0);
  std::string err = ReadAll(c.err_fd);
  EXPECT_NE(err.find("shutting down"), std::string::npos) << err;
  EXPECT_EQ(err.find("hello"), std::string::npos) << "prompt text must not be logged by default";
}

TEST_F(BinaryTest, SigintWhenIdleExitsZeroQuickly) {
  Child c = Spawn(Args("tiny", "tiny"));
  ASSERT_GT(WaitForPort(c.out_fd), 0);
  const auto t0 = std::chrono::steady_clock::now();
  kill(c.pid, SIGINT);
  EXPECT_EQ(WaitExit(c.pid), 0);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(3));
}

}  // namespace
}  // namespace llm
