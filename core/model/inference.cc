#include "core/model/inference.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "core/model/fast_math.h"

namespace llm {
namespace {

// Must match the training model (core/model/transformer.cc).
constexpr float kLayerNormEps = 1e-5f;

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

// Writes the key and value parts of one qkv row (q | k | v, 3 HD floats)
// into cache position p (layout: fast_math.h KvCacheIndex).
inline void StoreKv(const float* qkv, int H, int D, int tiles, int p, float* K, float* V) {
  const int HD = H * D;
  for (int h = 0; h < H; ++h)
    for (int d = 0; d < D; ++d) {
      const size_t at = KvCacheIndex(h, d, p, D, tiles);
      K[at] = qkv[HD + h * D + d];
      V[at] = qkv[2 * HD + h * D + d];
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
      tiles_((c.context + 7) / 8),
      overflow_drop_(overflow_drop),
      k_(static_cast<size_t>(c.n_blocks) * hd_ * tiles_ * 8),
      v_(static_cast<size_t>(c.n_blocks) * hd_ * tiles_ * 8),
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

void Workspace::Reserve(const ModelConfig& c, int rows) {
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
  grow(qkv_, r * 3 * HD);
  grow(att_, r * HD);
  grow(ff_, r * F);
  grow(scores_, static_cast<size_t>(c.context + 7) / 8 * 8);
  if (logit_rows_.size() < r) logit_rows_.resize(r);
}

// ---------------------------------------------------------------- InferenceModel

InferenceModel::InferenceModel(const ModelConfig& config, std::vector<float> params)
    : config_(config), layout_(config), params_(std::move(params)) {
  const int C = config.d_model, HD = config.n_heads * config.d_head, F = config.d_ff;
  const float* P = params_.data();
  std::vector<float> qkv(static_cast<size_t>(C) * 3 * HD);  // (C, 3 HD) = [wq | wk | wv]
  for (const BlockOffsets& o : layout_.blocks) {
    for (int k = 0; k < C; ++k)
      for (int part = 0; part < 3; ++part) {
        const size_t src = (part == 0 ? o.wq : part == 1 ? o.wk : o.wv) + static_cast<size_t>(k) * HD;
        std::memcpy(qkv.data() + static_cast<size_t>(k) * 3 * HD + part * HD, P + src,
                    sizeof(float) * HD);
      }
    packed_blocks_.push_back({PackedMatrix(qkv.data(), C, 3 * HD, 3 * HD),
                              PackedMatrix(P + o.wo, HD, C, C), PackedMatrix(P + o.w1, C, F, F),
                              PackedMatrix(P + o.w2, F, C, C)});
  }
  packed_wu_ = PackedMatrix(P + layout_.wu, C, config.vocab_size, config.vocab_size);
}

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
  const int tiles = seq.tiles_;
  const size_t block_cache = static_cast<size_t>(HD) * tiles * 8;  // floats per block
  const float scale = 1.0f / std::sqrt(static_cast<float>(D));
  const int p0 = seq.window_;  // window position of the first new token
  ws.Reserve(c, n);
  const float* P = params_.data();
  const GemmOutput ff_out =
      c.activation == Activation::kRelu ? GemmOutput::kStoreRelu : GemmOutput::kStore;

  // x (n, C) = wte[token] + wpe[position]
  float* x = ws.x_.data();
  for (int i = 0; i < n; ++i) Embed(tokens[i], p0 + i, x + static_cast<size_t>(i) * C);
  float* ln = ws.ln_.data();
  float* qkv = ws.qkv_.data();
  float* att = ws.att_.data();
  float* ff = ws.ff_.data();
  for (int b = 0; b < c.n_blocks; ++b) {
    const BlockOffsets& o = layout_.blocks[b];
    const PackedBlock& pb = packed_blocks_[b];
    float* Kc = seq.k_.data() + b * block_cache;  // (H, tiles, D, 8)
    float* Vc = seq.v_.data() + b * block_cache;
    LayerNormRows(x, n, C, P + o.ln1_g, P + o.ln1_b, kLayerNormEps, ln);
    GemmPacked(n, ln, C, pb.wqkv, nullptr, GemmOutput::kStore, qkv, 3 * HD);
    // Keys and values of window positions p0 .. p0+n-1 into the cache.
    for (int i = 0; i < n; ++i)
      StoreKv(qkv + static_cast<size_t>(i) * 3 * HD, H, D, tiles, p0 + i, Kc, Vc);
    for (int i = 0; i < n; ++i)
      AttentionRow(qkv + static_cast<size_t>(i) * 3 * HD, Kc, Vc, tiles, p0 + i + 1, H, D, scale,
                   ws.scores_.data(), att + static_cast<size_t>(i) * HD);
    GemmPacked(n, att, HD, pb.wo, nullptr, GemmOutput::kAccumulate, x, C);  // x += att Wo
    LayerNormRows(x, n, C, P + o.ln2_g, P + o.ln2_b, kLayerNormEps, ln);
    GemmPacked(n, ln, C, pb.w1, P + o.b1, ff_out, ff, F);  // ff = act(ln W1 + b1)
    if (c.activation != Activation::kRelu) Activate(c.activation, ff, static_cast<size_t>(n) * F);
    GemmPacked(n, ff, F, pb.w2, P + o.b2, GemmOutput::kAccumulate, x, C);  // x += ff W2 + b2
  }
  // Logits of the last row only.
  LayerNormRows(x + static_cast<size_t>(n - 1) * C, 1, C, P + layout_.lnf_g, P + layout_.lnf_b,
                kLayerNormEps, ln);
  GemmPacked(1, ln, C, packed_wu_, P + layout_.bu, GemmOutput::kStore, seq.logits_.data(), V);
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
  Workspace& w = ws ? *ws : ThreadWorkspace();
  std::vector<Sequence*>& batch = w.batch_seqs_;  // reused: no allocation per step
  if (seqs.size() > 1) {
    batch.assign(seqs.begin(), seqs.end());
    std::sort(batch.begin(), batch.end());
    if (std::adjacent_find(batch.begin(), batch.end()) != batch.end()) {
      for (size_t i = 1; i < seqs.size(); ++i)
        for (size_t j = 0; j < i; ++j)
          if (seqs[i] == seqs[j])
            return absl::InvalidArgumentError(
                absl::StrCat("DecodeStep: sequence ", i, " appears more than once"));
    }
  }

  // Full windows are re-based with a prefill each; the rest run batched.
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

void InferenceModel::Embed(int32_t token, int position, float* x) const {
  const int C = config_.d_model;
  const float* te = params_.data() + layout_.wte + static_cast<size_t>(token) * C;
  const float* pe = params_.data() + layout_.wpe + static_cast<size_t>(position) * C;
  for (int j = 0; j < C; ++j) x[j] = te[j] + pe[j];
}

void InferenceModel::DecodeBatchUnchecked(Sequence* const* seqs, const int32_t* tokens, int m,
                                          Workspace& ws) const {
  const ModelConfig& c = config_;
  const int C = c.d_model, H = c.n_heads, D = c.d_head, HD = H * D, F = c.d_ff;
  const float scale = 1.0f / std::sqrt(static_cast<float>(D));
  ws.Reserve(c, m);
  const float* P = params_.data();
  const GemmOutput ff_out =
      c.activation == Activation::kRelu ? GemmOutput::kStoreRelu : GemmOutput::kStore;

  float* x = ws.x_.data();
  for (int r = 0; r < m; ++r) {
    Sequence& seq = *seqs[r];
    seq.history_.push_back(tokens[r]);
    Embed(tokens[r], seq.window_, x + static_cast<size_t>(r) * C);
  }
  float* ln = ws.ln_.data();
  float* qkv = ws.qkv_.data();
  float* att = ws.att_.data();
  float* ff = ws.ff_.data();
  for (int b = 0; b < c.n_blocks; ++b) {
    const BlockOffsets& o = layout_.blocks[b];
    const PackedBlock& pb = packed_blocks_[b];
    LayerNormRows(x, m, C, P + o.ln1_g, P + o.ln1_b, kLayerNormEps, ln);
    GemmPacked(m, ln, C, pb.wqkv, nullptr, GemmOutput::kStore, qkv, 3 * HD);
    for (int r = 0; r < m; ++r) {
      Sequence& seq = *seqs[r];
      const int p = seq.window_, tiles = seq.tiles_;
      const size_t block_cache = static_cast<size_t>(HD) * tiles * 8;  // floats per block
      float* Kc = seq.k_.data() + b * block_cache;  // (H, tiles, D, 8)
      float* Vc = seq.v_.data() + b * block_cache;
      const float* qr = qkv + static_cast<size_t>(r) * 3 * HD;
      StoreKv(qr, H, D, tiles, p, Kc, Vc);
      AttentionRow(qr, Kc, Vc, tiles, p + 1, H, D, scale, ws.scores_.data(),
                   att + static_cast<size_t>(r) * HD);
    }
    GemmPacked(m, att, HD, pb.wo, nullptr, GemmOutput::kAccumulate, x, C);  // x += att Wo
    LayerNormRows(x, m, C, P + o.ln2_g, P + o.ln2_b, kLayerNormEps, ln);
    GemmPacked(m, ln, C, pb.w1, P + o.b1, ff_out, ff, F);  // ff = act(ln W1 + b1)
    if (c.activation != Activation::kRelu) Activate(c.activation, ff, static_cast<size_t>(m) * F);
    GemmPacked(m, ff, F, pb.w2, P + o.b2, GemmOutput::kAccumulate, x, C);  // x += ff W2 + b2
  }
  LayerNormRows(x, m, C, P + layout_.lnf_g, P + layout_.lnf_b, kLayerNormEps, ln);
  // Logits go straight into each sequence's buffer; W_u is streamed once.
  float** logit_rows = ws.logit_rows_.data();
  for (int r = 0; r < m; ++r) logit_rows[r] = seqs[r]->logits_.data();
  GemmPackedRows(m, ln, C, packed_wu_, P + layout_.bu, GemmOutput::kStore, logit_rows);
  for (int r = 0; r < m; ++r) {
    seqs[r]->window_ += 1;
    seqs[r]->has_logits_ = true;
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
