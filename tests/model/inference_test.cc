// KV-cache inference (core/model/inference.h) against full forward passes.
//
// Two independent references:
//   - NaiveForward below: a direct, double-precision transcription of the
//     model maths (one position at a time, no cache, no BLAS);
//   - Transformer::ForwardLogits, the training model's float path.
// Every check compares the cached logits with a full forward pass over
// exactly the tokens the cache holds (seq.window()).
#include "core/model/inference.h"

#include <cmath>
#include <random>
#include <vector>

#include "core/model/config.h"
#include "core/model/transformer.h"
#include "gtest/gtest.h"

namespace llm {
namespace {

constexpr double kLayerNormEps = 1e-5;  // the training model's epsilon

ModelConfig TinyConfig(int context = 8, Activation act = Activation::kRelu) {
  ModelConfig c;
  c.vocab_size = 23;
  c.context = context;
  c.n_blocks = 2;
  c.d_model = 12;
  c.n_heads = 3;
  c.d_head = 4;
  c.d_ff = 20;
  c.activation = act;
  return c;
}

// Random parameters: weights N(0, 1/sqrt(fan_in)), LN gains around 1, biases
// small but non-zero so every term matters.
std::vector<float> RandomParams(const ModelConfig& c, uint32_t seed) {
  ParamLayout layout(c);
  std::vector<float> p(layout.total);
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (const TensorInfo& t : layout.tensors) {
    const bool is_gain = t.name.find("_g") != std::string::npos;
    const bool is_vector = t.shape.size() == 1;
    const float scale = is_vector ? 0.1f : 1.0f / std::sqrt(static_cast<float>(t.shape[0]));
    for (size_t i = 0; i < t.size(); ++i)
      p[t.offset + i] = (is_gain ? 1.0f : 0.0f) + scale * normal(rng);
  }
  return p;
}

// Logits (V) of the last position of a full causal forward pass over
// `tokens` (1 <= n <= context), computed in double precision.
std::vector<double> NaiveForward(const ModelConfig& c, const std::vector<float>& P,
                                 const std::vector<int32_t>& tokens) {
  ParamLayout L(c);
  const int n = static_cast<int>(tokens.size());
  const int C = c.d_model, H = c.n_heads, D = c.d_head, HD = H * D, F = c.d_ff, V = c.vocab_size;
  using Mat = std::vector<std::vector<double>>;
  auto mat = [](int r, int cols) { return Mat(r, std::vector<double>(cols, 0.0)); };
  auto layer_norm = [&](const std::vector<double>& x, size_t g, size_t b) {
    double mean = 0, var = 0;
    for (double v : x) mean += v;
    mean /= C;
    for (double v : x) var += (v - mean) * (v - mean);
    var /= C;
    std::vector<double> out(C);
    for (int i = 0; i < C; ++i) out[i] = (x[i] - mean) / std::sqrt(var + kLayerNormEps) * P[g + i] + P[b + i];
    return out;
  };
  auto linear = [&](const std::vector<double>& x, size_t w, int in, int out_dim) {
    std::vector<double> y(out_dim, 0.0);
    for (int i = 0; i < in; ++i)
      for (int j = 0; j < out_dim; ++j) y[j] += x[i] * P[w + static_cast<size_t>(i) * out_dim + j];
    return y;
  };
  Mat x = mat(n, C);
  for (int t = 0; t < n; ++t)
    for (int i = 0; i < C; ++i)
      x[t][i] = P[L.wte + static_cast<size_t>(tokens[t]) * C + i] + P[L.wpe + static_cast<size_t>(t) * C + i];
  for (int b = 0; b < c.n_blocks; ++b) {
    const BlockOffsets& o = L.blocks[b];
    Mat q(n), k(n), v(n);
    for (int t = 0; t < n; ++t) {
      std::vector<double> h = layer_norm(x[t], o.ln1_g, o.ln1_b);
      q[t] = linear(h, o.wq, C, HD);
      k[t] = linear(h, o.wk, C, HD);
      v[t] = linear(h, o.wv, C, HD);
    }
    for (int t = 0; t < n; ++t) {
      std::vector<double> concat(HD, 0.0);
      for (int hh = 0; hh < H; ++hh) {
        std::vector<double> s(t + 1);
        double mx = -1e300;
        for (int j = 0; j <= t; ++j) {
          double dot = 0;
          for (int d = 0; d < D; ++d) dot += q[t][hh * D + d] * k[j][hh * D + d];
          s[j] = dot / std::sqrt(static_cast<double>(D));
          mx = std::max(mx, s[j]);
        }
        double sum = 0;
        for (int j = 0; j <= t; ++j) sum += (s[j] = std::exp(s[j] - mx));
        for (int j = 0; j <= t; ++j)
          for (int d = 0; d < D; ++d) concat[hh * D + d] += s[j] / sum * v[j][hh * D + d];
      }
      std::vector<double> att = linear(concat, o.wo, HD, C);
      for (int i = 0; i < C; ++i) x[t][i] += att[i];
    }
    for (int t = 0; t < n; ++t) {
      std::vector<double> h = layer_norm(x[t], o.ln2_g, o.ln2_b);
      std::vector<double> f = linear(h, o.w1, C, F);
      for (int i = 0; i < F; ++i) {
        f[i] += P[o.b1 + i];
        if (c.activation == Activation::kRelu) {
          f[i] = std::max(0.0, f[i]);
        } else {
          const double z = f[i];
          f[i] = 0.5 * z * (1.0 + std::tanh(std::sqrt(2.0 / M_PI) * (z + 0.044715 * z * z * z)));
        }
      }
      std::vector<double> y = linear(f, o.w2, F, C);
      for (int i = 0; i < C; ++i) x[t][i] += y[i] + P[o.b2 + i];
    }
  }
  std::vector<double> h = layer_norm(x[n - 1], L.lnf_g, L.lnf_b);
  std::vector<double> logits = linear(h, L.wu, C, V);
  for (int i = 0; i < V; ++i) logits[i] += P[L.bu + i];
  return logits;
}

// Last-position logits from the training model's float forward pass.
std::vector<float> TransformerForward(const ModelConfig& c, const std::vector<float>& P,
                                      absl::Span<const int32_t> tokens) {
  Transformer tf(c);
  std::copy(P.begin(), P.end(), tf.params());
  const int T = static_cast<int>(tokens.size());
  std::vector<float> all(static_cast<size_t>(T) * c.vocab_size);
  tf.ForwardLogits(tokens.data(), 1, T, all.data());
  return std::vector<float>(all.end() - c.vocab_size, all.end());
}

template <typename Ref>
void ExpectLogitsNear(absl::Span<const float> got, const Ref& want, double tol, const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  double worst = 0;
  size_t at = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    const double err = std::abs(got[i] - static_cast<double>(want[i])) /
                       std::max(1.0, std::abs(static_cast<double>(want[i])));
    if (err > worst) worst = err, at = i;
  }
  EXPECT_LE(worst, tol) << what << ": worst relative error at vocab index " << at << " got "
                        << got[at] << " want " << want[at];
}

std::vector<int32_t> RandomTokens(int n, int vocab, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int32_t> dist(0, vocab - 1);
  std::vector<int32_t> t(n);
  for (int32_t& x : t) x = dist(rng);
  return t;
}

std::vector<int32_t> Window(const Sequence& s) { return {s.window().begin(), s.window().end()}; }

struct Fixture {
  ModelConfig config;
  std::vector<float> params;
  std::shared_ptr<const InferenceModel> model;
  Fixture(const ModelConfig& c, uint32_t seed) : config(c), params(RandomParams(c, seed)) {
    auto m = InferenceModel::Create(config, params);
    EXPECT_TRUE(m.ok()) << m.status();
    model = *m;
  }
  std::unique_ptr<Sequence> NewSeq(SequenceOptions o = {}) {
    auto s = model->NewSequence(o);
    EXPECT_TRUE(s.ok()) << s.status();
    return std::move(*s);
  }
};

TEST(InferenceTest, PrefillMatchesNaiveForward) {
  for (Activation act : {Activation::kRelu, Activation::kGelu}) {
    Fixture f(TinyConfig(8, act), 1);
    for (int n = 1; n <= 8; ++n) {
      auto seq = f.NewSeq();
      std::vector<int32_t> prompt = RandomTokens(n, f.config.vocab_size, 100 + n);
      ASSERT_TRUE(f.model->Prefill(*seq, prompt).ok());
      EXPECT_EQ(seq->window_size(), n);
      ExpectLogitsNear(seq->logits(), NaiveForward(f.config, f.params, prompt), 1e-4,
                       "prefill n=" + std::to_string(n));
    }
  }
}

TEST(InferenceTest, PrefillThenSingleDecodeStepsMatchFullForward) {
  Fixture f(TinyConfig(32), 2);
  auto seq = f.NewSeq();
  std::vector<int32_t> tokens = RandomTokens(32, f.config.vocab_size, 7);
  ASSERT_TRUE(f.model->Prefill(*seq, absl::MakeConstSpan(tokens).subspan(0, 3)).ok());
  for (int t = 3; t < 32; ++t) {
    Sequence* s = seq.get();
    ASSERT_TRUE(f.model->DecodeStep({&s, 1}, {tokens[t]}).ok());
    std::vector<int32_t> prefix(tokens.begin(), tokens.begin() + t + 1);
    ASSERT_EQ(Window(*seq), prefix);
    ExpectLogitsNear(seq->logits(), NaiveForward(f.config, f.params, prefix), 1e-4,
                     "decode t=" + std::to_string(t));
  }
  EXPECT_EQ(seq->num_rebuilds(), 0);
}

TEST(InferenceTest, PrefillInChunksEqualsOnePrefill) {
  Fixture f(TinyConfig(16), 3);
  std::vector<int32_t> tokens = RandomTokens(14, f.config.vocab_size, 9);
  auto a = f.NewSeq(), b = f.NewSeq();
  ASSERT_TRUE(f.model->Prefill(*a, tokens).ok());
  ASSERT_TRUE(f.model->Prefill(*b, absl::MakeConstSpan(tokens).subspan(0, 5)).ok());
  ASSERT_TRUE(f.model->Prefill(*b, absl::MakeConstSpan(tokens).subspan(5)).ok());
  ExpectLogitsNear(b->logits(), std::vector<float>(a->logits().begin(), a->logits().end()), 1e-5,
                   "chunked prefill");
}

TEST(InferenceTest, BatchedDecodeWithDifferentLengthsMatchesFullForwardAndSolo) {
  Fixture f(TinyConfig(40), 4);
  const std::vector<int> prompt_lengths = {1, 4, 9, 2, 17};
  const int m = static_cast<int>(prompt_lengths.size());
  std::vector<std::unique_ptr<Sequence>> batched, solo;
  std::vector<std::vector<int32_t>> streams;
  for (int i = 0; i < m; ++i) {
    streams.push_back(RandomTokens(prompt_lengths[i] + 20, f.config.vocab_size, 50 + i));
    batched.push_back(f.NewSeq());
    solo.push_back(f.NewSeq());
    auto prompt = absl::MakeConstSpan(streams[i]).subspan(0, prompt_lengths[i]);
    ASSERT_TRUE(f.model->Prefill(*batched[i], prompt).ok());
    ASSERT_TRUE(f.model->Prefill(*solo[i], prompt).ok());
  }
  for (int step = 0; step < 20; ++step) {
    std::vector<Sequence*> seqs;
    std::vector<int32_t> next;
    for (int i = 0; i < m; ++i) {
      seqs.push_back(batched[i].get());
      next.push_back(streams[i][prompt_lengths[i] + step]);
    }
    ASSERT_TRUE(f.model->DecodeStep(seqs, next).ok());
    for (int i = 0; i < m; ++i) {
      Sequence* s = solo[i].get();
      ASSERT_TRUE(f.model->DecodeStep({&s, 1}, {next[i]}).ok());
      const std::string what = "seq " + std::to_string(i) + " step " + std::to_string(step);
      ASSERT_EQ(Window(*batched[i]), Window(*solo[i])) << what;
      ExpectLogitsNear(batched[i]->logits(), NaiveForward(f.config, f.params, Window(*batched[i])),
                       1e-4, what);
      ExpectLogitsNear(batched[i]->logits(),
                       std::vector<float>(solo[i]->logits().begin(), solo[i]->logits().end()),
                       1e-5, what + " vs solo");
      EXPECT_EQ(ArgMax(batched[i]->logits()), ArgMax(solo[i]->logits())) << what;
    }
  }
}

// Past the context window: the cache is re-based and the logits must equal a
// full forward over exactly the retained tokens.
TEST(InferenceTest, OverflowKeepsRecentWindowAndMatchesFullForward) {
  const int T = 8;
  for (int drop : {0, 1, 3, 8}) {
    Fixture f(TinyConfig(T), 5);
    SequenceOptions opts;
    opts.overflow_drop = drop;
    auto seq = f.NewSeq(opts);
    const int effective_drop = drop == 0 ? T / 2 : drop;
    EXPECT_EQ(seq->overflow_drop(), effective_drop);
    std::vector<int32_t> tokens = RandomTokens(40, f.config.vocab_size, 11 + drop);
    ASSERT_TRUE(f.model->Prefill(*seq, absl::MakeConstSpan(tokens).subspan(0, 3)).ok());
    int expected_window = 3;
    for (int t = 3; t < 40; ++t) {
      Sequence* s = seq.get();
      ASSERT_TRUE(f.model->DecodeStep({&s, 1}, {tokens[t]}).ok());
      // The documented rule: a full window keeps the last T + 1 - drop tokens.
      expected_window = expected_window == T ? T + 1 - effective_drop : expected_window + 1;
      const std::string what = "drop " + std::to_string(drop) + " t=" + std::to_string(t);
      ASSERT_EQ(seq->window_size(), expected_window) << what;
      std::vector<int32_t> retained(tokens.begin() + t + 1 - expected_window, tokens.begin() + t + 1);
      ASSERT_EQ(Window(*seq), retained) << what;
      ASSERT_EQ(static_cast<int>(seq->history().size()), t + 1);
      ExpectLogitsNear(seq->logits(), NaiveForward(f.config, f.params, retained), 1e-4, what);
    }
    EXPECT_GT(seq->num_rebuilds(), 0);
  }
}

TEST(InferenceTest, LongPromptKeepsLastContextTokens) {
  const int T = 8;
  Fixture f(TinyConfig(T), 6);
  auto seq = f.NewSeq();
  std::vector<int32_t> tokens = RandomTokens(13, f.config.vocab_size, 12);
  ASSERT_TRUE(f.model->Prefill(*seq, tokens).ok());
  std::vector<int32_t> last(tokens.end() - T, tokens.end());
  EXPECT_EQ(Window(*seq), last);
  ExpectLogitsNear(seq->logits(), NaiveForward(f.config, f.params, last), 1e-4, "long prompt");
  // A second prefill that overflows a partly filled window: 3 + 6 > 8 keeps
  // max(T + 1 - drop, min(n, T)) = max(5, 6) = 6 tokens.
  auto seq2 = f.NewSeq();
  ASSERT_TRUE(f.model->Prefill(*seq2, absl::MakeConstSpan(tokens).subspan(0, 3)).ok());
  ASSERT_TRUE(f.model->Prefill(*seq2, absl::MakeConstSpan(tokens).subspan(3, 6)).ok());
  std::vector<int32_t> want(tokens.begin() + 3, tokens.begin() + 9);
  EXPECT_EQ(Window(*seq2), want);
  ExpectLogitsNear(seq2->logits(), NaiveForward(f.config, f.params, want), 1e-4, "prefill overflow");
}

TEST(InferenceTest, BatchedDecodeAcrossOverflowMatchesSolo) {
  const int T = 8;
  Fixture f(TinyConfig(T), 7);
  std::vector<std::unique_ptr<Sequence>> batched, solo;
  std::vector<std::vector<int32_t>> streams;
  for (int i = 0; i < 3; ++i) {
    streams.push_back(RandomTokens(30, f.config.vocab_size, 70 + i));
    batched.push_back(f.NewSeq());
    solo.push_back(f.NewSeq());
    auto prompt = absl::MakeConstSpan(streams[i]).subspan(0, 1 + 3 * i);
    ASSERT_TRUE(f.model->Prefill(*batched[i], prompt).ok());
    ASSERT_TRUE(f.model->Prefill(*solo[i], prompt).ok());
  }
  for (int step = 0; step < 20; ++step) {
    std::vector<Sequence*> seqs;
    std::vector<int32_t> next;
    for (int i = 0; i < 3; ++i) {
      seqs.push_back(batched[i].get());
      next.push_back(streams[i][1 + 3 * i + step]);
      Sequence* s = solo[i].get();
      ASSERT_TRUE(f.model->DecodeStep({&s, 1}, {next.back()}).ok());
    }
    ASSERT_TRUE(f.model->DecodeStep(seqs, next).ok());
    for (int i = 0; i < 3; ++i) {
      ASSERT_EQ(Window(*batched[i]), Window(*solo[i]));
      ExpectLogitsNear(batched[i]->logits(), NaiveForward(f.config, f.params, Window(*batched[i])),
                       1e-4, "overflow batch");
    }
  }
}

TEST(InferenceTest, DefaultConfigMatchesNaiveForwardAcrossOverflow) {
  ModelConfig c;  // vocab 10,256, context 128, 6 blocks, d 64, 8 heads x 8, ff 256
  Fixture f(c, 8);
  auto seq = f.NewSeq();
  std::vector<int32_t> tokens = RandomTokens(200, c.vocab_size, 13);
  ASSERT_TRUE(f.model->Prefill(*seq, absl::MakeConstSpan(tokens).subspan(0, 20)).ok());
  ExpectLogitsNear(seq->logits(), NaiveForward(c, f.params, Window(*seq)), 1e-4, "default prefill");
  for (int t = 20; t < 200; ++t) {
    Sequence* s = seq.get();
    ASSERT_TRUE(f.model->DecodeStep({&s, 1}, {tokens[t]}).ok());
    // Check a sample of steps (the naive reference is slow): a few before,
    // at and after the first overflow (window 128 -> 65).
    if (t == 21 || t == 127 || t == 128 || t == 129 || t == 199)
      ExpectLogitsNear(seq->logits(), NaiveForward(c, f.params, Window(*seq)), 1e-4,
                       "default t=" + std::to_string(t));
  }
  EXPECT_EQ(seq->num_rebuilds(), 2);  // at t = 128 and t = 192
}

// Cross-check against the training model's own forward pass.
TEST(InferenceTest, MatchesTransformerForwardLogits) {
  for (ModelConfig c : {TinyConfig(8), TinyConfig(8, Activation::kGelu), ModelConfig{}}) {
    Fixture f(c, 9);
    auto seq = f.NewSeq();
    std::vector<int32_t> tokens = RandomTokens(c.context + 5, c.vocab_size, 14);
    ASSERT_TRUE(f.model->Prefill(*seq, absl::MakeConstSpan(tokens).subspan(0, 2)).ok());
    for (size_t t = 2; t < tokens.size(); ++t) {
      Sequence* s = seq.get();
      ASSERT_TRUE(f.model->DecodeStep({&s, 1}, {tokens[t]}).ok());
      if (t % 7 == 0 || t + 1 == tokens.size())
        ExpectLogitsNear(seq->logits(), TransformerForward(c, f.params, seq->window()), 1e-4,
                         c.DebugString() + " t=" + std::to_string(t));
    }
  }
}

TEST(InferenceTest, CopyContinuesIdentically) {
  Fixture f(TinyConfig(8), 10);
  SequenceOptions o;
  o.sampler.seed = 99;
  auto a = f.NewSeq(o);
  std::vector<int32_t> prompt = RandomTokens(5, f.config.vocab_size, 15);
  ASSERT_TRUE(f.model->Prefill(*a, prompt).ok());
  std::unique_ptr<Sequence> b = a->Copy();
  for (int i = 0; i < 12; ++i) {
    int32_t ta = a->SampleNext(), tb = b->SampleNext();
    ASSERT_EQ(ta, tb);
    Sequence* sa = a.get();
    Sequence* sb = b.get();
    ASSERT_TRUE(f.model->DecodeStep({&sa, 1}, {ta}).ok());
    ASSERT_TRUE(f.model->DecodeStep({&sb, 1}, {tb}).ok());
    ASSERT_EQ(std::vector<float>(a->logits().begin(), a->logits().end()),
              std::vector<float>(b->logits().begin(), b->logits().end()));
  }
}

TEST(InferenceTest, GeneratorGreedyFollowsArgmaxOfFullForward) {
  Fixture f(TinyConfig(64), 11);
  Generator gen(f.model);
  std::vector<int32_t> prompt = RandomTokens(4, f.config.vocab_size, 16);
  SequenceOptions o;
  o.sampler.temperature = 0.0f;
  std::vector<int32_t> streamed;
  auto out = gen.Generate(prompt, 15, o, [&](int32_t t) {
    streamed.push_back(t);
    return true;
  });
  ASSERT_TRUE(out.ok()) << out.status();
  ASSERT_EQ(out->size(), 15u);
  EXPECT_EQ(streamed, *out);
  std::vector<int32_t> ctx = prompt;
  for (int32_t t : *out) {
    std::vector<double> ref = NaiveForward(f.config, f.params, ctx);
    std::vector<float> reff(ref.begin(), ref.end());
    EXPECT_EQ(t, ArgMax(reff));
    ctx.push_back(t);
  }
  // Early stop from the callback.
  int calls = 0;
  auto stopped = gen.Generate(prompt, 15, o, [&](int32_t) { return ++calls < 3; });
  ASSERT_TRUE(stopped.ok());
  EXPECT_EQ(stopped->size(), 3u);
  // Same seed => same sampled text.
  o.sampler.temperature = 1.0f;
  o.sampler.seed = 5;
  auto r1 = gen.Generate(prompt, 30, o), r2 = gen.Generate(prompt, 30, o);
  ASSERT_TRUE(r1.ok() && r2.ok());
  EXPECT_EQ(*r1, *r2);
}

// One Workspace (like the thread_local default) serving models of different
// shapes: buffers must grow with the model's widths, not only the row count.
TEST(InferenceTest, WorkspaceServesModelsOfDifferentShapes) {
  Workspace ws;
  Fixture small(TinyConfig(16), 14);
  ModelConfig wide_config = TinyConfig(16);
  wide_config.d_model = 40;
  wide_config.d_ff = 100;
  wide_config.vocab_size = 300;
  Fixture wide(wide_config, 15);
  auto a = small.NewSeq();
  std::vector<int32_t> long_prompt = RandomTokens(12, small.config.vocab_size, 17);
  ASSERT_TRUE(small.model->Prefill(*a, long_prompt, &ws).ok());
  auto b = wide.NewSeq();
  std::vector<int32_t> short_prompt = RandomTokens(3, wide_config.vocab_size, 18);
  ASSERT_TRUE(wide.model->Prefill(*b, short_prompt, &ws).ok());
  ExpectLogitsNear(b->logits(), NaiveForward(wide_config, wide.params, short_prompt), 1e-4, "wide");
  Sequence* seqs[2] = {b.get(), nullptr};
  auto c = wide.NewSeq();
  ASSERT_TRUE(wide.model->Prefill(*c, short_prompt, &ws).ok());
  seqs[1] = c.get();
  ASSERT_TRUE(wide.model->DecodeStep(seqs, {1, 2}, &ws).ok());
  std::vector<int32_t> next = short_prompt;
  next.push_back(2);
  ExpectLogitsNear(c->logits(), NaiveForward(wide_config, wide.params, next), 1e-4, "wide batch");
}

TEST(InferenceTest, InvalidInputsAreRejected) {
  Fixture f(TinyConfig(8), 12);
  EXPECT_EQ(InferenceModel::Create(f.config, std::vector<float>(5)).status().code(),
            absl::StatusCode::kInvalidArgument);
  ModelConfig bad = f.config;
  bad.d_model = 0;
  EXPECT_FALSE(InferenceModel::Create(bad, {}).ok());
  SequenceOptions o;
  o.overflow_drop = 9;
  EXPECT_FALSE(f.model->NewSequence(o).ok());
  o.overflow_drop = -1;
  EXPECT_FALSE(f.model->NewSequence(o).ok());
  o = {};
  o.sampler.temperature = -1;
  EXPECT_FALSE(f.model->NewSequence(o).ok());

  auto seq = f.NewSeq();
  EXPECT_FALSE(f.model->Prefill(*seq, {}).ok());
  EXPECT_FALSE(f.model->Prefill(*seq, {1, 23}).ok());
  EXPECT_FALSE(f.model->Prefill(*seq, {-1}).ok());
  EXPECT_TRUE(seq->history().empty());
  Sequence* s = seq.get();
  EXPECT_FALSE(f.model->DecodeStep({&s, 1}, {1}).ok());  // not prefilled
  ASSERT_TRUE(f.model->Prefill(*seq, {1, 2}).ok());
  EXPECT_FALSE(f.model->DecodeStep({&s, 1}, {1, 2}).ok());
  Sequence* twice[2] = {s, s};
  EXPECT_FALSE(f.model->DecodeStep(twice, {1, 2}).ok());
  auto other_seq = f.NewSeq();
  ASSERT_TRUE(f.model->Prefill(*other_seq, {3}).ok());
  Sequence* dup_last[3] = {s, other_seq.get(), s};
  const absl::Status dup = f.model->DecodeStep(dup_last, {1, 2, 3});
  EXPECT_EQ(dup.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(std::string(dup.message()).find("sequence 2 appears more than once"), std::string::npos) << dup;
  EXPECT_EQ(other_seq->history().size(), 1u);  // nothing appended on error
  EXPECT_FALSE(f.model->DecodeStep({&s, 1}, {100}).ok());
  EXPECT_EQ(seq->history().size(), 2u);

  Fixture other(TinyConfig(8), 13);
  EXPECT_FALSE(other.model->Prefill(*seq, {1}).ok());

  Generator gen(f.model);
  EXPECT_FALSE(gen.Generate({}, 3, {}).ok());
  EXPECT_FALSE(gen.Generate({1}, -1, {}).ok());
}

}  // namespace
}  // namespace llm
