// Known-answer test: the C++ forward pass (loss and logits) against an
// independent float64 NumPy implementation, tests/model/reference_forward.py,
// run with /usr/bin/python3 on the parameters and tokens this test writes.
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "core/model/transformer.h"
#include "gtest/gtest.h"

namespace llm {
namespace {

std::string SourceDir() {
  const char* s = std::getenv("LLM_SOURCE_DIR");
  return s != nullptr ? s : ".";
}

template <typename T>
void WriteBinary(const std::string& path, const std::vector<T>& v) {
  std::ofstream f(path, std::ios::binary);
  f.write(reinterpret_cast<const char*>(v.data()), sizeof(T) * v.size());
}

class ReferenceTest : public ::testing::TestWithParam<Activation> {};

TEST_P(ReferenceTest, ForwardMatchesNumpyFloat64) {
  const std::string script = SourceDir() + "/tests/model/reference_forward.py";
  if (access("/usr/bin/python3", X_OK) != 0 || access(script.c_str(), R_OK) != 0)
    GTEST_SKIP() << "needs /usr/bin/python3 and " << script;
  if (std::system("/usr/bin/python3 -c 'import numpy' 2>/dev/null") != 0)
    GTEST_SKIP() << "python3-numpy not installed (scripts/install_deps.sh)";

  ModelConfig c;
  c.vocab_size = 37;
  c.context = 9;
  c.n_blocks = 2;
  c.d_model = 16;
  c.n_heads = 4;
  c.d_head = 4;
  c.d_ff = 24;
  c.activation = GetParam();
  Transformer model(c);
  model.InitParameters(2024);
  const int B = 2, S = 7;  // S < context exercises the wpe slice
  std::vector<int32_t> tokens(2 * B * S);
  for (size_t i = 0; i < tokens.size(); ++i) tokens[i] = static_cast<int32_t>((i * 17 + 5) % c.vocab_size);

  char tmpl[] = "/tmp/llm_reference_XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  const std::string dir = tmpl;
  {
    std::ofstream f(dir + "/config.txt");
    f << c.vocab_size << " " << c.context << " " << c.n_blocks << " " << c.d_model << " "
      << c.n_heads << " " << c.d_head << " " << c.d_ff << " "
      << (c.activation == Activation::kGelu ? "gelu" : "relu") << " " << B << " " << S << "\n";
  }
  WriteBinary(dir + "/params.bin", std::vector<float>(model.params(), model.params() + model.num_params()));
  WriteBinary(dir + "/tokens.bin", tokens);
  const std::string cmd = "/usr/bin/python3 " + script + " " + dir;
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;

  const size_t n_logits = size_t{1} * B * S * c.vocab_size;
  std::vector<double> ref(1 + n_logits);
  {
    std::ifstream f(dir + "/out.bin", std::ios::binary);
    f.read(reinterpret_cast<char*>(ref.data()), sizeof(double) * ref.size());
    ASSERT_TRUE(f.good()) << "short output from " << cmd;
  }
  std::system(("rm -rf " + dir).c_str());

  const float loss = model.ForwardLoss(tokens.data(), tokens.data() + B * S, B, S);
  std::vector<float> logits(n_logits);
  model.ForwardLogits(tokens.data(), B, S, logits.data());
  // float32 vs float64 through ~10 layers: relative differences ~1e-6; 1e-4 leaves margin.
  EXPECT_NEAR(loss, ref[0], 1e-4 * std::fabs(ref[0]));
  double worst = 0;
  for (size_t i = 0; i < n_logits; ++i)
    worst = std::max(worst, std::fabs(logits[i] - ref[1 + i]) / (std::fabs(ref[1 + i]) + 1e-2));
  EXPECT_LT(worst, 1e-4);
}

INSTANTIATE_TEST_SUITE_P(Activations, ReferenceTest,
                         ::testing::Values(Activation::kRelu, Activation::kGelu),
                         [](const auto& info) {
                           return std::string(info.param == Activation::kGelu ? "Gelu" : "Relu");
                         });

}  // namespace
}  // namespace llm
