// Whole-model tests of core/model/transformer.h: parameter count, finite-
// difference gradient check on a tiny config, overfitting one batch,
// determinism, and consistency of the three forward entry points.
#include "core/model/transformer.h"

#include <cblas.h>

#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "core/model/optimizer.h"
#include "gtest/gtest.h"
#include "tests/model/grad_check.h"

namespace llm {
namespace {

using ::llm::testing::ExpectGradientsMatch;

ModelConfig TinyConfig(Activation act = Activation::kRelu) {
  ModelConfig c;
  c.vocab_size = 11;
  c.context = 5;
  c.n_blocks = 2;
  c.d_model = 8;
  c.n_heads = 2;
  c.d_head = 4;
  c.d_ff = 12;
  c.activation = act;
  return c;
}

std::vector<int32_t> Tokens(int n, int V, uint64_t seed) {
  std::vector<int32_t> t(n);
  uint64_t s = seed;
  for (int32_t& x : t) {
    s = s * 6364136223846793005ull + 1442695040888963407ull;
    x = static_cast<int32_t>((s >> 33) % V);
  }
  return t;
}

TEST(TransformerTest, DefaultConfigHas1629712Parameters) {
  // Hand count: wte 10256*64 + wpe 128*64 + 6 blocks * (2*128 LN + 4*64*64 attention
  // + 64*256+256 + 256*64+64 FFN) + 128 final LN + 64*10256+10256 unembedding.
  const size_t by_hand = 10256 * 64 + 128 * 64 + 6 * (256 + 4 * 64 * 64 + 64 * 256 + 256 + 256 * 64 + 64) +
                         128 + 64 * 10256 + 10256;
  EXPECT_EQ(by_hand, 1629712u);
  Transformer model{ModelConfig{}};
  EXPECT_EQ(model.num_params(), 1629712u);
}

TEST(TransformerTest, InitFollowsTheOriginalScheme) {
  const ModelConfig c = TinyConfig();
  Transformer model(c);
  model.InitParameters(42);
  const ParamLayout& L = model.layout();
  const float* p = model.params();
  for (int i = 0; i < c.d_model; ++i) {
    EXPECT_EQ(p[L.blocks[0].ln1_g + i], 1.0f);
    EXPECT_EQ(p[L.blocks[1].ln2_b + i], 0.0f);
    EXPECT_EQ(p[L.lnf_g + i], 1.0f);
  }
  const float s_c = 1.0f / std::sqrt(8.0f), s_f = 1.0f / std::sqrt(12.0f);
  for (int i = 0; i < 8 * 8; ++i) EXPECT_LE(std::fabs(p[L.blocks[1].wq + i]), s_c);
  for (int i = 0; i < 12 * 8; ++i) EXPECT_LE(std::fabs(p[L.blocks[1].w2 + i]), s_f);
  // Standard-normal embeddings: some values exceed the uniform ranges.
  float mx = 0;
  for (int i = 0; i < 11 * 8; ++i) mx = std::max(mx, std::fabs(p[L.wte + i]));
  EXPECT_GT(mx, 1.0f);
  Transformer other(c);
  other.InitParameters(42);
  EXPECT_EQ(std::memcmp(model.params(), other.params(), sizeof(float) * model.num_params()), 0);
  other.InitParameters(43);
  EXPECT_NE(std::memcmp(model.params(), other.params(), sizeof(float) * model.num_params()), 0);
}

class WholeModelGradTest : public ::testing::TestWithParam<Activation> {};

TEST_P(WholeModelGradTest, MatchesFiniteDifferences) {
  openblas_set_num_threads(1);
  const ModelConfig c = TinyConfig(GetParam());
  Transformer model(c);
  model.InitParameters(7);
  const int B = 2, T = 5;
  const std::vector<int32_t> in = Tokens(B * T, c.vocab_size, 1), tg = Tokens(B * T, c.vocab_size, 2);
  const float loss0 = model.ForwardBackward(in.data(), tg.data(), B, T);
  EXPECT_NEAR(loss0, model.ForwardLoss(in.data(), tg.data(), B, T), 1e-6);
  std::vector<float> analytic(model.grads(), model.grads() + model.num_params());
  auto loss = [&] { return static_cast<double>(model.ForwardLoss(in.data(), tg.data(), B, T)); };
  // The loss (~2.4) is a float: its rounding (~2.4 * 6e-8) divided by 2h = 2e-3
  // gives ~1e-4 absolute noise in the numeric gradient, hence atol 4e-4; rtol
  // 2e-2 covers float32 rounding inside the network (and, for ReLU, the rare
  // pre-activation within h of the kink would show up as a failure here).
  for (const TensorInfo& t : model.layout().tensors) {
    ExpectGradientsMatch(t.name, model.params() + t.offset, analytic.data() + t.offset, t.size(),
                         loss, 1e-3, 2e-2, 4e-4);
  }
  // Rows of the token embedding for tokens never seen in the inputs get no gradient.
  std::vector<bool> seen(c.vocab_size, false);
  for (int32_t t : in) seen[t] = true;
  for (int v = 0; v < c.vocab_size; ++v) {
    if (seen[v]) continue;
    for (int i = 0; i < c.d_model; ++i) EXPECT_EQ(analytic[model.layout().wte + v * c.d_model + i], 0.0f);
  }
}

INSTANTIATE_TEST_SUITE_P(Activations, WholeModelGradTest,
                         ::testing::Values(Activation::kRelu, Activation::kGelu),
                         [](const auto& info) {
                           return std::string(info.param == Activation::kGelu ? "Gelu" : "Relu");
                         });

TEST(TransformerTest, ShorterSequencesAndReshapes) {
  // T < context and changing (B, T) between calls reallocate activations correctly:
  // the loss of a (1, 3) batch equals that of the same rows computed inside a (2, 3) batch.
  const ModelConfig c = TinyConfig();
  Transformer model(c);
  model.InitParameters(3);
  const std::vector<int32_t> in = {1, 2, 3, 4, 5, 6}, tg = {2, 3, 4, 5, 6, 7};
  const float l_a = model.ForwardLoss(in.data(), tg.data(), 1, 3);
  const float l_b = model.ForwardLoss(in.data() + 3, tg.data() + 3, 1, 3);
  const float l_ab = model.ForwardLoss(in.data(), tg.data(), 2, 3);
  EXPECT_NEAR(l_ab, 0.5f * (l_a + l_b), 1e-5);
}

TEST(TransformerTest, LogitsAgreeWithLoss) {
  const ModelConfig c = TinyConfig();
  Transformer model(c);
  model.InitParameters(5);
  const int B = 2, T = 4, V = c.vocab_size;
  const std::vector<int32_t> in = Tokens(B * T, V, 3), tg = Tokens(B * T, V, 4);
  std::vector<float> logits(B * T * V);
  model.ForwardLogits(in.data(), B, T, logits.data());
  double loss = 0;
  for (int i = 0; i < B * T; ++i) {
    double mx = -1e30, z = 0;
    for (int v = 0; v < V; ++v) mx = std::max(mx, static_cast<double>(logits[i * V + v]));
    for (int v = 0; v < V; ++v) z += std::exp(logits[i * V + v] - mx);
    loss += std::log(z) + mx - logits[i * V + tg[i]];
  }
  EXPECT_NEAR(model.ForwardLoss(in.data(), tg.data(), B, T), loss / (B * T), 1e-5);
  // Causality at the model level: changing the last input token leaves earlier logits unchanged.
  std::vector<int32_t> in2 = in;
  in2[T - 1] = (in2[T - 1] + 1) % V;
  std::vector<float> logits2(logits.size());
  model.ForwardLogits(in2.data(), B, T, logits2.data());
  for (int i = 0; i < (T - 1) * V; ++i) EXPECT_EQ(logits2[i], logits[i]);
}

TEST(TransformerTest, OverfitsOneBatch) {
  openblas_set_num_threads(1);
  const ModelConfig c = TinyConfig();
  Transformer model(c);
  model.InitParameters(11);
  const int B = 2, T = 5;
  const std::vector<int32_t> in = Tokens(B * T, c.vocab_size, 5), tg = Tokens(B * T, c.vocab_size, 6);
  Adam adam(model.num_params());
  const float initial = model.ForwardLoss(in.data(), tg.data(), B, T);
  float loss = initial;
  for (int step = 0; step < 200; ++step) {
    loss = model.ForwardBackward(in.data(), tg.data(), B, T);
    adam.Step(model.params(), model.grads(), 1e-2f);
  }
  loss = model.ForwardLoss(in.data(), tg.data(), B, T);
  EXPECT_LT(loss, 0.1f * initial) << "initial " << initial;
}

TEST(TransformerTest, DeterministicGivenSeed) {
  openblas_set_num_threads(1);
  ModelConfig c;
  c.vocab_size = 300;
  c.context = 32;
  c.n_blocks = 2;
  c.d_model = 32;
  c.n_heads = 4;
  c.d_head = 8;
  c.d_ff = 64;
  auto run = [&](std::vector<float>* out) {
    Transformer model(c);
    model.InitParameters(123);
    Adam adam(model.num_params(), AdamOptions{.weight_decay = 0.01f});
    const int B = 4, T = 32;
    for (int step = 0; step < 5; ++step) {
      const std::vector<int32_t> in = Tokens(B * T, c.vocab_size, 100 + step),
                                 tg = Tokens(B * T, c.vocab_size, 200 + step);
      model.ForwardBackward(in.data(), tg.data(), B, T);
      ClipGradNorm(model.grads(), model.num_params(), 1.0f);
      adam.Step(model.params(), model.grads(), 1e-3f);
    }
    out->assign(model.params(), model.params() + model.num_params());
  };
  std::vector<float> a, b;
  run(&a);
  run(&b);
  ASSERT_EQ(a.size(), b.size());
  EXPECT_EQ(std::memcmp(a.data(), b.data(), sizeof(float) * a.size()), 0);
}

TEST(TransformerTest, TwoThreadsMatchOneThreadClosely) {
  ModelConfig c;
  c.vocab_size = 500;
  c.context = 64;
  c.n_blocks = 2;
  c.d_model = 32;
  c.n_heads = 4;
  c.d_head = 8;
  c.d_ff = 64;
  Transformer model(c);
  model.InitParameters(9);
  const int B = 3, T = 64;
  const std::vector<int32_t> in = Tokens(B * T, c.vocab_size, 7), tg = Tokens(B * T, c.vocab_size, 8);
  openblas_set_num_threads(1);
  const float l1 = model.ForwardBackward(in.data(), tg.data(), B, T);
  std::vector<float> g1(model.grads(), model.grads() + model.num_params());
  openblas_set_num_threads(2);
  const float l2 = model.ForwardBackward(in.data(), tg.data(), B, T);
  openblas_set_num_threads(1);
  EXPECT_NEAR(l1, l2, 1e-5);
  for (size_t i = 0; i < g1.size(); ++i) ASSERT_NEAR(g1[i], model.grads()[i], 1e-5 + 1e-3 * std::fabs(g1[i])) << i;
}

}  // namespace
}  // namespace llm
