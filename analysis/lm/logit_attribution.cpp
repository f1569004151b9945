// Direct logit attribution and the logit lens (see logit_attribution.h).
#include "lm/logit_attribution.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "model/hooked_transformer.h"
#include "model/mapped_model.h"

namespace hs::lm {
namespace {

// One clean forward, keeping what the decomposition needs: each layer's z
// [H, T, E] and hook_post [T, M], the embeddings (resid_pre of layer 0), the
// final residual stream and the logits.
struct Decomposed {
  torch::Tensor embed, final_resid, logits;
  std::vector<torch::Tensor> z, post;
};

Decomposed RunDecomposed(const LanguageModel& lm, const std::vector<int64_t>& tokens) {
  const auto& c = lm.cfg();
  if (c.post_norms || c.attn_softcap > 0 || c.final_softcap > 0)
    throw std::invalid_argument(
        "direct logit attribution needs the logit to be a sum of per-component terms; this model normalises each "
        "attention and MLP output (Gemma 2's post-norms) or soft-caps its logits");
  Decomposed d;
  d.z.resize(size_t(c.n_layers)), d.post.resize(size_t(c.n_layers));
  model::MappedModel::RunSpec spec;
  spec.keep_queries = false;
  spec.hook_resid_pre = [&](int l, torch::Tensor& r) {
    if (l == 0) d.embed = r.clone();
  };
  spec.hook_z = [&](int l, torch::Tensor& z) { d.z[size_t(l)] = z.clone(); };
  spec.hook_post = [&](int l, torch::Tensor& p) { d.post[size_t(l)] = p.clone(); };
  spec.on_resid_final = [&](const torch::Tensor& r) { d.final_resid = r.clone(); };
  spec.logit_rows = 0;  // no pass over the vocabulary: the logits used are read from final_resid
  lm.Mapped().Run(tokens, spec, nullptr, &d.logits);
  return d;
}

// Per position p: the frozen final norm as a linear map, x -> (x - centre(x)) * w / scale_p.
struct FrozenNorm {
  torch::Tensor scale;  // [T] float64; ones without a final norm
  torch::Tensor w, b;   // [D] float64; w ones and b undefined without a final norm
  bool centre = false;
};

FrozenNorm Freeze(const model::TransformerConfig& c, model::MappedModel& m, const torch::Tensor& final_resid) {
  FrozenNorm f;
  const torch::Tensor x = final_resid.to(torch::kFloat64);
  if (!c.final_norm) {
    f.scale = torch::ones({x.size(0)}, torch::kFloat64);
    f.w = torch::ones({x.size(1)}, torch::kFloat64);
    return f;
  }
  f.w = m.GlobalWeight("ln_final.w").to(torch::kFloat64);
  const torch::Tensor b = m.GlobalWeight("ln_final.b");
  if (b.defined()) f.b = b.to(torch::kFloat64);
  if (c.normalization == "LN") {
    f.centre = true;
    f.scale = torch::sqrt(x.var(-1, /*unbiased=*/false) + c.eps);
  } else {
    f.scale = torch::sqrt(x.pow(2).mean(-1) + c.eps);
  }
  return f;
}

// The frozen-norm image of a component [T, D] (float64).
torch::Tensor Normed(const FrozenNorm& f, const torch::Tensor& comp) {
  torch::Tensor c = comp.to(torch::kFloat64);
  if (f.centre) c = c - c.mean(-1, /*keepdim=*/true);
  return c * f.w / f.scale.unsqueeze(1);
}

}  // namespace

LogitAttribution DirectLogitAttribution(const LanguageModel& lm, const std::vector<int64_t>& tokens,
                                        std::vector<int64_t> targets, int64_t wrong) {
  const auto& c = lm.cfg();
  const int T = int(tokens.size()), L = c.n_layers, H = c.n_heads;
  if (targets.empty()) {
    targets.assign(size_t(T), -1);
    for (int p = 0; p + 1 < T; ++p) targets[size_t(p)] = tokens[size_t(p) + 1];
  }
  if (int(targets.size()) != T) throw std::invalid_argument("one target token per position, or none");
  torch::NoGradGuard no_grad;
  model::MappedModel& m = lm.Mapped();
  const Decomposed d = RunDecomposed(lm, tokens);
  const FrozenNorm f = Freeze(c, m, d.final_resid);

  // The direction each position's logit (difference) reads: [T, D], zero where there is no target.
  std::vector<int64_t> ids;
  for (int64_t t : targets) ids.push_back(t < 0 ? 0 : t);
  torch::Tensor U = m.UnembedColumns(ids).to(torch::kFloat64).t().contiguous();  // [T, D]
  if (wrong >= 0) U = U - m.UnembedColumns({wrong}).to(torch::kFloat64).t();
  torch::Tensor valid = torch::zeros({T}, torch::kFloat64);
  for (int p = 0; p < T; ++p) valid[p] = targets[size_t(p)] >= 0 ? 1.0 : 0.0;
  U = U * valid.unsqueeze(1);

  LogitAttribution out;
  out.tokens = tokens, out.targets = targets, out.wrong = wrong;
  out.n_layers = L, out.n_heads = H, out.T = T;
  std::vector<torch::Tensor> rows;  // [T] each
  auto add = [&](const std::string& name, const torch::Tensor& comp) {
    out.names.push_back(name);
    rows.push_back((Normed(f, comp) * U).sum(-1));
  };
  add("embed", d.embed);
  for (int l = 0; l < L; ++l) {
    const torch::Tensor W_O = m.LayerWeight(l, "attn.W_O");  // [H, E, D]
    for (int h = 0; h < H; ++h)
      add("L" + std::to_string(l) + "H" + std::to_string(h), torch::mm(d.z[size_t(l)][h], W_O[h]));
    const torch::Tensor b_O = m.LayerWeight(l, "attn.b_O");
    add("L" + std::to_string(l) + " attn bias",
        b_O.defined() ? b_O.unsqueeze(0).expand({T, c.d_model}) : torch::zeros({T, c.d_model}));
    torch::Tensor mlp = torch::mm(d.post[size_t(l)], m.LayerWeight(l, "mlp.W_out"));
    const torch::Tensor b_out = m.LayerWeight(l, "mlp.b_out");
    if (b_out.defined()) mlp = mlp + b_out;
    add("L" + std::to_string(l) + " MLP", mlp);
  }
  out.names.push_back("final norm bias");
  rows.push_back(f.b.defined() ? (f.b.unsqueeze(0) * U).sum(-1) : torch::zeros({T}, torch::kFloat64));
  out.names.push_back("unembed bias");
  torch::Tensor bu = torch::zeros({T}, torch::kFloat64);
  const torch::Tensor b_U = m.GlobalWeight("unembed.b_U");
  if (b_U.defined())
    for (int p = 0; p < T; ++p)
      if (targets[size_t(p)] >= 0)
        bu[p] = b_U[targets[size_t(p)]].item<double>() - (wrong >= 0 ? b_U[wrong].item<double>() : 0.0);
  rows.push_back(bu);

  const torch::Tensor all = torch::stack(rows).contiguous();  // [C, T]
  out.values.assign(all.data_ptr<double>(), all.data_ptr<double>() + all.numel());
  // The attributed logit as the model computes it (its own final norm, then
  // the unembedding column and bias of the target), not from the components.
  out.logits.assign(size_t(T), 0.0);
  torch::Tensor normed = d.final_resid;
  if (c.final_norm) normed = model::NormForward(c.normalization, normed, m.GlobalWeight("ln_final.w"),
                                                m.GlobalWeight("ln_final.b"), c.eps);
  const torch::Tensor lg = (normed.to(torch::kFloat64) * U).sum(-1) + bu;  // U: target - wrong columns, masked
  for (int p = 0; p < T; ++p)
    if (targets[size_t(p)] >= 0) out.logits[size_t(p)] = lg[p].item<double>();
  return out;
}

LogitLens ComputeLogitLens(const LanguageModel& lm, const std::vector<int64_t>& tokens, int position, int k,
                           int max_positions) {
  const auto& c = lm.cfg();
  const int T = int(tokens.size()), L = c.n_layers;
  if (position < 0 || position >= T)
    throw std::invalid_argument("position " + std::to_string(position) + " outside the " + std::to_string(T) +
                                "-token prompt");
  torch::NoGradGuard no_grad;
  model::MappedModel& m = lm.Mapped();
  std::vector<torch::Tensor> after(static_cast<size_t>(L));  // resid after layer l
  model::MappedModel::RunSpec spec;
  spec.keep_queries = false;
  spec.hook_resid_pre = [&](int l, torch::Tensor& r) {
    if (l > 0) after[size_t(l - 1)] = r;
  };
  spec.on_resid_final = [&](const torch::Tensor& r) { after[size_t(L - 1)] = r; };
  spec.logit_rows = 0;
  torch::Tensor unused;
  m.Run(tokens, spec, nullptr, &unused);
  LogitLens out;
  out.n_layers = L, out.T = T, out.tokens = tokens, out.position = position;
  // The positions of the grid: all, or a window of max_positions around `position`.
  const int W = max_positions > 0 ? std::min(T, max_positions) : T;
  out.first = std::clamp(position - W / 2, 0, T - W), out.last = out.first + W;
  out.next_rank.assign(size_t(L) * T, -1), out.next_prob.assign(size_t(L) * T, std::nanf(""));
  // Every layer's rows in one pass over the vocabulary.
  std::vector<torch::Tensor> rows;
  for (int l = 0; l < L; ++l) rows.push_back(after[size_t(l)].narrow(0, out.first, W));
  const torch::Tensor logits = m.Logits(torch::cat(rows));  // [L * W, V]
  const torch::Tensor lse = logits.logsumexp(1);             // log-probability = logit - lse
  // The next token of every row (the last position's row has none: its own token stands in, ignored).
  std::vector<int64_t> next;
  for (int l = 0; l < L; ++l)
    for (int i = 0; i < W; ++i) next.push_back(tokens[size_t(std::min(out.first + i + 1, T - 1))]);
  const torch::Tensor v = logits.gather(1, torch::tensor(next, torch::kLong).unsqueeze(1));  // [L * W, 1]
  const torch::Tensor rank = (logits > v).sum(1).contiguous();
  const torch::Tensor prob = (v.squeeze(1) - lse).exp().contiguous();
  const int64_t* rk = rank.data_ptr<int64_t>();
  const float* pr = prob.data_ptr<float>();
  for (int l = 0; l < L; ++l)
    for (int i = 0; i < W && out.first + i + 1 < T; ++i) {
      out.next_rank[size_t(l) * T + out.first + i] = int(rk[l * W + i]);
      out.next_prob[size_t(l) * T + out.first + i] = pr[l * W + i];
    }
  for (int l = 0; l < L; ++l) {
    const int64_t r = int64_t(l) * W + (position - out.first);
    const auto top = logits[r].topk(std::min<int64_t>(k, logits.size(1)));
    const float z = lse[r].item<float>();
    std::vector<std::pair<int64_t, float>> t;
    for (int64_t i = 0; i < std::get<0>(top).size(0); ++i)
      t.emplace_back(std::get<1>(top)[i].item<int64_t>(), std::exp(std::get<0>(top)[i].item<float>() - z));
    out.top.push_back(std::move(t));
  }
  return out;
}

HeadPromotes HeadOutputTokens(const LanguageModel& lm, const std::vector<int64_t>& tokens, int layer, int head,
                              int position, int k) {
  const auto& c = lm.cfg();
  if (layer < 0 || layer >= c.n_layers || head < 0 || head >= c.n_heads)
    throw std::invalid_argument("no head L" + std::to_string(layer) + "H" + std::to_string(head) + " in this model");
  if (position < 0 || position >= int(tokens.size()))
    throw std::invalid_argument("position " + std::to_string(position) + " outside the prompt");
  torch::NoGradGuard no_grad;
  model::MappedModel& m = lm.Mapped();
  const Decomposed d = RunDecomposed(lm, tokens);
  const FrozenNorm f = Freeze(c, m, d.final_resid.narrow(0, position, 1));
  const torch::Tensor out_vec = torch::mm(d.z[size_t(layer)][head].narrow(0, position, 1),
                                          m.LayerWeight(layer, "attn.W_O")[head]);  // [1, D]
  const torch::Tensor normed = Normed(f, out_vec).to(torch::kFloat);
  // Through the whole unembedding (its bias is not the head's; Logits() would apply the final norm again).
  const torch::Tensor logits = m.Unembed(normed)[0];  // [V]
  HeadPromotes out;
  const int64_t kk = std::min<int64_t>(k, logits.size(0));
  const auto up = logits.topk(kk), down = (-logits).topk(kk);
  for (int64_t i = 0; i < kk; ++i) {
    out.up.emplace_back(std::get<1>(up)[i].item<int64_t>(), std::get<0>(up)[i].item<float>());
    out.down.emplace_back(std::get<1>(down)[i].item<int64_t>(), -std::get<0>(down)[i].item<float>());
  }
  return out;
}

}  // namespace hs::lm
