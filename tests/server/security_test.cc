// Security tests: TLS, mTLS and bearer-token authentication against an
// in-process LlmServer (tiny assets), with certificates made at test time by
// the openssl command line tool; plus token-file parsing, reflection on/off
// and prompt overload (RESOURCE_EXHAUSTED at once, admitted calls on time).
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <thread>
#include <vector>

#include "client/llm_client_lib.h"
#include "server/auth.h"
#include "server/server.h"
#include "tests/server/test_util.h"

namespace llm {
namespace {

using grpc::health::v1::HealthCheckResponse;
using std::chrono::milliseconds;
namespace fs = std::filesystem;

ServerOptions TestOptions() {
  ServerOptions o;
  o.port = 0;
  o.threads = 2;
  o.max_tokens_cap = 2'000'000;
  o.max_slots = 2;
  o.max_queue = 2;
  o.grace_period_ms = 500;
  return o;
}

// ------------------------------------------------------------ certificates

// A CA, a server certificate for localhost / 127.0.0.1 (SAN) and a client
// certificate signed by it, plus an unrelated CA with its own client
// certificate. EC P-256 keys (fast to generate). Made once per test binary.
class Certs {
 public:
  static const Certs& Get() {
    static Certs* certs = new Certs();
    return *certs;
  }
  bool ok() const { return ok_; }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }

 private:
  Certs() {
    dir_ = fs::temp_directory_path() / ("llm_security_test_" + std::to_string(getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    std::ofstream(dir_ / "server.ext")
        << "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n"
           "basicConstraints=CA:FALSE\n";
    std::ofstream(dir_ / "client.ext") << "extendedKeyUsage=clientAuth\nbasicConstraints=CA:FALSE\n";
    const std::string d = dir_.string();
    const std::string key = " -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes ";
    auto make_ca = [&](const std::string& name) {
      return "openssl req -x509" + key + "-keyout " + d + "/" + name + ".key -out " + d + "/" + name +
             ".pem -days 2 -subj '/CN=" + name + "' -addext basicConstraints=critical,CA:TRUE"
             " -addext keyUsage=critical,keyCertSign,cRLSign";
    };
    auto make_leaf = [&](const std::string& name, const std::string& ca, const std::string& ext,
                         const std::string& cn) {
      return "openssl req" + key + "-keyout " + d + "/" + name + ".key -out " + d + "/" + name +
             ".csr -subj '/CN=" + cn + "' && openssl x509 -req -in " + d + "/" + name + ".csr -CA " + d + "/" +
             ca + ".pem -CAkey " + d + "/" + ca + ".key -CAcreateserial -days 2 -out " + d + "/" + name +
             ".pem -extfile " + d + "/" + ext;
    };
    const std::string cmd = "(" + make_ca("ca") + " && " + make_ca("other_ca") + " && " +
                            make_leaf("server", "ca", "server.ext", "localhost") + " && " +
                            make_leaf("client", "ca", "client.ext", "test client") + " && " +
                            make_leaf("other_client", "other_ca", "client.ext", "intruder") + ") > " + d +
                            "/openssl.log 2>&1";
    ok_ = std::system(cmd.c_str()) == 0;
  }
  fs::path dir_;
  bool ok_ = false;
};

// ------------------------------------------------------------ fixtures

class SecurityTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!Certs::Get().ok()) GTEST_SKIP() << "openssl could not make test certificates (is openssl installed?)";
  }
  void TearDown() override { server_.reset(); }

  std::string Cert(const std::string& name) const { return Certs::Get().path(name); }

  void Start(ServerOptions o) {
    auto s = LlmServer::Start(testing::TinyAssets(), std::move(o));
    ASSERT_TRUE(s.ok()) << s.status();
    server_ = std::move(*s);
  }
  ServerOptions TlsOptions() const {
    ServerOptions o = TestOptions();
    o.tls_cert_file = Cert("server.pem");
    o.tls_key_file = Cert("server.key");
    return o;
  }
  // A client for 127.0.0.1:PORT (or `host`) with `sec`.
  std::unique_ptr<LlmClient> Client(const ClientSecurity& sec, const std::string& host = "127.0.0.1") {
    auto ch = MakeChannel(host + ":" + std::to_string(server_->port()), sec);
    EXPECT_TRUE(ch.ok()) << ch.status();
    if (!ch.ok()) return nullptr;
    return std::make_unique<LlmClient>(std::move(*ch), sec.auth_token);
  }
  static CallOptions Quick() {
    CallOptions c;
    c.timeout = milliseconds(3000);
    return c;
  }
  static v1::CompleteRequest SmallComplete() {
    v1::CompleteRequest r;
    r.set_prompt("hello");
    r.set_max_tokens(5);
    r.set_temperature(0);
    return r;
  }

  std::unique_ptr<LlmServer> server_;
};

// ------------------------------------------------------------ TLS

TEST_F(SecurityTest, TlsWithTheRightCaWorksByIpAndName) {
  Start(TlsOptions());
  ClientSecurity sec;
  sec.tls_ca_file = Cert("ca.pem");
  for (const std::string host : {"127.0.0.1", "localhost"}) {
    auto client = Client(sec, host);
    ASSERT_NE(client, nullptr);
    auto ids = client->TokenizeIds("hello world", Quick());
    ASSERT_TRUE(ids.ok()) << host << ": " << ids.status();
    EXPECT_EQ(*ids, (std::vector<int32_t>{258, 'o', 259, 'o', 'r', 'l', 'd'}));
    auto done = client->Complete(SmallComplete(), nullptr, Quick());
    ASSERT_TRUE(done.ok()) << done.status();
    EXPECT_EQ(done->usage.completion_tokens(), 5);
    auto health = client->Health("", Quick());
    ASSERT_TRUE(health.ok()) << health.status();
    EXPECT_EQ(*health, HealthCheckResponse::SERVING);
  }
}

TEST_F(SecurityTest, TlsWithAWrongCaFails) {
  Start(TlsOptions());
  ClientSecurity sec;
  sec.tls_ca_file = Cert("other_ca.pem");
  auto client = Client(sec);
  ASSERT_NE(client, nullptr);
  auto ids = client->TokenizeIds("hello", Quick());
  ASSERT_FALSE(ids.ok());
  EXPECT_EQ(ids.status().code(), absl::StatusCode::kUnavailable) << ids.status();
}

TEST_F(SecurityTest, TlsRejectsAServerNameNotInTheCertificate) {
  Start(TlsOptions());
  ClientSecurity sec;
  sec.tls_ca_file = Cert("ca.pem");
  sec.tls_server_name = "llm.example.com";  // the certificate is for localhost / 127.0.0.1
  auto ids = Client(sec)->TokenizeIds("hello", Quick());
  ASSERT_FALSE(ids.ok());
  EXPECT_EQ(ids.status().code(), absl::StatusCode::kUnavailable) << ids.status();
}

TEST_F(SecurityTest, PlaintextClientCannotTalkToTlsServer) {
  Start(TlsOptions());
  auto client = Client(ClientSecurity{});
  auto ids = client->TokenizeIds("hello", Quick());
  ASSERT_FALSE(ids.ok());
  EXPECT_EQ(ids.status().code(), absl::StatusCode::kUnavailable) << ids.status();
  auto health = client->Health("", Quick());
  EXPECT_FALSE(health.ok());
}

TEST_F(SecurityTest, MutualTlsRequiresAClientCertificateFromTheConfiguredCa) {
  ServerOptions o = TlsOptions();
  o.tls_client_ca_file = Cert("ca.pem");
  Start(o);
  ClientSecurity sec;
  sec.tls_ca_file = Cert("ca.pem");
  // No client certificate: the handshake fails.
  auto ids = Client(sec)->TokenizeIds("hello", Quick());
  ASSERT_FALSE(ids.ok());
  EXPECT_EQ(ids.status().code(), absl::StatusCode::kUnavailable) << ids.status();
  // A certificate from another CA: also refused.
  sec.tls_cert_file = Cert("other_client.pem");
  sec.tls_key_file = Cert("other_client.key");
  ids = Client(sec)->TokenizeIds("hello", Quick());
  ASSERT_FALSE(ids.ok());
  EXPECT_EQ(ids.status().code(), absl::StatusCode::kUnavailable) << ids.status();
  // The right one works.
  sec.tls_cert_file = Cert("client.pem");
  sec.tls_key_file = Cert("client.key");
  auto client = Client(sec);
  ids = client->TokenizeIds("hello", Quick());
  ASSERT_TRUE(ids.ok()) << ids.status();
  EXPECT_EQ(*ids, (std::vector<int32_t>{258, 'o'}));
  auto done = client->Complete(SmallComplete(), nullptr, Quick());
  ASSERT_TRUE(done.ok()) << done.status();
}

TEST_F(SecurityTest, BadTlsOptionsAreClearErrors) {
  ServerOptions o = TestOptions();
  o.tls_cert_file = Cert("server.pem");  // no key
  auto s = LlmServer::Start(testing::TinyAssets(), o);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("--tls_key"), absl::string_view::npos) << s.status();

  o.tls_key_file = Cert("does_not_exist.key");
  s = LlmServer::Start(testing::TinyAssets(), o);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("does_not_exist.key"), absl::string_view::npos) << s.status();

  o.tls_key_file = Cert("server.ext");  // not PEM
  s = LlmServer::Start(testing::TinyAssets(), o);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("not a PEM file"), absl::string_view::npos) << s.status();

  ServerOptions m = TestOptions();
  m.tls_client_ca_file = Cert("ca.pem");  // mTLS without TLS
  s = LlmServer::Start(testing::TinyAssets(), m);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("--tls_client_ca"), absl::string_view::npos) << s.status();

  ClientSecurity c;
  c.tls_cert_file = Cert("client.pem");  // client cert without --tls_ca
  c.tls_key_file = Cert("client.key");
  EXPECT_FALSE(MakeChannel("127.0.0.1:1", c).ok());
  c.tls_ca_file = Cert("missing_ca.pem");
  auto ch = MakeChannel("127.0.0.1:1", c);
  ASSERT_FALSE(ch.ok());
  EXPECT_NE(ch.status().message().find("missing_ca.pem"), absl::string_view::npos) << ch.status();
}

// ------------------------------------------------------------ bearer tokens

class AuthTest : public SecurityTest {
 protected:
  void SetUp() override {
    ServerOptions o = TestOptions();
    o.auth_tokens = {"token-one", "s3cr3t-Token_2"};
    Start(o);
  }

  // Every llm.v1 RPC with `client`; returns their status codes.
  std::vector<absl::StatusCode> CallAll(LlmClient& client) {
    std::vector<absl::StatusCode> codes;
    codes.push_back(client.TokenizeIds("hello", Quick()).status().code());
    v1::TokenizeBatchRequest batch;
    batch.add_texts("hello");
    codes.push_back(client.TokenizeBatch(batch, Quick()).status().code());
    v1::CountTokensRequest count;
    count.set_text("hello");
    codes.push_back(client.CountTokens(count, Quick()).status().code());
    codes.push_back(client.Detokenize({258, 'o'}, Quick()).status().code());
    codes.push_back(client.Info(Quick()).status().code());
    codes.push_back(client.Complete(SmallComplete(), nullptr, Quick()).status().code());
    return codes;
  }
  std::unique_ptr<LlmClient> WithToken(const std::string& token) {
    ClientSecurity sec;
    sec.auth_token = token;
    return Client(sec);
  }
};

TEST_F(AuthTest, NoTokenIsUnauthenticatedButHealthAnswers) {
  auto client = WithToken("");
  for (absl::StatusCode code : CallAll(*client)) EXPECT_EQ(code, absl::StatusCode::kUnauthenticated);
  auto health = client->Health("", Quick());
  ASSERT_TRUE(health.ok()) << health.status();
  EXPECT_EQ(*health, HealthCheckResponse::SERVING);
  health = client->Health("llm.v1.LlmService", Quick());
  ASSERT_TRUE(health.ok()) << health.status();
  EXPECT_EQ(*health, HealthCheckResponse::SERVING);
  // The message says what is expected.
  auto info = client->Info(Quick());
  EXPECT_NE(info.status().message().find("authorization: Bearer"), absl::string_view::npos) << info.status();
}

TEST_F(AuthTest, WrongTokenIsUnauthenticated) {
  for (const std::string bad : {"token-on", "token-one2", "TOKEN-ONE", "x", "s3cr3t-Token_"}) {
    auto client = WithToken(bad);
    for (absl::StatusCode code : CallAll(*client)) EXPECT_EQ(code, absl::StatusCode::kUnauthenticated) << bad;
  }
}

TEST_F(AuthTest, MalformedAuthorizationHeadersAreUnauthenticated) {
  const std::vector<std::string> headers = {"token-one", "Basic token-one", "Bearer", "Bearer ",
                                            "Bearertoken-one", "Bearer token-one extra"};
  for (const std::string& h : headers) {
    LlmClient client(server_->address());
    CallOptions opts = Quick();
    opts.on_start = [&h](grpc::ClientContext* ctx) { ctx->AddMetadata("authorization", h); };
    auto info = client.Info(opts);
    EXPECT_EQ(info.status().code(), absl::StatusCode::kUnauthenticated) << "'" << h << "'";
  }
}

TEST_F(AuthTest, EitherConfiguredTokenWorksAndTheSchemeIsCaseInsensitive) {
  for (const std::string good : {"token-one", "s3cr3t-Token_2"}) {
    auto client = WithToken(good);
    for (absl::StatusCode code : CallAll(*client)) EXPECT_EQ(code, absl::StatusCode::kOk) << good;
  }
  LlmClient client(server_->address());
  CallOptions opts = Quick();
  opts.on_start = [](grpc::ClientContext* ctx) { ctx->AddMetadata("authorization", "bearer token-one"); };
  EXPECT_TRUE(client.Info(opts).ok());
}

TEST_F(AuthTest, TokensAndTlsTogether) {
  server_.reset();
  ServerOptions o = TlsOptions();
  o.auth_tokens = {"token-one"};
  Start(o);
  ClientSecurity sec;
  sec.tls_ca_file = Cert("ca.pem");
  EXPECT_EQ(Client(sec)->Info(Quick()).status().code(), absl::StatusCode::kUnauthenticated);
  sec.auth_token = "token-one";
  EXPECT_TRUE(Client(sec)->Info(Quick()).ok());
}

TEST(AuthTokensTest, ParsesOneTokenPerLineSkippingCommentsAndBlanks) {
  auto t = ParseAuthTokens("# tokens\n\n  alpha \r\nbeta\n\t#x\ngamma-1_2.3~", "f");
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(*t, (std::vector<std::string>{"alpha", "beta", "gamma-1_2.3~"}));
}

TEST(AuthTokensTest, ErrorsNameTheLineButNeverTheToken) {
  auto t = ParseAuthTokens("ok\nhas space-SECRET\n", "tokens.txt");
  ASSERT_FALSE(t.ok());
  EXPECT_NE(t.status().message().find("tokens.txt:2"), absl::string_view::npos) << t.status();
  EXPECT_EQ(t.status().message().find("SECRET"), absl::string_view::npos) << t.status();
  EXPECT_FALSE(ParseAuthTokens("# only a comment\n\n", "f").ok());
  EXPECT_FALSE(ParseAuthTokens("caf\xc3\xa9", "f").ok());
  EXPECT_FALSE(ParseAuthTokens(std::string(5000, 'a'), "f").ok());
}

TEST(AuthTokensTest, CheckAcceptsOnlyExactBearerTokens) {
  TokenAuthenticator auth({"abc", "defgh"});
  auto check = [&](absl::string_view h) { return auth.Check(&h).code(); };
  EXPECT_EQ(auth.Check(nullptr).code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(check("Bearer abc"), absl::StatusCode::kOk);
  EXPECT_EQ(check("BEARER defgh"), absl::StatusCode::kOk);
  EXPECT_EQ(check("Bearer   abc  "), absl::StatusCode::kOk);
  EXPECT_EQ(check("Bearer ab"), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(check("Bearer abcd"), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(check("Bearer defg"), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(check("abc"), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(check(""), absl::StatusCode::kUnauthenticated);
}

// ------------------------------------------------------------ reflection

// Lists services through reflection; returns the call's status code.
grpc::StatusCode ReflectionList(const std::string& address) {
  auto channel = grpc::CreateChannel(address, grpc::InsecureChannelCredentials());
  grpc::GenericStub stub(channel);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + milliseconds(3000));
  grpc::CompletionQueue cq;
  auto call = stub.PrepareCall(&ctx, "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo", &cq);
  void* tag;
  bool ok;
  call->StartCall(reinterpret_cast<void*>(1));
  cq.Next(&tag, &ok);
  // ServerReflectionRequest{list_services: ""}: field 7, length-delimited, empty.
  const char req[] = {0x3a, 0x00};
  grpc::Slice slice(req, sizeof(req));
  grpc::ByteBuffer buf(&slice, 1);
  call->Write(buf, reinterpret_cast<void*>(2));
  cq.Next(&tag, &ok);
  call->WritesDone(reinterpret_cast<void*>(3));
  cq.Next(&tag, &ok);
  grpc::ByteBuffer resp;
  call->Read(&resp, reinterpret_cast<void*>(4));
  cq.Next(&tag, &ok);
  grpc::Status status;
  call->Finish(&status, reinterpret_cast<void*>(5));
  cq.Next(&tag, &ok);
  cq.Shutdown();
  while (cq.Next(&tag, &ok)) {
  }
  return status.error_code();
}

TEST_F(SecurityTest, ReflectionCanBeTurnedOff) {
  ServerOptions o = TestOptions();
  o.reflection = false;
  Start(o);
  EXPECT_EQ(ReflectionList(server_->address()), grpc::StatusCode::UNIMPLEMENTED);
  server_.reset();
  Start(TestOptions());  // on by default, per server (not process-wide)
  EXPECT_EQ(ReflectionList(server_->address()), grpc::StatusCode::OK);
}

// ------------------------------------------------------------ overload

// More concurrent Complete calls than slots + queue: the excess is refused
// with RESOURCE_EXHAUSTED at once, and the admitted calls still finish
// within their deadlines.
TEST_F(SecurityTest, OverloadIsRefusedPromptlyAndAdmittedCallsMeetDeadlines) {
  Start(TestOptions());  // 2 slots + 2 queue places
  LlmClient client(server_->address());
  ASSERT_TRUE(client.Info(Quick()).ok());  // connected

  // Calibrate: tokens/s of the tiny model on this machine, so each admitted
  // call runs about 0.8 s (long enough to hold its slot while we probe).
  v1::CompleteRequest calib = SmallComplete();
  calib.set_max_tokens(20000);
  const auto c0 = std::chrono::steady_clock::now();
  ASSERT_TRUE(client.Complete(calib).ok());
  const double tokens_per_s = 20000.0 / std::chrono::duration<double>(std::chrono::steady_clock::now() - c0).count();
  // Two running + two queued: each queued call waits for one running call.
  const int tokens = std::max(200, static_cast<int>(tokens_per_s * 0.8 / 2));  // ~0.8 s with 2 in a batch
  const auto deadline = milliseconds(15000);

  constexpr int kAdmitted = 4;
  std::vector<absl::StatusOr<CompletionResult>> results(kAdmitted);
  std::vector<double> seconds(kAdmitted);
  std::vector<std::thread> threads;
  for (int i = 0; i < kAdmitted; ++i) {
    threads.emplace_back([&, i] {
      v1::CompleteRequest r = SmallComplete();
      r.set_max_tokens(tokens);
      CallOptions opts;
      opts.timeout = deadline;
      const auto t0 = std::chrono::steady_clock::now();
      results[i] = client.Complete(r, nullptr, opts);
      seconds[i] = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    });
  }
  // Wait until all four hold a slot or queue place.
  for (int i = 0; i < 2000; ++i) {
    SchedulerStats st = server_->scheduler_stats();
    if (st.active + st.queued == kAdmitted) break;
    std::this_thread::sleep_for(milliseconds(1));
  }
  ASSERT_EQ(server_->scheduler_stats().active + server_->scheduler_stats().queued, kAdmitted);
  std::vector<double> refused_ms;
  for (int i = 0; i < 8; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    auto r = client.Complete(SmallComplete(), nullptr, Quick());
    refused_ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), absl::StatusCode::kResourceExhausted) << r.status();
    EXPECT_NE(r.status().message().find("at capacity"), absl::string_view::npos) << r.status();
  }
  for (auto& t : threads) t.join();
  std::sort(refused_ms.begin(), refused_ms.end());
  std::printf("overload: %d tokens per admitted call (%.0f tokens/s solo); refused in %.1f..%.1f ms; "
              "admitted calls took %.2f %.2f %.2f %.2f s\n",
              tokens, tokens_per_s, refused_ms.front(), refused_ms.back(), seconds[0], seconds[1], seconds[2],
              seconds[3]);
  EXPECT_LT(refused_ms.back(), 100.0) << "RESOURCE_EXHAUSTED must come at once, not after a wait";
  for (int i = 0; i < kAdmitted; ++i) {
    ASSERT_TRUE(results[i].ok()) << results[i].status();
    EXPECT_EQ(results[i]->finish_reason, v1::FINISH_REASON_LENGTH);
    EXPECT_EQ(results[i]->usage.completion_tokens(), tokens);
    EXPECT_LT(seconds[i], deadline.count() / 1000.0);
  }
}

}  // namespace
}  // namespace llm
