#include "core/model/transformer.h"

#include <cblas.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "core/model/ops.h"
#include "core/model/thread_pool.h"

// Aborts with a message naming the broken precondition (programming errors
// only: bad shapes or token ids passed by the caller).
#define LLM_MODEL_CHECK(cond, ...)                                               \
  do {                                                                           \
    if (!(cond)) {                                                               \
      std::fprintf(stderr, "%s:%d: check failed: %s: ", __FILE__, __LINE__, #cond); \
      std::fprintf(stderr, __VA_ARGS__);                                         \
      std::fprintf(stderr, "\n");                                                \
      std::abort();                                                              \
    }                                                                            \
  } while (0)

namespace llm {
namespace {

// Rows of the unembedding processed at once: the (rows, V) logits chunk is
// reused, so the full (B*T, V) logits are never materialised.
constexpr int kLossChunkRows = 128;

// splitmix64: tiny, portable, well-mixed 64-bit generator.
struct SplitMix64 {
  uint64_t state;
  uint64_t Next() {
    uint64_t z = (state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  // Uniform in [0, 1) with 53 random bits.
  double Uniform() { return static_cast<double>(Next() >> 11) * (1.0 / 9007199254740992.0); }
  double Normal() {
    // Box-Muller; 1 - u in (0, 1] avoids log(0).
    const double u1 = 1.0 - Uniform(), u2 = Uniform();
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * M_PI * u2);
  }
};

}  // namespace

// Activations of one forward pass, kept for the backward pass, plus backward
// scratch. One arena, carved into named (shape-commented) pointers.
struct Transformer::Acts {
  int B = 0, T = 0;
  std::vector<float> arena;
  struct Block {
    float* ln1;        // (N,C)  LN1 output
    float* ln1_mean;   // (N)
    float* ln1_rstd;   // (N)
    float* q;          // (N,HD)
    float* k;          // (N,HD)
    float* v;          // (N,HD)
    float* probs;      // attention_probs_size(B,H,T)
    float* att;        // (N,HD) heads concatenated
    float* resid_mid;  // (N,C)  x + MHA(LN1(x))
    float* ln2;        // (N,C)
    float* ln2_mean;   // (N)
    float* ln2_rstd;   // (N)
    float* fc_pre;     // (N,F)  LN2 W1 + b1
    float* fc_act;     // (N,F)  act(fc_pre)
  };
  std::vector<float*> resid;  // n_blocks+1 of (N,C): resid[l] = input of block l
  std::vector<Block> blocks;
  float* lnf;        // (N,C)
  float* lnf_mean;   // (N)
  float* lnf_rstd;   // (N)
  float* logits;     // (kLossChunkRows, V) reused chunk
  float* x_aug;      // (kLossChunkRows, C+1) chunk of lnf with a column of ones
  float* dx_aug;     // (kLossChunkRows, C+1)
  // backward scratch
  float* dresid;     // (N,C)
  float* dln;        // (N,C)
  float* dlnf;       // (N,C)
  float* dq;         // (N,HD)
  float* dk;         // (N,HD)
  float* dv;         // (N,HD)
  float* datt;       // (N,HD)
  float* dfc_act;    // (N,F)
  float* dfc_pre;    // (N,F)
};

Transformer::Transformer(const ModelConfig& config)
    : config_(config), layout_(config), params_(layout_.total, 0.0f), grads_(layout_.total, 0.0f) {
  const absl::Status s = config.Validate();
  LLM_MODEL_CHECK(s.ok(), "%s", std::string(s.message()).c_str());
}

Transformer::~Transformer() = default;

void Transformer::InitParameters(uint64_t seed) {
  SplitMix64 rng{seed};
  const ModelConfig& c = config_;
  auto uniform = [&](size_t offset, size_t n, double spread) {
    for (size_t i = 0; i < n; ++i)
      params_[offset + i] = static_cast<float>((2.0 * rng.Uniform() - 1.0) * spread);
  };
  auto normal = [&](size_t offset, size_t n) {
    for (size_t i = 0; i < n; ++i) params_[offset + i] = static_cast<float>(rng.Normal());
  };
  auto fill = [&](size_t offset, size_t n, float value) {
    std::fill(params_.begin() + offset, params_.begin() + offset + n, value);
  };
  const size_t C = c.d_model, HD = size_t{1} * c.n_heads * c.d_head, F = c.d_ff, V = c.vocab_size;
  const double s_c = 1.0 / std::sqrt(static_cast<double>(C));
  const double s_hd = 1.0 / std::sqrt(static_cast<double>(HD));
  const double s_f = 1.0 / std::sqrt(static_cast<double>(F));
  normal(layout_.wte, V * C);
  normal(layout_.wpe, size_t{1} * c.context * C);
  for (const BlockOffsets& o : layout_.blocks) {
    fill(o.ln1_g, C, 1.0f);
    fill(o.ln1_b, C, 0.0f);
    uniform(o.wq, C * HD, s_c);
    uniform(o.wk, C * HD, s_c);
    uniform(o.wv, C * HD, s_c);
    uniform(o.wo, HD * C, s_hd);
    fill(o.ln2_g, C, 1.0f);
    fill(o.ln2_b, C, 0.0f);
    uniform(o.w1, C * F, s_c);
    uniform(o.b1, F, s_c);
    uniform(o.w2, F * C, s_f);
    uniform(o.b2, C, s_f);
  }
  fill(layout_.lnf_g, C, 1.0f);
  fill(layout_.lnf_b, C, 0.0f);
  uniform(layout_.wu, C * V, s_c);
  uniform(layout_.bu, V, s_c);
}

size_t Transformer::activation_bytes() const {
  return acts_ ? acts_->arena.size() * sizeof(float) : 0;
}

ThreadPool* Transformer::Pool() {
  const int n = std::max(1, openblas_get_num_threads());
  if (!pool_ || pool_->size() != n) pool_ = std::make_unique<ThreadPool>(n);
  return pool_.get();
}

void Transformer::EnsureActs(int B, int T) {
  if (acts_ && acts_->B == B && acts_->T == T) return;
  acts_ = std::make_unique<Acts>();
  Acts& a = *acts_;
  a.B = B;
  a.T = T;
  const size_t N = size_t{1} * B * T, C = config_.d_model, H = config_.n_heads,
               HD = H * config_.d_head, F = config_.d_ff, V = config_.vocab_size;
  const size_t L = config_.n_blocks, R = kLossChunkRows;
  const size_t per_block =
      3 * N * C + 4 * N + 4 * N * HD + attention_probs_size(B, H, T) + 2 * N * F;
  const size_t total = (L + 1) * N * C + L * per_block + N * C + 2 * N + R * V + 2 * R * (C + 1) +
                       3 * N * C + 4 * N * HD + 2 * N * F;
  a.arena.assign(total, 0.0f);
  float* p = a.arena.data();
  auto take = [&](size_t n) {
    float* r = p;
    p += n;
    return r;
  };
  for (size_t l = 0; l <= L; ++l) a.resid.push_back(take(N * C));
  a.blocks.resize(L);
  for (Acts::Block& b : a.blocks) {
    b.ln1 = take(N * C);
    b.ln1_mean = take(N);
    b.ln1_rstd = take(N);
    b.q = take(N * HD);
    b.k = take(N * HD);
    b.v = take(N * HD);
    b.probs = take(attention_probs_size(B, H, T));
    b.att = take(N * HD);
    b.resid_mid = take(N * C);
    b.ln2 = take(N * C);
    b.ln2_mean = take(N);
    b.ln2_rstd = take(N);
    b.fc_pre = take(N * F);
    b.fc_act = take(N * F);
  }
  a.lnf = take(N * C);
  a.lnf_mean = take(N);
  a.lnf_rstd = take(N);
  a.logits = take(R * V);
  a.x_aug = take(R * (C + 1));
  a.dx_aug = take(R * (C + 1));
  a.dresid = take(N * C);
  a.dln = take(N * C);
  a.dlnf = take(N * C);
  a.dq = take(N * HD);
  a.dk = take(N * HD);
  a.dv = take(N * HD);
  a.datt = take(N * HD);
  a.dfc_act = take(N * F);
  a.dfc_pre = take(N * F);
  LLM_MODEL_CHECK(p == a.arena.data() + total, "activation arena size mismatch");
}

void Transformer::ForwardTrunk(const int32_t* inputs, int B, int T) {
  LLM_MODEL_CHECK(B >= 1 && T >= 1 && T <= config_.context, "B=%d T=%d context=%d", B, T,
                  config_.context);
  const int V = config_.vocab_size;
  for (int i = 0; i < B * T; ++i)
    LLM_MODEL_CHECK(inputs[i] >= 0 && inputs[i] < V, "input token %d at %d not in [0, %d)",
                    inputs[i], i, V);
  EnsureActs(B, T);
  Acts& a = *acts_;
  ThreadPool* pool = Pool();
  const int N = B * T, C = config_.d_model, H = config_.n_heads, D = config_.d_head, HD = H * D,
            F = config_.d_ff;
  const float* P = params_.data();
  embedding_forward(a.resid[0], inputs, P + layout_.wte, P + layout_.wpe, B, T, C);
  for (int l = 0; l < config_.n_blocks; ++l) {
    const BlockOffsets& o = layout_.blocks[l];
    Acts::Block& b = a.blocks[l];
    const float* x = a.resid[l];  // (N,C)
    // x + MHA(LN1(x))
    layernorm_forward(b.ln1, b.ln1_mean, b.ln1_rstd, x, P + o.ln1_g, P + o.ln1_b, N, C);
    matmul_forward(b.q, b.ln1, P + o.wq, nullptr, N, C, HD);
    matmul_forward(b.k, b.ln1, P + o.wk, nullptr, N, C, HD);
    matmul_forward(b.v, b.ln1, P + o.wv, nullptr, N, C, HD);
    attention_forward(b.att, b.probs, b.q, b.k, b.v, B, T, H, D, pool);
    std::memcpy(b.resid_mid, x, sizeof(float) * N * C);
    matmul_forward(b.resid_mid, b.att, P + o.wo, nullptr, N, HD, C, /*accumulate=*/true);
    // + FFN(LN2(.))
    layernorm_forward(b.ln2, b.ln2_mean, b.ln2_rstd, b.resid_mid, P + o.ln2_g, P + o.ln2_b, N, C);
    matmul_forward(b.fc_pre, b.ln2, P + o.w1, P + o.b1, N, C, F);
    if (config_.activation == Activation::kGelu) {
      gelu_forward(b.fc_act, b.fc_pre, size_t{1} * N * F);
    } else {
      relu_forward(b.fc_act, b.fc_pre, size_t{1} * N * F);
    }
    float* out = a.resid[l + 1];
    std::memcpy(out, b.resid_mid, sizeof(float) * N * C);
    matmul_forward(out, b.fc_act, P + o.w2, P + o.b2, N, F, C, /*accumulate=*/true);
  }
  layernorm_forward(a.lnf, a.lnf_mean, a.lnf_rstd, a.resid[config_.n_blocks], P + layout_.lnf_g,
                    P + layout_.lnf_b, N, C);
}

float Transformer::LossHead(const int32_t* targets, int B, int T, bool backward) {
  Acts& a = *acts_;
  const int N = B * T, C = config_.d_model, V = config_.vocab_size;
  for (int i = 0; i < N; ++i)
    LLM_MODEL_CHECK(targets[i] >= 0 && targets[i] < V, "target token %d at %d not in [0, %d)",
                    targets[i], i, V);
  ThreadPool* pool = Pool();
  // wu (C,V) is immediately followed by bu (V) in the layout, so together they
  // form one (C+1, V) matrix; with a column of ones appended to the LNf output
  // the bias add (and dbu) come out of the same sgemm.
  const float* wu_aug = params_.data() + layout_.wu;  // (C+1,V)
  float* dwu_aug = grads_.data() + layout_.wu;         // (C+1,V)
  const int CA = C + 1;
  const float dscale = 1.0f / static_cast<float>(N);
  double loss = 0.0;
  for (int r0 = 0; r0 < N; r0 += kLossChunkRows) {
    const int rows = std::min(kLossChunkRows, N - r0);
    for (int r = 0; r < rows; ++r) {
      std::memcpy(a.x_aug + static_cast<size_t>(r) * CA, a.lnf + static_cast<size_t>(r0 + r) * C,
                  sizeof(float) * C);
      a.x_aug[static_cast<size_t>(r) * CA + C] = 1.0f;
    }
    // logits (rows,V) = x_aug (rows,C+1) . wu_aug (C+1,V)
    matmul_forward(a.logits, a.x_aug, wu_aug, nullptr, rows, CA, V);
    loss += softmax_xent_forward_backward(a.logits, targets + r0, rows, V, dscale, backward, pool);
    if (backward) {
      // a.logits now holds dlogits.
      std::fill(a.dx_aug, a.dx_aug + static_cast<size_t>(rows) * CA, 0.0f);
      matmul_backward(a.dx_aug, dwu_aug, nullptr, a.logits, a.x_aug, wu_aug, rows, CA, V);
      for (int r = 0; r < rows; ++r)
        std::memcpy(a.dlnf + static_cast<size_t>(r0 + r) * C, a.dx_aug + static_cast<size_t>(r) * CA,
                    sizeof(float) * C);
    }
  }
  return static_cast<float>(loss / N);
}

void Transformer::BackwardTrunk(const int32_t* inputs, int B, int T) {
  Acts& a = *acts_;
  ThreadPool* pool = Pool();
  const int N = B * T, C = config_.d_model, H = config_.n_heads, D = config_.d_head, HD = H * D,
            F = config_.d_ff;
  const float* P = params_.data();
  float* G = grads_.data();
  // dresid = d loss / d (final residual stream), via the final LayerNorm.
  std::fill(a.dresid, a.dresid + size_t{1} * N * C, 0.0f);
  layernorm_backward(a.dresid, G + layout_.lnf_g, G + layout_.lnf_b, a.dlnf,
                     a.resid[config_.n_blocks], a.lnf_mean, a.lnf_rstd, P + layout_.lnf_g, N, C);
  for (int l = config_.n_blocks - 1; l >= 0; --l) {
    const BlockOffsets& o = layout_.blocks[l];
    Acts::Block& b = a.blocks[l];
    // out = resid_mid + fc_act W2 + b2: dresid flows unchanged into resid_mid.
    std::fill(a.dfc_act, a.dfc_act + size_t{1} * N * F, 0.0f);
    matmul_backward(a.dfc_act, G + o.w2, G + o.b2, a.dresid, b.fc_act, P + o.w2, N, F, C);
    std::fill(a.dfc_pre, a.dfc_pre + size_t{1} * N * F, 0.0f);
    if (config_.activation == Activation::kGelu) {
      gelu_backward(a.dfc_pre, a.dfc_act, b.fc_pre, size_t{1} * N * F);
    } else {
      relu_backward(a.dfc_pre, a.dfc_act, b.fc_pre, size_t{1} * N * F);
    }
    std::fill(a.dln, a.dln + size_t{1} * N * C, 0.0f);
    matmul_backward(a.dln, G + o.w1, G + o.b1, a.dfc_pre, b.ln2, P + o.w1, N, C, F);
    layernorm_backward(a.dresid, G + o.ln2_g, G + o.ln2_b, a.dln, b.resid_mid, b.ln2_mean,
                       b.ln2_rstd, P + o.ln2_g, N, C);
    // resid_mid = x + att Wo
    std::fill(a.datt, a.datt + size_t{1} * N * HD, 0.0f);
    matmul_backward(a.datt, G + o.wo, nullptr, a.dresid, b.att, P + o.wo, N, HD, C);
    std::fill(a.dq, a.dq + size_t{1} * N * HD, 0.0f);
    std::fill(a.dk, a.dk + size_t{1} * N * HD, 0.0f);
    std::fill(a.dv, a.dv + size_t{1} * N * HD, 0.0f);
    attention_backward(a.dq, a.dk, a.dv, a.datt, b.q, b.k, b.v, b.probs, B, T, H, D, pool);
    std::fill(a.dln, a.dln + size_t{1} * N * C, 0.0f);
    matmul_backward(a.dln, G + o.wq, nullptr, a.dq, b.ln1, P + o.wq, N, C, HD);
    matmul_backward(a.dln, G + o.wk, nullptr, a.dk, b.ln1, P + o.wk, N, C, HD);
    matmul_backward(a.dln, G + o.wv, nullptr, a.dv, b.ln1, P + o.wv, N, C, HD);
    layernorm_backward(a.dresid, G + o.ln1_g, G + o.ln1_b, a.dln, a.resid[l], b.ln1_mean,
                       b.ln1_rstd, P + o.ln1_g, N, C);
  }
  embedding_backward(G + layout_.wte, G + layout_.wpe, a.dresid, inputs, B, T, C);
}

float Transformer::ForwardBackward(const int32_t* inputs, const int32_t* targets, int B, int T) {
  EnableFlushDenormals();
  ForwardTrunk(inputs, B, T);
  std::fill(grads_.begin(), grads_.end(), 0.0f);
  const float loss = LossHead(targets, B, T, /*backward=*/true);
  BackwardTrunk(inputs, B, T);
  return loss;
}

float Transformer::ForwardLoss(const int32_t* inputs, const int32_t* targets, int B, int T) {
  EnableFlushDenormals();
  ForwardTrunk(inputs, B, T);
  return LossHead(targets, B, T, /*backward=*/false);
}

void Transformer::ForwardLogits(const int32_t* inputs, int B, int T, float* logits) {
  EnableFlushDenormals();
  ForwardTrunk(inputs, B, T);
  const int N = B * T, C = config_.d_model, V = config_.vocab_size;
  matmul_forward(logits, acts_->lnf, params_.data() + layout_.wu, params_.data() + layout_.bu, N, C,
                 V);
}

}  // namespace llm
