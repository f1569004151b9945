// The grokking trainer's hand-derived forward and backward pass for the
// 1-layer, LayerNorm-free modular-addition transformer. Torch-free interface.
//
// Same function and gradients as `model.forward(tokens)[:, -1]` followed by
// the float64 cross-entropy and autograd (tests check both against the
// general forward), with the arithmetic rearranged around two facts:
//  - the '=' query is the same for every example, and keys/values depend on
//    one token each, so attention scores and the W_O-projected values are
//    tables over the 2p+1 (token, position) rows;
//  - everything after attention is linear up to the ReLU and after it, so
//    the tables can be pushed through W_in and W_U (rank d_head per head):
//      pre    = c_in  + sum_{h,k} pattern[h,k] * (V_h W_O[h] W_in)[row_k]
//      logits = c_out + sum_{h,k} pattern[h,k] * (V_h W_O[h] W_U)[row_k]
//               + relu(pre) (W_out W_U)
//    so the only per-example GEMMs are the [n, d_mlp] x [d_mlp, p] one and
//    its two backward products; the residual stream is never formed.
// No autograd and no allocation after the first call: every buffer lives in
// the kernel. The per-example gathers and scatters run on `threads` threads
// (their own, sleeping when idle); the GEMMs on OpenBLAS's.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

namespace hs::model {
class HookedTransformerImpl;
}

namespace hs::train {

struct ModAddExamples {
  std::vector<int32_t> a, b, y;  // operands and label (a + b) mod p
  size_t size() const { return a.size(); }
};

struct LossAcc {
  double loss = 0;  // mean cross-entropy, float64 log-softmax of float32 logits
  double acc = 0;   // fraction whose argmax is the label
};

class ModAddKernel {
 public:
  // Binds to the parameters of `model` (a 1-layer ReLU model without
  // LayerNorm or attention biases, d_vocab = p + 1; std::invalid_argument
  // otherwise). Parameters are read at every call, so in-place optimiser
  // updates are seen. `threads` >= 1.
  explicit ModAddKernel(model::HookedTransformerImpl& model, int threads = 1);
  ~ModAddKernel();
  ModAddKernel(const ModAddKernel&) = delete;
  ModAddKernel& operator=(const ModAddKernel&) = delete;

  // Loss and accuracy on `ex`, and the gradient of the mean loss written
  // into every parameter's .grad() (allocated once, overwritten each call).
  LossAcc ForwardBackward(const ModAddExamples& ex);
  // Loss and accuracy only. With `logits`, also the float32 logits, row-major
  // [n, p].
  LossAcc Evaluate(const ModAddExamples& ex, std::vector<float>* logits = nullptr);

  // fn(t, T) on each of the kernel's T threads (t = 0 on the caller).
  void ParallelFor(const std::function<void(int t, int T)>& fn);

  void SetThreads(int threads);
  int threads() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> m;
};

}  // namespace hs::train
