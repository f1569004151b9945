// Modular-addition inputs and the attention-only fast path (see modadd_forward.h).
#include "families/modadd_forward.h"

#include <cmath>
#include <stdexcept>

#include "model/hooked_transformer.h"
#include "model/ops.h"

namespace hs::families {

namespace {
// Per position, the token id of every input row: a, b or p. -> [p*p] int64
torch::Tensor PositionTokens(const RunInfo& run, int pos) {
  const int64_t p = run.p;
  const std::string& role = run.positions.at(pos);
  if (role == "a") return torch::arange(p, torch::kLong).repeat_interleave(p);  // row a*p + b -> a
  if (role == "b") return torch::arange(p, torch::kLong).repeat({p});           // row a*p + b -> b
  return torch::full({p * p}, p, torch::kLong);                                 // '='
}

void CheckPositions(const RunInfo& run) {
  if (int(run.positions.size()) != run.model.n_ctx)
    throw std::invalid_argument("run has " + std::to_string(run.positions.size()) + " positions but n_ctx " +
                                std::to_string(run.model.n_ctx));
}
}  // namespace

torch::Tensor ModAddInputs(const RunInfo& run) {
  CheckPositions(run);
  std::vector<torch::Tensor> cols;
  for (int i = 0; i < run.model.n_ctx; ++i) cols.push_back(PositionTokens(run, i));
  return torch::stack(cols, 1);  // [p*p, n_ctx]
}

bool ModAddFastPatternsApply(const RunInfo& run) {
  return run.model.n_layers == 1 && int(run.positions.size()) == run.model.n_ctx && run.p > 0;
}

torch::Tensor ModAddAttentionPatterns(const model::HookedTransformerImpl& m, const RunInfo& run) {
  return ModAddFastForward(m, run, false).pattern;
}

ModAddFastActivations ModAddFastForward(const model::HookedTransformerImpl& m_const, const RunInfo& run, bool with_mlp) {
  CheckPositions(run);
  if (!ModAddFastPatternsApply(run)) throw std::invalid_argument("ModAddAttentionPatterns needs a 1-layer model");
  auto& m = const_cast<model::HookedTransformerImpl&>(m_const);  // block() is non-const; nothing is modified
  torch::NoGradGuard ng;
  const auto& cfg = run.model;
  const int64_t p = run.p, H = cfg.n_heads, E = cfg.d_head, D = cfg.d_model, n_ctx = cfg.n_ctx;
  const auto& attn = *m.block(0).attn;
  const torch::Tensor& W_E = m.embed->W_E;         // [d_vocab, d_model]
  const torch::Tensor& W_pos = m.pos_embed->W_pos;  // [n_ctx, d_model]
  const torch::Tensor Wq = attn.W_Q.permute({1, 0, 2}).reshape({D, H * E});  // [d_model, head*d_head]
  const torch::Tensor Wk = attn.W_K.permute({1, 0, 2}).reshape({D, H * E});  // [d_model, head*d_head]

  // Per position: the tokens that can sit there, their residual rows, q and k,
  // and each input row's index into them.
  const torch::Tensor Wv = attn.W_V.permute({1, 0, 2}).reshape({D, H * E});  // [d_model, head*d_head]
  std::vector<torch::Tensor> q(n_ctx), k(n_ctx), v(n_ctx), resid(n_ctx), row_idx(n_ctx);
  std::vector<int64_t> n_tok(n_ctx);
  const torch::Tensor ab = torch::arange(p, torch::kLong);
  for (int64_t i = 0; i < n_ctx; ++i) {
    const std::string& role = run.positions[i];
    const bool operand = role == "a" || role == "b";
    n_tok[i] = operand ? p : 1;
    resid[i] = (operand ? W_E.narrow(0, 0, p) : W_E.narrow(0, p, 1)) + W_pos[i];  // [n_tok, d_model]
    const torch::Tensor& r = resid[i];
    if (with_mlp) v[i] = torch::matmul(r, Wv);  // [n_tok, head*d_head]
    q[i] = torch::matmul(r, Wq).view({n_tok[i], H, E}).permute({1, 0, 2}).contiguous();  // [head, n_tok, d_head]
    k[i] = torch::matmul(r, Wk).view({n_tok[i], H, E}).permute({1, 2, 0}).contiguous();  // [head, d_head, n_tok]
    row_idx[i] = role == "a" ? ab.repeat_interleave(p) : role == "b" ? ab.repeat({p}) : torch::zeros({p * p}, torch::kLong);
  }
  const double scale = 1.0 / std::sqrt(double(E));
  torch::Tensor pattern = torch::zeros({p * p, H, n_ctx, n_ctx});  // [batch, head, query_pos, key_pos]
  for (int64_t qi = 0; qi < n_ctx; ++qi) {
    std::vector<torch::Tensor> scores;  // per key position: [head, p*p]
    for (int64_t kj = 0; kj <= qi; ++kj) {
      const torch::Tensor table = torch::matmul(q[qi], k[kj]).view({H, n_tok[qi] * n_tok[kj]});  // [head, n_tok_q*n_tok_k]
      const torch::Tensor flat = row_idx[qi] * n_tok[kj] + row_idx[kj];                           // [p*p]
      scores.push_back(table.index_select(1, flat));                                              // [head, p*p]
    }
    const torch::Tensor s = torch::stack(scores, 2) * scale;  // [head, p*p, key_pos <= qi]
    const torch::Tensor sm = torch::softmax(s, -1);           // [head, p*p, key_pos <= qi]
    pattern.select(2, qi).narrow(2, 0, qi + 1).copy_(sm.permute({1, 0, 2}));
  }
  ModAddFastActivations out;
  out.pattern = pattern;
  if (!with_mlp) return out;

  // The last position: z = sum over keys j of pattern[:, :, L, j] * v_j(token at j).
  const int64_t L = n_ctx - 1;
  torch::Tensor z = torch::zeros({p * p, H, E});  // [batch, head, d_head]
  for (int64_t j = 0; j <= L; ++j) {
    const torch::Tensor vj = v[j].index_select(0, row_idx[j]).view({p * p, H, E});  // [batch, head, d_head]
    z.addcmul_(pattern.select(2, L).select(2, j).unsqueeze(-1), vj);
  }
  const torch::Tensor attn_out = torch::matmul(z.view({p * p, H * E}), attn.W_O.reshape({H * E, D}));  // [batch, d_model]
  const torch::Tensor resid_mid = resid[L].index_select(0, row_idx[L]) + attn_out;                     // [batch, d_model]
  const auto& mlp = *m.block(0).mlp;
  const torch::Tensor pre = torch::addmm(mlp.b_in, resid_mid, mlp.W_in);  // [batch, d_mlp]
  if (cfg.act_fn == "relu")
    out.post_last = model::Relu(pre);
  else if (cfg.act_fn == "gelu")
    out.post_last = torch::gelu(pre);
  else
    out.post_last = torch::gelu(pre, "tanh");
  return out;
}

}  // namespace hs::families
