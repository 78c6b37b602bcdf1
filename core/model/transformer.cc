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

// Rows of the unembedding processed at once by one thread: the (rows, V)
// logits chunk (64 x 10256 floats = 2.6 MB for the default model) is reused,
// so the full (B*T, V) logits are never materialised. Measured: 48-128 rows
// cost the same; below ~24 rows the small-K dW updates get slower.
constexpr int kLossChunkRows = 64;

// While a Transformer runs its own pool, every BLAS call must be
// single-threaded (each pool thread calls sgemm on its share of the rows);
// otherwise OpenBLAS's threads and the pool's fight over the cores. Sets
// OpenBLAS to 1 thread for the guard's lifetime if it was using more.
class SingleThreadedBlas {
 public:
  explicit SingleThreadedBlas(int threads) : threads_(threads) {
    if (threads_ > 1) openblas_set_num_threads(1);
  }
  ~SingleThreadedBlas() {
    if (threads_ > 1) openblas_set_num_threads(threads_);
  }
  SingleThreadedBlas(const SingleThreadedBlas&) = delete;
  SingleThreadedBlas& operator=(const SingleThreadedBlas&) = delete;

 private:
  int threads_;
};

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
    float* probs;      // attention_probs_size(B,H,T,D)
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

// Per-thread state: thread p handles a contiguous range of batch rows.
struct Transformer::Part {
  std::vector<float> logits;  // (kLossChunkRows, V) reused chunk
  std::vector<float> x_aug;   // (kLossChunkRows, C+1) chunk of lnf with a column of ones
  std::vector<float> dx_aug;  // (kLossChunkRows, C+1)
  std::vector<float> grads;   // (num_params) gradient partial; empty for part 0 (uses grads_)
  bool used = false;          // had rows in the current step
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
  size_t floats = acts_ ? acts_->arena.size() : 0;
  for (const Part& p : parts_) floats += p.logits.size() + p.x_aug.size() + p.dx_aug.size();
  return floats * sizeof(float);
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
               HD = H * config_.d_head, F = config_.d_ff;
  const size_t L = config_.n_blocks;
  const size_t per_block =
      3 * N * C + 4 * N + 4 * N * HD + attention_probs_size(B, H, T, config_.d_head) + 2 * N * F;
  const size_t total =
      (L + 1) * N * C + L * per_block + N * C + 2 * N + 3 * N * C + 4 * N * HD + 2 * N * F;
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
    b.probs = take(attention_probs_size(B, H, T, config_.d_head));
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

void Transformer::EnsureParts(int n) {
  const size_t R = kLossChunkRows, C = config_.d_model, V = config_.vocab_size;
  if (parts_.size() != static_cast<size_t>(n)) parts_.resize(n);
  for (int p = 0; p < n; ++p) {
    Part& part = parts_[p];
    part.logits.resize(R * V);
    part.x_aug.resize(R * (C + 1));
    part.dx_aug.resize(R * (C + 1));
  }
}

void Transformer::CheckTokens(const int32_t* tokens, int B, int T, const char* what) const {
  LLM_MODEL_CHECK(B >= 1 && T >= 1 && T <= config_.context, "B=%d T=%d context=%d", B, T,
                  config_.context);
  const int V = config_.vocab_size;
  for (int i = 0; i < B * T; ++i)
    LLM_MODEL_CHECK(tokens[i] >= 0 && tokens[i] < V, "%s token %d at %d not in [0, %d)", what,
                    tokens[i], i, V);
}

void Transformer::ForwardRows(const int32_t* inputs, int b0, int b1, int T) {
  Acts& a = *acts_;
  const int C = config_.d_model, H = config_.n_heads, D = config_.d_head, HD = H * D,
            F = config_.d_ff;
  const int n = (b1 - b0) * T;  // rows handled here
  const size_t r0 = static_cast<size_t>(b0) * T;
  const size_t probs0 = attention_probs_size(b0, H, T, D);
  const float* P = params_.data();
  embedding_forward(a.resid[0] + r0 * C, inputs + r0, P + layout_.wte, P + layout_.wpe, b1 - b0, T,
                    C);
  for (int l = 0; l < config_.n_blocks; ++l) {
    const BlockOffsets& o = layout_.blocks[l];
    Acts::Block& b = a.blocks[l];
    const float* x = a.resid[l] + r0 * C;  // (n,C)
    float* ln1 = b.ln1 + r0 * C;
    float* q = b.q + r0 * HD;
    float* k = b.k + r0 * HD;
    float* v = b.v + r0 * HD;
    float* att = b.att + r0 * HD;
    float* resid_mid = b.resid_mid + r0 * C;
    float* ln2 = b.ln2 + r0 * C;
    float* fc_pre = b.fc_pre + r0 * F;
    float* fc_act = b.fc_act + r0 * F;
    // x + MHA(LN1(x))
    layernorm_forward(ln1, b.ln1_mean + r0, b.ln1_rstd + r0, x, P + o.ln1_g, P + o.ln1_b, n, C);
    matmul_forward(q, ln1, P + o.wq, nullptr, n, C, HD);
    matmul_forward(k, ln1, P + o.wk, nullptr, n, C, HD);
    matmul_forward(v, ln1, P + o.wv, nullptr, n, C, HD);
    attention_forward(att, b.probs + probs0, q, k, v, b1 - b0, T, H, D, /*pool=*/nullptr);
    std::memcpy(resid_mid, x, sizeof(float) * n * C);
    matmul_forward(resid_mid, att, P + o.wo, nullptr, n, HD, C, /*accumulate=*/true);
    // + FFN(LN2(.))
    layernorm_forward(ln2, b.ln2_mean + r0, b.ln2_rstd + r0, resid_mid, P + o.ln2_g, P + o.ln2_b, n,
                      C);
    matmul_forward(fc_pre, ln2, P + o.w1, P + o.b1, n, C, F);
    if (config_.activation == Activation::kGelu) {
      gelu_forward(fc_act, fc_pre, size_t{1} * n * F);
    } else {
      relu_forward(fc_act, fc_pre, size_t{1} * n * F);
    }
    float* out = a.resid[l + 1] + r0 * C;
    std::memcpy(out, resid_mid, sizeof(float) * n * C);
    matmul_forward(out, fc_act, P + o.w2, P + o.b2, n, F, C, /*accumulate=*/true);
  }
  layernorm_forward(a.lnf + r0 * C, a.lnf_mean + r0, a.lnf_rstd + r0,
                    a.resid[config_.n_blocks] + r0 * C, P + layout_.lnf_g, P + layout_.lnf_b, n, C);
}

double Transformer::LossRows(Part& part, float* G, const int32_t* targets, int row0, int row1,
                             float dscale, bool backward) {
  Acts& a = *acts_;
  const int C = config_.d_model, V = config_.vocab_size;
  // wu (C,V) is immediately followed by bu (V) in the layout, so together they
  // form one (C+1, V) matrix; with a column of ones appended to the LNf output
  // the bias add (and dbu) come out of the same sgemm.
  const float* wu_aug = params_.data() + layout_.wu;  // (C+1,V)
  float* dwu_aug = G + layout_.wu;                     // (C+1,V)
  const int CA = C + 1;
  float* logits = part.logits.data();  // (kLossChunkRows,V)
  float* x_aug = part.x_aug.data();    // (kLossChunkRows,C+1)
  float* dx_aug = part.dx_aug.data();  // (kLossChunkRows,C+1)
  double loss = 0.0;
  for (int r0 = row0; r0 < row1; r0 += kLossChunkRows) {
    const int rows = std::min(kLossChunkRows, row1 - r0);
    for (int r = 0; r < rows; ++r) {
      std::memcpy(x_aug + static_cast<size_t>(r) * CA, a.lnf + static_cast<size_t>(r0 + r) * C,
                  sizeof(float) * C);
      x_aug[static_cast<size_t>(r) * CA + C] = 1.0f;
    }
    // logits (rows,V) = x_aug (rows,C+1) . wu_aug (C+1,V)
    matmul_forward(logits, x_aug, wu_aug, nullptr, rows, CA, V);
    loss += softmax_xent_forward_backward(logits, targets + r0, rows, V, dscale, backward,
                                          /*pool=*/nullptr);
    if (backward) {
      // logits now holds dlogits.
      matmul_backward(dx_aug, dwu_aug, nullptr, logits, x_aug, wu_aug, rows, CA, V,
                      /*overwrite_dx=*/true);
      for (int r = 0; r < rows; ++r)
        std::memcpy(a.dlnf + static_cast<size_t>(r0 + r) * C, dx_aug + static_cast<size_t>(r) * CA,
                    sizeof(float) * C);
    }
  }
  return loss;
}

void Transformer::BackwardRows(float* G, const int32_t* inputs, int b0, int b1, int T) {
  Acts& a = *acts_;
  const int C = config_.d_model, H = config_.n_heads, D = config_.d_head, HD = H * D,
            F = config_.d_ff;
  const int n = (b1 - b0) * T;
  const size_t r0 = static_cast<size_t>(b0) * T;
  const size_t probs0 = attention_probs_size(b0, H, T, D);
  const float* P = params_.data();
  float* dresid = a.dresid + r0 * C;    // (n,C)
  float* dln = a.dln + r0 * C;          // (n,C)
  float* dfc_act = a.dfc_act + r0 * F;  // (n,F)
  float* dfc_pre = a.dfc_pre + r0 * F;  // (n,F)
  float* datt = a.datt + r0 * HD;       // (n,HD)
  float* dq = a.dq + r0 * HD;           // (n,HD)
  float* dk = a.dk + r0 * HD;           // (n,HD)
  float* dv = a.dv + r0 * HD;           // (n,HD)
  // dresid = d loss / d (final residual stream), via the final LayerNorm.
  std::fill(dresid, dresid + size_t{1} * n * C, 0.0f);
  layernorm_backward(dresid, G + layout_.lnf_g, G + layout_.lnf_b, a.dlnf + r0 * C,
                     a.resid[config_.n_blocks] + r0 * C, a.lnf_mean + r0, a.lnf_rstd + r0,
                     P + layout_.lnf_g, n, C);
  for (int l = config_.n_blocks - 1; l >= 0; --l) {
    const BlockOffsets& o = layout_.blocks[l];
    Acts::Block& b = a.blocks[l];
    const float* ln1 = b.ln1 + r0 * C;
    const float* resid_mid = b.resid_mid + r0 * C;
    // out = resid_mid + fc_act W2 + b2: dresid flows unchanged into resid_mid.
    matmul_backward(dfc_act, G + o.w2, G + o.b2, dresid, b.fc_act + r0 * F, P + o.w2, n, F, C,
                    /*overwrite_dx=*/true);
    std::fill(dfc_pre, dfc_pre + size_t{1} * n * F, 0.0f);
    if (config_.activation == Activation::kGelu) {
      gelu_backward(dfc_pre, dfc_act, b.fc_pre + r0 * F, size_t{1} * n * F);
    } else {
      relu_backward(dfc_pre, dfc_act, b.fc_pre + r0 * F, size_t{1} * n * F);
    }
    matmul_backward(dln, G + o.w1, G + o.b1, dfc_pre, b.ln2 + r0 * C, P + o.w1, n, C, F,
                    /*overwrite_dx=*/true);
    layernorm_backward(dresid, G + o.ln2_g, G + o.ln2_b, dln, resid_mid, b.ln2_mean + r0,
                       b.ln2_rstd + r0, P + o.ln2_g, n, C);
    // resid_mid = x + att Wo
    matmul_backward(datt, G + o.wo, nullptr, dresid, b.att + r0 * HD, P + o.wo, n, HD, C,
                    /*overwrite_dx=*/true);
    std::fill(dq, dq + size_t{1} * n * HD, 0.0f);
    std::fill(dk, dk + size_t{1} * n * HD, 0.0f);
    std::fill(dv, dv + size_t{1} * n * HD, 0.0f);
    attention_backward(dq, dk, dv, datt, b.q + r0 * HD, b.k + r0 * HD, b.v + r0 * HD,
                       b.probs + probs0, b1 - b0, T, H, D, /*pool=*/nullptr);
    matmul_backward(dln, G + o.wq, nullptr, dq, ln1, P + o.wq, n, C, HD, /*overwrite_dx=*/true);
    matmul_backward(dln, G + o.wk, nullptr, dk, ln1, P + o.wk, n, C, HD);
    matmul_backward(dln, G + o.wv, nullptr, dv, ln1, P + o.wv, n, C, HD);
    layernorm_backward(dresid, G + o.ln1_g, G + o.ln1_b, dln, a.resid[l] + r0 * C, b.ln1_mean + r0,
                       b.ln1_rstd + r0, P + o.ln1_g, n, C);
  }
  embedding_backward(G + layout_.wte, G + layout_.wpe, dresid, inputs + r0, b1 - b0, T, C);
}

float Transformer::Run(const int32_t* inputs, const int32_t* targets, int B, int T, Mode mode,
                       float* logits_out) {
  EnableFlushDenormals();
  CheckTokens(inputs, B, T, "input");
  if (targets != nullptr) CheckTokens(targets, B, T, "target");
  EnsureActs(B, T);
  ThreadPool* pool = Pool();
  const int n_parts = pool->size();
  EnsureParts(n_parts);
  const bool backward = mode == Mode::kForwardBackward;
  const size_t n_params = layout_.total;
  if (backward) {
    for (int p = 1; p < n_parts; ++p) parts_[p].grads.resize(n_params);
  }
  const int V = config_.vocab_size, C = config_.d_model;
  const float dscale = 1.0f / static_cast<float>(B * T);
  std::vector<double> partial_loss(n_parts, 0.0);
  SingleThreadedBlas blas_guard(n_parts);
  // Each part runs the whole step for its batch rows [b0, b1); nothing is
  // shared between parts except read-only parameters.
  pool->ParallelFor(B, [&](int64_t b0, int64_t b1, int p) {
    EnableFlushDenormals();
    Part& part = parts_[p];
    part.used = true;
    ForwardRows(inputs, static_cast<int>(b0), static_cast<int>(b1), T);
    const int row0 = static_cast<int>(b0) * T, row1 = static_cast<int>(b1) * T;
    if (mode == Mode::kLogits) {
      const float* P = params_.data();
      matmul_forward(logits_out + static_cast<size_t>(row0) * V, acts_->lnf + static_cast<size_t>(row0) * C,
                     P + layout_.wu, P + layout_.bu, row1 - row0, C, V);
      return;
    }
    float* G = p == 0 ? grads_.data() : part.grads.data();
    if (backward) std::fill(G, G + n_params, 0.0f);
    partial_loss[p] = LossRows(part, G, targets, row0, row1, dscale, backward);
    if (backward) BackwardRows(G, inputs, static_cast<int>(b0), static_cast<int>(b1), T);
  });
  if (backward) {
    // grads_ = sum of the parts' gradients, in part order (deterministic for a
    // fixed thread count), split by index range over the pool.
    pool->ParallelFor(static_cast<int64_t>(n_params), [&](int64_t i0, int64_t i1, int) {
      float* g = grads_.data();
      if (!parts_[0].used) std::fill(g + i0, g + i1, 0.0f);
      for (int p = 1; p < n_parts; ++p) {
        if (!parts_[p].used) continue;
        const float* gp = parts_[p].grads.data();
        for (int64_t i = i0; i < i1; ++i) g[i] += gp[i];
      }
    });
  }
  for (Part& part : parts_) part.used = false;
  double loss = 0.0;
  for (double l : partial_loss) loss += l;
  return static_cast<float>(loss / (static_cast<double>(B) * T));
}

float Transformer::ForwardBackward(const int32_t* inputs, const int32_t* targets, int B, int T) {
  return Run(inputs, targets, B, T, Mode::kForwardBackward, nullptr);
}

float Transformer::ForwardLoss(const int32_t* inputs, const int32_t* targets, int B, int T) {
  return Run(inputs, targets, B, T, Mode::kForwardLoss, nullptr);
}

void Transformer::ForwardLogits(const int32_t* inputs, int B, int T, float* logits) {
  Run(inputs, nullptr, B, T, Mode::kLogits, logits);
}

}  // namespace llm
