// Modular-addition data and the gathered fast forward (see modadd.h).
#include "train/modadd.h"

#include <cmath>
#include <stdexcept>

#include "model/ops.h"

namespace hs::train {

ModAddData MakeModAddData(int p, double train_frac, int data_seed) {
  ModAddData d;
  d.p = p;
  torch::Tensor a = torch::arange(p, torch::kLong).repeat_interleave(p);  // i -> (i j)
  torch::Tensor b = torch::arange(p, torch::kLong).repeat({p});           // j -> (i j)
  torch::Tensor eq = torch::full({p * p}, p, torch::kLong);
  d.all_tokens = torch::stack({a, b, eq}, 1);
  d.all_labels = (a + b) % p;
  auto gen = at::detail::createCPUGenerator(static_cast<uint64_t>(data_seed));
  torch::Tensor perm = torch::randperm(p * p, gen, torch::kLong);
  const int64_t cutoff = static_cast<int64_t>(train_frac * p * p);
  d.train_idx = perm.slice(0, 0, cutoff);
  d.test_idx = perm.slice(0, cutoff);
  return d;
}

torch::Tensor ModAddFastLogits(model::HookedTransformerImpl& m, const torch::Tensor& a, const torch::Tensor& b) {
  const auto& cfg = m.cfg();
  if (cfg.n_layers != 1 || cfg.act_fn != "relu")
    throw std::invalid_argument("ModAddFastLogits needs a 1-layer ReLU model");
  const int64_t p = cfg.d_vocab - 1, H = cfg.n_heads, D = cfg.d_model;
  auto& attn = *m.block(0).attn;
  auto& mlp = *m.block(0).mlp;
  const torch::Tensor& W_E = m.embed->W_E;      // [d_vocab, d_model]
  const torch::Tensor& W_pos = m.pos_embed->W_pos;  // [n_ctx, d_model]
  const torch::Tensor tok = W_E.narrow(0, 0, p);  // [p, d_model] number tokens
  const torch::Tensor r0 = tok + W_pos[0];        // [p, d_model] a at position 0
  const torch::Tensor r1 = tok + W_pos[1];        // [p, d_model] b at position 1
  const torch::Tensor r2 = (W_E[p] + W_pos[2]).unsqueeze(0);  // [1, d_model] '=' at position 2
  const torch::Tensor R = torch::cat({r0, r1, r2}, 0);       // [2p+1, d_model]

  // The '=' query, folded into the keys: score(row) = R W_K[h] q[h] / sqrt(d_head).
  const torch::Tensor q = torch::einsum("nd,hde->hne", {r2, attn.W_Q}).squeeze(1);          // [head, d_head]
  const torch::Tensor qk = torch::einsum("hde,he->dh", {attn.W_K, q}) / std::sqrt(double(cfg.d_head));  // [d_model, head]
  const torch::Tensor S = torch::matmul(R, qk);                                              // [2p+1, head]
  // OV circuit per row: R W_V[h] W_O[h].
  const torch::Tensor V = torch::einsum("nd,hde->hne", {R, attn.W_V});                       // [head, 2p+1, d_head]
  const torch::Tensor VO = torch::bmm(V, attn.W_O).permute({1, 0, 2}).contiguous();         // [2p+1, head, d_model]

  const torch::Tensor ia = a, ib = b + p;
  const int64_t batch = a.size(0);
  torch::Tensor scores = torch::stack({S.index_select(0, ia), S.index_select(0, ib),
                                       S[2 * p].unsqueeze(0).expand({batch, H})}, 2);  // [batch, head, key_pos]
  torch::Tensor pattern = torch::softmax(scores, -1);                                    // [batch, head, key_pos]
  // attn_out[b] = sum over head h and key k of pattern[b,h,k] * VO[row(b,k), h]:
  // a weighted bag of 3*H rows per example, which embedding_bag computes in
  // one pass (a gather + multiply + sum was ~20x slower, a batched bmm ~30x).
  const torch::Tensor heads = torch::arange(H, torch::kLong).unsqueeze(0);           // [1, head]
  const torch::Tensor rows = torch::stack({ia.unsqueeze(1) * H + heads, ib.unsqueeze(1) * H + heads,
                                           torch::full({batch, 1}, 2 * p * H, torch::kLong) + heads},
                                          2).reshape(-1);                              // [batch*head*3]
  const torch::Tensor offsets = torch::arange(0, batch * H * 3, H * 3, torch::kLong);  // [batch]
  torch::Tensor attn_out = std::get<0>(at::embedding_bag(VO.view({(2 * p + 1) * H, D}), rows, offsets,
                                                         /*scale_grad_by_freq=*/false, /*mode=sum*/ 0,
                                                         /*sparse=*/false, pattern.reshape(-1)));  // [batch, d_model]
  torch::Tensor resid_mid = attn_out + r2;                                               // [batch, d_model]
  torch::Tensor post = model::Relu(torch::addmm(mlp.b_in, resid_mid, mlp.W_in));        // [batch, d_mlp]
  torch::Tensor resid_post = resid_mid + torch::addmm(mlp.b_out, post, mlp.W_out);       // [batch, d_model]
  return torch::matmul(resid_post, m.unembed->W_U);                                      // [batch, d_vocab_out]
}

torch::Tensor CrossEntropyF64(const torch::Tensor& logits, const torch::Tensor& labels) {
  torch::Tensor logp = torch::log_softmax(logits.to(torch::kFloat64), -1);
  return -logp.gather(1, labels.unsqueeze(1)).mean();
}

}  // namespace hs::train
