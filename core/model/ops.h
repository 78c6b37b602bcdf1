// Forward/backward pairs of the layers that make up the transformer.
//
// Conventions (in the style of karpathy/llm.c):
//   * All tensors are row-major float32; every pointer argument carries its
//     shape in a comment. N is the number of rows (N = B*T for activations).
//   * `*_forward` functions OVERWRITE their outputs.
//   * `*_backward` functions ADD into every gradient they produce (dx, dw,
//     db, ...), so callers zero them first (parameter gradients are zeroed
//     once per step; residual-stream gradients accumulate naturally).
//   * Matrix products go through cblas_sgemm. Element-wise loops are written
//     to vectorise and are compiled for AVX-512 / AVX2 / baseline with
//     run-time dispatch.
//   * Functions are thread-compatible (no shared state) unless they take a
//     ThreadPool, in which case they split work over it deterministically.
#ifndef LLM_CORE_MODEL_OPS_H_
#define LLM_CORE_MODEL_OPS_H_

#include <cstddef>
#include <cstdint>

namespace llm {

class ThreadPool;

// LayerNorm epsilon (the original: std = sqrt(var + 1e-5)).
inline constexpr float kLayerNormEps = 1e-5f;

// Sets flush-to-zero / denormals-are-zero on the calling thread (denormals
// slow the backward pass badly). Called by every Transformer entry point.
void EnableFlushDenormals();

// exp(x) for float, vectorisable, |rel err| < 3e-7 over [-87, 88]; returns 0
// below -87.3 (so exp(-inf) = 0) and saturates above 88.7.
float FastExp(float x);

// --- token + position embedding -------------------------------------------
// out[b,t,:] = wte[tokens[b,t],:] + wpe[t,:]. Token ids must be in [0, V).
void embedding_forward(float* out,             // (B,T,C)
                       const int32_t* tokens,  // (B,T)
                       const float* wte,       // (V,C)
                       const float* wpe,       // (>=T,C)
                       int B, int T, int C);
void embedding_backward(float* dwte,            // (V,C)   +=
                        float* dwpe,            // (>=T,C) +=
                        const float* dout,      // (B,T,C)
                        const int32_t* tokens,  // (B,T)
                        int B, int T, int C);

// --- LayerNorm ---------------------------------------------------------------
// out = (x - mean) * rstd * g + b, rstd = 1/sqrt(var + eps) (biased variance).
void layernorm_forward(float* out,       // (N,C)
                       float* mean,      // (N)
                       float* rstd,      // (N)
                       const float* x,   // (N,C)
                       const float* g,   // (C)
                       const float* b,   // (C)
                       int N, int C);
void layernorm_backward(float* dx,          // (N,C) +=
                        float* dg,          // (C)   +=
                        float* db,          // (C)   +=
                        const float* dout,  // (N,C)
                        const float* x,     // (N,C)
                        const float* mean,  // (N)
                        const float* rstd,  // (N)
                        const float* g,     // (C)
                        int N, int C);

// --- linear layer y = x W + b ---------------------------------------------------
// If `accumulate`, out += x W + b (used for residual connections), otherwise
// out = x W + b. bias may be null.
void matmul_forward(float* out,         // (N,OC)
                    const float* x,     // (N,IC)
                    const float* w,     // (IC,OC)
                    const float* bias,  // (OC) or null
                    int N, int IC, int OC, bool accumulate = false);
// dx, dw, db may each be null (skipped). With overwrite_dx, dx = dout W^T
// instead of += (saves zeroing dx first).
void matmul_backward(float* dx,          // (N,IC)  +=
                     float* dw,          // (IC,OC) +=
                     float* db,          // (OC)    +=
                     const float* dout,  // (N,OC)
                     const float* x,     // (N,IC)
                     const float* w,     // (IC,OC)
                     int N, int IC, int OC, bool overwrite_dx = false);

// --- causal multi-head self-attention core -------------------------------------
// For each batch b and head h (columns [h*D, (h+1)*D) of q/k/v/out):
//   s[t,j] = q_t . k_j / sqrt(D) for j <= t (j > t masked out),
//   p[t,:] = softmax(s[t,:]),  out_t = sum_j p[t,j] v_j.
// probs keeps p for the backward pass in an internal layout: it must hold
// attention_probs_size(B, H, T, D) floats (at most B*H*T*T, rounded up per
// head to multiples of 16 in T). pool may be null (single-threaded).
// Floats needed by the `probs` buffer of attention_forward/backward.
size_t attention_probs_size(int B, int H, int T, int D);
void attention_forward(float* out,       // (B,T,H*D)
                       float* probs,     // attention_probs_size(B,H,T,D)
                       const float* q,   // (B,T,H*D)
                       const float* k,   // (B,T,H*D)
                       const float* v,   // (B,T,H*D)
                       int B, int T, int H, int D, ThreadPool* pool);
void attention_backward(float* dq,          // (B,T,H*D) +=
                        float* dk,          // (B,T,H*D) +=
                        float* dv,          // (B,T,H*D) +=
                        const float* dout,  // (B,T,H*D)
                        const float* q,     // (B,T,H*D)
                        const float* k,     // (B,T,H*D)
                        const float* v,     // (B,T,H*D)
                        const float* probs, // as left by attention_forward
                        int B, int T, int H, int D, ThreadPool* pool);

// --- activations (element-wise over n values) ------------------------------------
void relu_forward(float* out, const float* x, size_t n);                    // out = max(x, 0)
void relu_backward(float* dx, const float* dout, const float* x, size_t n); // dx += dout * (x > 0)
// GELU, tanh approximation: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))).
void gelu_forward(float* out, const float* x, size_t n);
void gelu_backward(float* dx, const float* dout, const float* x, size_t n);  // dx += dout * gelu'(x)

// --- softmax + cross-entropy, fused with its gradient ------------------------------
// For each row i of `logits` (N,V): loss_i = logsumexp(logits_i) - logits_i[targets[i]].
// Returns sum_i loss_i (accumulated in double). If `backward`, overwrites the
// row in place with dlogits = (softmax(logits_i) - onehot(targets[i])) * dscale
// (dscale = 1/(total rows in the mean)). Targets must be in [0, V).
double softmax_xent_forward_backward(float* logits,          // (N,V) in: logits, out: dlogits
                                     const int32_t* targets,  // (N)
                                     int N, int V, float dscale, bool backward,
                                     ThreadPool* pool);

}  // namespace llm

#endif  // LLM_CORE_MODEL_OPS_H_
