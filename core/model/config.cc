#include "core/model/config.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace llm {

absl::Status ModelConfig::Validate() const {
  auto check = [](const char* name, int64_t v) -> absl::Status {
    if (v < 1) return absl::InvalidArgumentError(absl::StrCat("model config: ", name, " must be >= 1, got ", v));
    return absl::OkStatus();
  };
  for (auto [name, v] : {std::pair<const char*, int64_t>{"vocab_size", vocab_size},
                         {"context", context},
                         {"n_blocks", n_blocks},
                         {"d_model", d_model},
                         {"n_heads", n_heads},
                         {"d_head", d_head},
                         {"d_ff", d_ff}}) {
    absl::Status s = check(name, v);
    if (!s.ok()) return s;
  }
  if (activation != Activation::kRelu && activation != Activation::kGelu)
    return absl::InvalidArgumentError(
        absl::StrCat("model config: unknown activation ", static_cast<int>(activation)));
  return absl::OkStatus();
}

std::string ModelConfig::DebugString() const {
  return absl::StrFormat(
      "vocab=%d context=%d blocks=%d d_model=%d heads=%d d_head=%d d_ff=%d act=%s", vocab_size,
      context, n_blocks, d_model, n_heads, d_head, d_ff,
      activation == Activation::kRelu ? "relu" : "gelu");
}

size_t TensorInfo::size() const {
  size_t n = 1;
  for (int64_t d : shape) n *= static_cast<size_t>(d);
  return n;
}

ParamLayout::ParamLayout(const ModelConfig& c) {
  const int64_t V = c.vocab_size, T = c.context, C = c.d_model, HD = int64_t{c.n_heads} * c.d_head,
                F = c.d_ff;
  size_t off = 0;
  auto add = [&](std::string name, std::vector<int64_t> shape) {
    TensorInfo t{std::move(name), off, std::move(shape)};
    size_t at = off;
    off += t.size();
    tensors.push_back(std::move(t));
    return at;
  };
  wte = add("wte", {V, C});
  wpe = add("wpe", {T, C});
  for (int b = 0; b < c.n_blocks; ++b) {
    std::string p = absl::StrCat("block", b, ".");
    BlockOffsets o;
    o.ln1_g = add(p + "ln1_g", {C});
    o.ln1_b = add(p + "ln1_b", {C});
    o.wq = add(p + "wq", {C, HD});
    o.wk = add(p + "wk", {C, HD});
    o.wv = add(p + "wv", {C, HD});
    o.wo = add(p + "wo", {HD, C});
    o.ln2_g = add(p + "ln2_g", {C});
    o.ln2_b = add(p + "ln2_b", {C});
    o.w1 = add(p + "w1", {C, F});
    o.b1 = add(p + "b1", {F});
    o.w2 = add(p + "w2", {F, C});
    o.b2 = add(p + "b2", {C});
    blocks.push_back(o);
  }
  lnf_g = add("lnf_g", {C});
  lnf_b = add("lnf_b", {C});
  wu = add("wu", {C, V});
  bu = add("bu", {V});
  total = off;
}

size_t NumParameters(const ModelConfig& c) { return ParamLayout(c).total; }

}  // namespace llm
