// Roles read from the weights (see ov_scores.h).
#include "lm/ov_scores.h"

#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <random>
#include <set>

#include "jobs/cancelled.h"
#include "model/hooked_transformer.h"
#include "model/mapped_model.h"

namespace hs::lm {
namespace {

// x [n, D] through a norm's shape: centred (LayerNorm) and scaled to unit RMS, times w (no bias).
torch::Tensor NormNoBias(const model::TransformerConfig& c, const torch::Tensor& x, const torch::Tensor& w) {
  if (!c.HasNorm()) return x;
  torch::Tensor y = x;
  if (c.normalization == "LN") y = y - y.mean(-1, true);
  y = y * torch::rsqrt(y.pow(2).mean(-1, true) + c.eps);
  return w.defined() ? y * w : y;
}

}  // namespace

std::vector<OrdinalSet> OrdinalSets(const LanguageModel& lm) {
  const std::vector<std::pair<std::string, std::vector<std::string>>> candidates = {
      {"digits 0-9", {"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"}},
      {"numbers 10-20", {"10", "11", "12", "13", "14", "15", "16", "17", "18", "19", "20"}},
      {"number words", {"one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"}},
      {"days", {"Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"}},
      {"months", {"January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
                  "November", "December"}},
      {"letters a-z", {"a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l", "m", "n", "o", "p", "q", "r", "s",
                       "t", "u", "v", "w", "x", "y", "z"}},
      {"letters A-Z", {"A", "B", "C", "D", "E", "F", "G", "H", "I", "J", "K", "L", "M", "N", "O", "P", "Q", "R", "S",
                       "T", "U", "V", "W", "X", "Y", "Z"}}};
  std::vector<OrdinalSet> out;
  if (lm.tokenizer().Kind() == "ids") return out;
  for (const auto& [name, items] : candidates) {
    for (const std::string prefix : {" ", ""}) {
      OrdinalSet s{name + (prefix.empty() ? "" : " (with a leading space)"), {}};
      for (const auto& item : items) {
        std::vector<int64_t> ids;
        try {
          ids = lm.Encode(prefix + item, false);
        } catch (const std::exception&) {
          ids.clear();
        }
        if (ids.size() != 1 || ids[0] >= lm.cfg().d_vocab_out) break;
        s.ids.push_back(ids[0]);
      }
      if (s.ids.size() == items.size() && std::set<int64_t>(s.ids.begin(), s.ids.end()).size() == items.size()) {
        out.push_back(std::move(s));
        break;
      }
    }
  }
  return out;
}

std::vector<int64_t> OvTokenSet(const LanguageModel& lm, const OvScoreOptions& opt, std::string* words) {
  const auto& c = lm.cfg();
  const int64_t V = std::min<int64_t>(c.d_vocab, c.d_vocab_out);
  std::vector<int64_t> S;
  const auto bos = lm.tokenizer().BosId();
  for (int64_t t = 0; t < V; ++t)
    if (!bos || t != *bos) S.push_back(t);
  if (int64_t(S.size()) > opt.max_tokens) {
    std::mt19937_64 rng(opt.seed);
    std::shuffle(S.begin(), S.end(), rng);
    S.resize(size_t(opt.max_tokens));
    std::sort(S.begin(), S.end());
    if (words)
      *words = std::to_string(opt.max_tokens) + " token ids sampled uniformly from the " + std::to_string(V) +
               " (seed " + std::to_string(opt.seed) + "), BOS excluded";
  } else if (words) {
    *words = "every token but BOS (" + std::to_string(S.size()) + ")";
  }
  return S;
}

OvScores ComputeOvScores(const LanguageModel& lm, const OvScoreOptions& opt,
                         const std::function<bool(int, int)>& progress) {
  const auto t0 = std::chrono::steady_clock::now();
  const auto& c = lm.cfg();
  if (c.post_norms) throw std::invalid_argument("OV scores: Gemma 2's post-norms are not supported yet");
  torch::NoGradGuard no_grad;
  model::MappedModel& m = lm.Mapped();
  const int L = c.n_layers, H = c.n_heads, group = c.n_heads / c.NumKVHeads();
  OvScores out;
  out.n_layers = L, out.n_heads = H, out.k = opt.k;

  // The token set S: ordinary tokens (not BOS), every one or a uniform sample; plus the ordinal items.
  const std::vector<int64_t> S = OvTokenSet(lm, opt, &out.token_set);
  out.n_tokens = int(S.size());
  const std::vector<OrdinalSet> sets = OrdinalSets(lm);
  for (const auto& s : sets) out.ordinal_sets.push_back(s.name);
  if (sets.empty())
    out.successor_note = lm.tokenizer().Kind() == "ids"
                             ? "no tokenizer: the ordinal sequences cannot be found"
                             : "the vocabulary has no ordinal sequence (digits, numbers, days, months, letters) whose "
                               "every item is one token";
  std::vector<int64_t> all = S;  // S, then every ordinal item
  for (const auto& s : sets) all.insert(all.end(), s.ids.begin(), s.ids.end());

  // e' = W_E + MLP_0(ln2_0(W_E)) for every token used.
  torch::Tensor E = m.EmbedRows(all);
  if (c.embed_scale > 0) E = E * c.embed_scale;
  {
    const torch::Tensor w2 = m.LayerWeight(0, "ln2.w"), b2 = m.LayerWeight(0, "ln2.b");
    torch::Tensor x = c.HasNorm() ? model::NormForward(c.normalization, E, w2, b2, c.eps) : E;
    const torch::Tensor W_in = m.LayerWeight(0, "mlp.W_in"), b_in = m.LayerWeight(0, "mlp.b_in");
    const torch::Tensor W_gate = m.LayerWeight(0, "mlp.W_gate");
    torch::Tensor pre = torch::mm(x, W_in);
    if (b_in.defined()) pre = pre + b_in;
    const torch::Tensor post =
        W_gate.defined() ? model::ActivationFn(c.act_fn, torch::mm(x, W_gate)) * pre : model::ActivationFn(c.act_fn, pre);
    torch::Tensor mlp = torch::mm(post, m.LayerWeight(0, "mlp.W_out"));
    const torch::Tensor b_out = m.LayerWeight(0, "mlp.b_out");
    if (b_out.defined()) mlp = mlp + b_out;
    E = E + mlp;
  }
  const torch::Tensor w_final = c.final_norm ? m.GlobalWeight("ln_final.w") : torch::Tensor();
  const torch::Tensor U = m.UnembedColumns(all);  // [D, |all|]
  const int64_t nS = int64_t(S.size());
  out.copying.assign(size_t(L) * H, 0.0), out.suppression.assign(size_t(L) * H, 0.0);
  out.successor.assign(size_t(L) * H, sets.empty() ? std::numeric_limits<double>::quiet_NaN() : 0.0);
  const int64_t k = std::min<int64_t>(opt.k, nS);
  for (int l = 0; l < L; ++l) {
    const torch::Tensor x = NormNoBias(c, E, m.LayerWeight(l, "ln1.w"));  // [|all|, D]
    const torch::Tensor W_V = m.LayerWeight(l, "attn.W_V"), W_O = m.LayerWeight(l, "attn.W_O");  // [KV, D, E], [H, E, D]
    for (int h = 0; h < H; ++h) {
      if (progress && !progress(l * H + h, L * H)) throw jobs::Cancelled();
      torch::Tensor o = torch::mm(torch::mm(x, W_V[h / group]), W_O[h]);  // [|all|, D]
      if (c.final_norm && c.normalization == "LN") o = o - o.mean(-1, true);
      if (w_final.defined()) o = o * w_final;
      // Copying and suppression over S.
      const torch::Tensor rows = torch::mm(o.narrow(0, 0, nS), U.narrow(1, 0, nS));  // [S, S]
      const torch::Tensor diag = rows.diagonal().unsqueeze(1);
      // Ties count against the token (a row of equal logits copies nothing).
      const torch::Tensor above = (rows >= diag).sum(1) - 1, below = (rows <= diag).sum(1) - 1;
      out.copying[size_t(l) * H + h] = (above < k).to(torch::kDouble).mean().item<double>();
      out.suppression[size_t(l) * H + h] = (below < k).to(torch::kDouble).mean().item<double>();
      // Successor over the ordinal sets.
      if (!sets.empty()) {
        int64_t at = nS, hits = 0, items = 0;
        for (const auto& s : sets) {
          const int64_t n = int64_t(s.ids.size());
          const torch::Tensor r = torch::mm(o.narrow(0, at, n), U.narrow(1, at, n));  // [n, n]
          const torch::Tensor best = r.argmax(1);
          for (int64_t i = 0; i + 1 < n; ++i) hits += best[i].item<int64_t>() == i + 1, ++items;
          at += n;
        }
        out.successor[size_t(l) * H + h] = double(hits) / double(std::max<int64_t>(items, 1));
      }
    }
  }
  if (progress) progress(L * H, L * H);
  out.ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  return out;
}

std::vector<double> SinkScores(const LanguageModel& lm, const std::vector<std::vector<int64_t>>& prompts) {
  const auto& c = lm.cfg();
  std::vector<double> sum(size_t(c.n_layers) * c.n_heads, 0.0);
  int used = 0;
  for (const auto& p : prompts) {
    if (p.size() < 2) continue;
    ++used;
    const int64_t T = int64_t(p.size());
    lm.StreamPatterns(p, [&](const PatternBlock& b) {
      for (int hi = 0; hi < b.n_heads; ++hi) {
        double s = 0;
        for (int64_t i = std::max<int64_t>(b.row0, 1); i < T; ++i) s += b.Row(hi, i)[0];
        sum[size_t(b.layer) * c.n_heads + b.head0 + hi] += s / double(T - 1);
      }
    });
  }
  for (double& v : sum) v = used ? v / used : std::numeric_limits<double>::quiet_NaN();
  return sum;
}

}  // namespace hs::lm
