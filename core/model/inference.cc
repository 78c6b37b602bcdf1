#include "core/model/inference.h"

#include <cblas.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <unordered_set>

#include "absl/strings/str_cat.h"
#include "core/model/fast_math.h"

namespace llm {
namespace {

// Must match the training model (core/model/transformer.cc).
constexpr float kLayerNormEps = 1e-5f;

// y (rows, N) = x (rows, K) W (K, N) + beta * y, all row-major and dense.
// A single row uses sgemv (OpenBLAS's sgemm has more per-call overhead for
// M = 1).
void MatMul(int rows, int K, int N, const float* x, const float* W, float beta, float* y) {
  if (rows == 1) {
    cblas_sgemv(CblasRowMajor, CblasTrans, K, N, 1.0f, W, N, x, 1, beta, y, 1);
  } else {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, rows, N, K, 1.0f, x, K, W, N, beta, y,
                N);
  }
}

// out (C) = LayerNorm(x (C)) * g + b, population variance.
inline void LayerNormRow(const float* x, const float* g, const float* b, int C, float* out) {
  float mean = 0.0f;
  for (int i = 0; i < C; ++i) mean += x[i];
  mean /= static_cast<float>(C);
  float var = 0.0f;
  for (int i = 0; i < C; ++i) {
    const float d = x[i] - mean;
    var += d * d;
  }
  var /= static_cast<float>(C);
  const float rstd = 1.0f / std::sqrt(var + kLayerNormEps);
  for (int i = 0; i < C; ++i) out[i] = (x[i] - mean) * rstd * g[i] + b[i];
}

// In-place activation over n floats.
void Activate(Activation act, float* x, size_t n) {
  if (act == Activation::kRelu) {
    for (size_t i = 0; i < n; ++i) x[i] = x[i] > 0.0f ? x[i] : 0.0f;
  } else {
    // GELU, tanh approximation: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))).
    constexpr float kA = 0.7978845608028654f;
    for (size_t i = 0; i < n; ++i) {
      const float v = x[i];
      x[i] = 0.5f * v * (1.0f + std::tanh(kA * (v + 0.044715f * v * v * v)));
    }
  }
}

Workspace& ThreadWorkspace() {
  thread_local Workspace ws;
  return ws;
}

}  // namespace

// ---------------------------------------------------------------- Sequence

Sequence::Sequence(const InferenceModel* model, const ModelConfig& c, int32_t overflow_drop,
                   Sampler sampler)
    : model_(model),
      context_(c.context),
      n_blocks_(c.n_blocks),
      hd_(c.n_heads * c.d_head),
      overflow_drop_(overflow_drop),
      k_(static_cast<size_t>(c.n_blocks) * c.context * hd_),
      v_(static_cast<size_t>(c.n_blocks) * c.context * hd_),
      logits_(c.vocab_size),
      sampler_(std::move(sampler)) {}

std::unique_ptr<Sequence> Sequence::Copy() const {
  std::unique_ptr<Sequence> s(new Sequence(*this));
  return s;
}

absl::Span<const int32_t> Sequence::window() const {
  return absl::MakeConstSpan(history_).subspan(history_.size() - window_);
}

absl::Span<const float> Sequence::logits() const {
  if (!has_logits_) return {};
  return absl::MakeConstSpan(logits_);
}

int32_t Sequence::SampleNext() { return sampler_.Sample(logits_); }

void Sequence::Reset() {
  window_ = 0;
  history_.clear();
  has_logits_ = false;
  num_rebuilds_ = 0;
}

// ---------------------------------------------------------------- Workspace

void Workspace::Reserve(const ModelConfig& c, int rows, int logit_rows) {
  // Sizes depend on the config as well as the row count (a Workspace, e.g.
  // the thread_local one, may serve models of different shapes), so each
  // buffer is grown to what this call needs; it never shrinks.
  const size_t C = c.d_model, HD = static_cast<size_t>(c.n_heads) * c.d_head, F = c.d_ff;
  const size_t r = static_cast<size_t>(rows);
  auto grow = [](std::vector<float>& v, size_t n) {
    if (v.size() < n) v.resize(n);
  };
  grow(x_, r * C);
  grow(ln_, r * C);
  grow(q_, r * HD);
  grow(k_, r * HD);
  grow(v_, r * HD);
  grow(att_, r * HD);
  grow(ff_, r * F);
  grow(scores_, static_cast<size_t>(c.context));
  grow(logits_, static_cast<size_t>(logit_rows) * c.vocab_size);
}

// ---------------------------------------------------------------- InferenceModel

InferenceModel::InferenceModel(const ModelConfig& config, std::vector<float> params)
    : config_(config), layout_(config), params_(std::move(params)) {}

absl::StatusOr<std::shared_ptr<const InferenceModel>> InferenceModel::Create(
    const ModelConfig& config, std::vector<float> params) {
  absl::Status s = config.Validate();
  if (!s.ok()) return s;
  const size_t want = NumParameters(config);
  if (params.size() != want)
    return absl::InvalidArgumentError(absl::StrCat("InferenceModel: expected ", want,
                                                   " parameters for config ", config.DebugString(),
                                                   ", got ", params.size()));
  return std::shared_ptr<const InferenceModel>(new InferenceModel(config, std::move(params)));
}

absl::StatusOr<std::unique_ptr<Sequence>> InferenceModel::NewSequence(
    const SequenceOptions& options) const {
  absl::StatusOr<Sampler> sampler = Sampler::Create(options.sampler);
  if (!sampler.ok()) return sampler.status();
  if (options.overflow_drop < 0 || options.overflow_drop > config_.context)
    return absl::InvalidArgumentError(absl::StrCat("overflow_drop must be in [0, context=",
                                                   config_.context, "], got ",
                                                   options.overflow_drop));
  const int32_t drop =
      options.overflow_drop > 0 ? options.overflow_drop : std::max(1, config_.context / 2);
  return std::unique_ptr<Sequence>(new Sequence(this, config_, drop, std::move(*sampler)));
}

absl::Status InferenceModel::CheckTokens(absl::Span<const int32_t> tokens) const {
  for (size_t i = 0; i < tokens.size(); ++i) {
    if (tokens[i] < 0 || tokens[i] >= config_.vocab_size)
      return absl::InvalidArgumentError(absl::StrCat("token ", tokens[i], " at index ", i,
                                                     " is outside [0, vocab_size=",
                                                     config_.vocab_size, ")"));
  }
  return absl::OkStatus();
}

absl::Status InferenceModel::Prefill(Sequence& seq, absl::Span<const int32_t> tokens,
                                     Workspace* ws) const {
  if (seq.model_ != this)
    return absl::InvalidArgumentError("Prefill: sequence belongs to another model");
  if (tokens.empty()) return absl::InvalidArgumentError("Prefill: no tokens");
  absl::Status s = CheckTokens(tokens);
  if (!s.ok()) return s;
  Workspace& w = ws ? *ws : ThreadWorkspace();

  const int n = static_cast<int>(std::min<size_t>(tokens.size(), 1u << 30));
  seq.history_.insert(seq.history_.end(), tokens.begin(), tokens.end());
  const int T = config_.context;
  if (static_cast<int64_t>(seq.window_) + static_cast<int64_t>(tokens.size()) <= T) {
    PrefillUnchecked(seq, seq.history_.data() + seq.history_.size() - n, n, w);
    return absl::OkStatus();
  }
  // Overflow: re-base the window to the last L tokens of the history.
  const int L = std::max(T + 1 - seq.overflow_drop_, std::min(n, T));
  seq.window_ = 0;
  ++seq.num_rebuilds_;
  PrefillUnchecked(seq, seq.history_.data() + seq.history_.size() - L, L, w);
  return absl::OkStatus();
}

void InferenceModel::PrefillUnchecked(Sequence& seq, const int32_t* tokens, int n,
                                      Workspace& ws) const {
  const ModelConfig& c = config_;
  const int C = c.d_model, H = c.n_heads, D = c.d_head, HD = H * D, F = c.d_ff, V = c.vocab_size;
  const int T = c.context;
  const float scale = 1.0f / std::sqrt(static_cast<float>(D));
  const int p0 = seq.window_;  // window position of the first new token
  ws.Reserve(c, n, 1);
  const float* P = params_.data();

  // x (n, C) = wte[token] + wpe[position]
  float* x = ws.x_.data();
  for (int i = 0; i < n; ++i) {
    const float* te = P + layout_.wte + static_cast<size_t>(tokens[i]) * C;
    const float* pe = P + layout_.wpe + static_cast<size_t>(p0 + i) * C;
    float* xi = x + static_cast<size_t>(i) * C;
    for (int j = 0; j < C; ++j) xi[j] = te[j] + pe[j];
  }
  float* ln = ws.ln_.data();
  float* q = ws.q_.data();
  float* att = ws.att_.data();
  float* ff = ws.ff_.data();
  for (int b = 0; b < c.n_blocks; ++b) {
    const BlockOffsets& o = layout_.blocks[b];
    float* Kt = seq.k_.data() + static_cast<size_t>(b) * HD * T;  // (HD, T)
    float* Vt = seq.v_.data() + static_cast<size_t>(b) * HD * T;
    for (int i = 0; i < n; ++i)
      LayerNormRow(x + static_cast<size_t>(i) * C, P + o.ln1_g, P + o.ln1_b, C,
                   ln + static_cast<size_t>(i) * C);
    MatMul(n, C, HD, ln, P + o.wq, 0.0f, q);
    // Keys and values go straight into cache columns p0 .. p0+n-1, transposed:
    // Kt[:, p0:p0+n] (HD, n) = Wk^T (HD, C) ln^T (C, n).
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasTrans, HD, n, C, 1.0f, P + o.wk, HD, ln, C, 0.0f,
                Kt + p0, T);
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasTrans, HD, n, C, 1.0f, P + o.wv, HD, ln, C, 0.0f,
                Vt + p0, T);
    for (int i = 0; i < n; ++i)
      AttentionRow(q + static_cast<size_t>(i) * HD, Kt, Vt, T, p0 + i + 1, H, D, scale,
                   ws.scores_.data(), att + static_cast<size_t>(i) * HD);
    MatMul(n, HD, C, att, P + o.wo, 1.0f, x);  // x += att Wo
    for (int i = 0; i < n; ++i)
      LayerNormRow(x + static_cast<size_t>(i) * C, P + o.ln2_g, P + o.ln2_b, C,
                   ln + static_cast<size_t>(i) * C);
    for (int i = 0; i < n; ++i)
      std::memcpy(ff + static_cast<size_t>(i) * F, P + o.b1, sizeof(float) * F);
    MatMul(n, C, F, ln, P + o.w1, 1.0f, ff);  // ff = ln W1 + b1
    Activate(c.activation, ff, static_cast<size_t>(n) * F);
    for (int i = 0; i < n; ++i) {
      float* xi = x + static_cast<size_t>(i) * C;
      const float* b2 = P + o.b2;
      for (int j = 0; j < C; ++j) xi[j] += b2[j];
    }
    MatMul(n, F, C, ff, P + o.w2, 1.0f, x);  // x += ff W2 + b2
  }
  // Logits of the last row only.
  LayerNormRow(x + static_cast<size_t>(n - 1) * C, P + layout_.lnf_g, P + layout_.lnf_b, C, ln);
  std::memcpy(seq.logits_.data(), P + layout_.bu, sizeof(float) * V);
  MatMul(1, C, V, ln, P + layout_.wu, 1.0f, seq.logits_.data());
  seq.window_ = p0 + n;
  seq.has_logits_ = true;
}

absl::Status InferenceModel::DecodeStep(absl::Span<Sequence* const> seqs,
                                        absl::Span<const int32_t> tokens, Workspace* ws) const {
  if (seqs.size() != tokens.size())
    return absl::InvalidArgumentError(absl::StrCat("DecodeStep: ", seqs.size(), " sequences but ",
                                                   tokens.size(), " tokens"));
  absl::Status s = CheckTokens(tokens);
  if (!s.ok()) return s;
  for (size_t i = 0; i < seqs.size(); ++i) {
    if (seqs[i] == nullptr)
      return absl::InvalidArgumentError(absl::StrCat("DecodeStep: sequence ", i, " is null"));
    if (seqs[i]->model_ != this)
      return absl::InvalidArgumentError(
          absl::StrCat("DecodeStep: sequence ", i, " belongs to another model"));
    if (seqs[i]->window_ == 0)
      return absl::InvalidArgumentError(
          absl::StrCat("DecodeStep: sequence ", i, " is empty; Prefill it first"));
  }
  if (seqs.size() > 1) {
    std::unordered_set<const Sequence*> seen;
    for (size_t i = 0; i < seqs.size(); ++i)
      if (!seen.insert(seqs[i]).second)
        return absl::InvalidArgumentError(
            absl::StrCat("DecodeStep: sequence ", i, " appears more than once"));
  }
  Workspace& w = ws ? *ws : ThreadWorkspace();

  // Full windows are re-based with a prefill each; the rest run batched.
  std::vector<Sequence*>& batch = w.batch_seqs_;
  std::vector<int32_t>& batch_tokens = w.batch_tokens_;
  batch.clear();
  batch_tokens.clear();
  for (size_t i = 0; i < seqs.size(); ++i) {
    Sequence& seq = *seqs[i];
    if (seq.window_ >= config_.context) {
      seq.history_.push_back(tokens[i]);
      const int L = std::max(config_.context + 1 - seq.overflow_drop_, 1);
      seq.window_ = 0;
      ++seq.num_rebuilds_;
      PrefillUnchecked(seq, seq.history_.data() + seq.history_.size() - L, L, w);
    } else {
      batch.push_back(&seq);
      batch_tokens.push_back(tokens[i]);
    }
  }
  if (!batch.empty())
    DecodeBatchUnchecked(batch.data(), batch_tokens.data(), static_cast<int>(batch.size()), w);
  return absl::OkStatus();
}

void InferenceModel::DecodeBatchUnchecked(Sequence* const* seqs, const int32_t* tokens, int m,
                                          Workspace& ws) const {
  const ModelConfig& c = config_;
  const int C = c.d_model, H = c.n_heads, D = c.d_head, HD = H * D, F = c.d_ff, V = c.vocab_size;
  const int T = c.context;
  const float scale = 1.0f / std::sqrt(static_cast<float>(D));
  ws.Reserve(c, m, m);
  const float* P = params_.data();

  float* x = ws.x_.data();
  for (int r = 0; r < m; ++r) {
    Sequence& seq = *seqs[r];
    seq.history_.push_back(tokens[r]);
    const float* te = P + layout_.wte + static_cast<size_t>(tokens[r]) * C;
    const float* pe = P + layout_.wpe + static_cast<size_t>(seq.window_) * C;
    float* xr = x + static_cast<size_t>(r) * C;
    for (int j = 0; j < C; ++j) xr[j] = te[j] + pe[j];
  }
  float* ln = ws.ln_.data();
  float* q = ws.q_.data();
  float* kn = ws.k_.data();
  float* vn = ws.v_.data();
  float* att = ws.att_.data();
  float* ff = ws.ff_.data();
  for (int b = 0; b < c.n_blocks; ++b) {
    const BlockOffsets& o = layout_.blocks[b];
    for (int r = 0; r < m; ++r)
      LayerNormRow(x + static_cast<size_t>(r) * C, P + o.ln1_g, P + o.ln1_b, C,
                   ln + static_cast<size_t>(r) * C);
    MatMul(m, C, HD, ln, P + o.wq, 0.0f, q);
    MatMul(m, C, HD, ln, P + o.wk, 0.0f, kn);
    MatMul(m, C, HD, ln, P + o.wv, 0.0f, vn);
    for (int r = 0; r < m; ++r) {
      Sequence& seq = *seqs[r];
      const int p = seq.window_;
      float* Kt = seq.k_.data() + static_cast<size_t>(b) * HD * T;  // (HD, T)
      float* Vt = seq.v_.data() + static_cast<size_t>(b) * HD * T;
      const float* kr = kn + static_cast<size_t>(r) * HD;
      const float* vr = vn + static_cast<size_t>(r) * HD;
      for (int ch = 0; ch < HD; ++ch) {
        Kt[static_cast<size_t>(ch) * T + p] = kr[ch];
        Vt[static_cast<size_t>(ch) * T + p] = vr[ch];
      }
      AttentionRow(q + static_cast<size_t>(r) * HD, Kt, Vt, T, p + 1, H, D, scale,
                   ws.scores_.data(), att + static_cast<size_t>(r) * HD);
    }
    MatMul(m, HD, C, att, P + o.wo, 1.0f, x);
    for (int r = 0; r < m; ++r)
      LayerNormRow(x + static_cast<size_t>(r) * C, P + o.ln2_g, P + o.ln2_b, C,
                   ln + static_cast<size_t>(r) * C);
    for (int r = 0; r < m; ++r)
      std::memcpy(ff + static_cast<size_t>(r) * F, P + o.b1, sizeof(float) * F);
    MatMul(m, C, F, ln, P + o.w1, 1.0f, ff);
    Activate(c.activation, ff, static_cast<size_t>(m) * F);
    for (int r = 0; r < m; ++r) {
      float* xr = x + static_cast<size_t>(r) * C;
      const float* b2 = P + o.b2;
      for (int j = 0; j < C; ++j) xr[j] += b2[j];
    }
    MatMul(m, F, C, ff, P + o.w2, 1.0f, x);
  }
  for (int r = 0; r < m; ++r)
    LayerNormRow(x + static_cast<size_t>(r) * C, P + layout_.lnf_g, P + layout_.lnf_b, C,
                 ln + static_cast<size_t>(r) * C);
  float* logits = ws.logits_.data();
  if (m == 1) logits = seqs[0]->logits_.data();  // write in place, no copy
  for (int r = 0; r < m; ++r)
    std::memcpy(logits + static_cast<size_t>(r) * V, P + layout_.bu, sizeof(float) * V);
  MatMul(m, C, V, ln, P + layout_.wu, 1.0f, logits);
  for (int r = 0; r < m; ++r) {
    Sequence& seq = *seqs[r];
    if (m > 1)
      std::memcpy(seq.logits_.data(), logits + static_cast<size_t>(r) * V, sizeof(float) * V);
    seq.window_ += 1;
    seq.has_logits_ = true;
  }
}

// ---------------------------------------------------------------- Generator

absl::StatusOr<std::vector<int32_t>> Generator::Generate(absl::Span<const int32_t> prompt,
                                                         int64_t max_tokens,
                                                         const SequenceOptions& options,
                                                         const TokenCallback& on_token) const {
  if (prompt.empty()) return absl::InvalidArgumentError("Generate: empty prompt");
  if (max_tokens < 0)
    return absl::InvalidArgumentError(
        absl::StrCat("Generate: max_tokens must be >= 0, got ", max_tokens));
  absl::StatusOr<std::unique_ptr<Sequence>> seq = model_->NewSequence(options);
  if (!seq.ok()) return seq.status();
  Workspace ws;
  absl::Status s = model_->Prefill(**seq, prompt, &ws);
  if (!s.ok()) return s;
  std::vector<int32_t> out;
  out.reserve(static_cast<size_t>(std::min<int64_t>(max_tokens, 1 << 20)));
  Sequence* batch[1] = {seq->get()};
  for (int64_t i = 0; i < max_tokens; ++i) {
    const int32_t token = (*seq)->SampleNext();
    out.push_back(token);
    if (on_token && !on_token(token)) break;
    if (i + 1 == max_tokens) break;  // no need to compute logits nobody samples
    s = model_->DecodeStep(absl::MakeConstSpan(batch, 1), absl::MakeConstSpan(&token, 1), &ws);
    if (!s.ok()) return s;
  }
  return out;
}

}  // namespace llm
