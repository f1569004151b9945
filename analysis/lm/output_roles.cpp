// The output roles verified on a prompt (see output_roles.h).
#include "lm/output_roles.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>

#include "lm/ov_scores.h"
#include "model/hooked_transformer.h"
#include "model/mapped_model.h"

namespace hs::lm {

struct OutputRoleScorer::Impl {
  std::vector<std::pair<int, int>> heads;
  std::vector<torch::Tensor> W_O;     // per head [E, D]
  torch::Tensor U_S;                  // [D, |S|], the final norm's weight folded in
  torch::Tensor U_P;                  // [D, m]: the prompt's tokens and their successors, likewise
  std::map<int64_t, int64_t> col;     // token id -> column of U_P
  std::vector<int64_t> S;             // sorted
  std::map<int64_t, int64_t> successor;
  std::vector<int64_t> tokens;
  bool centre = false;
  int first_key = 0;                  // 1 when position 0 is BOS
  int Index(int layer, int head) const {
    for (size_t i = 0; i < heads.size(); ++i)
      if (heads[i].first == layer && heads[i].second == head) return int(i);
    return -1;
  }
};

OutputRoleScorer::OutputRoleScorer(const LanguageModel& weights, const library::HeadCategories& c,
                                   const std::vector<int64_t>& tokens, bool bos)
    : m(std::make_unique<Impl>()) {
  const auto& cfg = weights.cfg();
  if (!c.has_weight_roles || cfg.post_norms || cfg.final_softcap > 0) return;
  for (const auto& def : library::HeadCategoryDefs()) {
    if (!def.output_role) continue;
    if (const auto* r = c.Find(def.key))
      for (const auto& t : r->top_heads)
        if (t.layer < cfg.n_layers && t.head < cfg.n_heads && m->Index(t.layer, t.head) < 0)
          m->heads.emplace_back(t.layer, t.head);
  }
  if (m->heads.empty()) return;
  torch::NoGradGuard no_grad;
  model::MappedModel& mm = weights.Mapped();
  for (const auto& [l, h] : m->heads) m->W_O.push_back(mm.HeadOutputWeight(l, h));
  m->centre = cfg.final_norm && cfg.normalization == "LN";
  const torch::Tensor w = cfg.final_norm ? mm.GlobalWeight("ln_final.w") : torch::Tensor();
  m->S = OvTokenSet(weights);
  m->U_S = mm.UnembedColumns(m->S);
  for (const auto& set : OrdinalSets(weights))
    for (size_t i = 0; i + 1 < set.ids.size(); ++i) m->successor.emplace(set.ids[i], set.ids[i + 1]);
  std::vector<int64_t> ids;
  for (int64_t t : tokens) {
    if (t < 0 || t >= cfg.d_vocab_out) continue;  // AnalyzePrompt's forward reports it
    for (int64_t u : {t, m->successor.count(t) ? m->successor.at(t) : int64_t(-1)})
      if (u >= 0 && m->col.emplace(u, int64_t(ids.size())).second) ids.push_back(u);
  }
  m->U_P = ids.empty() ? torch::zeros({cfg.d_model, 0}) : mm.UnembedColumns(ids);
  if (w.defined()) {
    m->U_S = m->U_S * w.unsqueeze(1);
    m->U_P = m->U_P * w.unsqueeze(1);
  }
  m->tokens = tokens;
  // Position 0 is left out when it is BOS (prepended, or typed as an id).
  const auto bos_id = weights.tokenizer().BosId();
  m->first_key = bos || (!tokens.empty() && bos_id && tokens[0] == *bos_id) ? 1 : 0;
}

OutputRoleScorer::~OutputRoleScorer() = default;
const std::vector<std::pair<int, int>>& OutputRoleScorer::heads() const { return m->heads; }
int OutputRoleScorer::n_tokens() const { return int(m->S.size()); }

void OutputRoleScorer::OnPattern(const PatternBlock& b, double* stats) const {
  if (m->heads.empty()) return;
  const int64_t T = b.T;
  for (int hi = 0; hi < b.n_heads; ++hi) {
    const int w = m->Index(b.layer, b.head0 + hi);
    if (w < 0) continue;
    for (int64_t i = b.row0; i < T; ++i) {
      double* r = stats + (size_t(w) * T + size_t(i)) * kOutStats;
      r[kOutWeight] = 0, r[kOutKey] = -1, r[kOutRankTop] = r[kOutRankBottom] = -1, r[kOutSuccRank] = -1;
      const int64_t j0 = m->first_key;
      if (i - j0 < 1) continue;  // no earlier key but BOS
      const float* row = b.Row(hi, i);
      const int64_t j = std::max_element(row + j0, row + i) - row;  // earlier keys only
      r[kOutWeight] = row[j], r[kOutKey] = double(j);
    }
  }
}

void OutputRoleScorer::OnZ(int layer, const float* z, int n_heads, int64_t row0, int64_t T, int d_head,
                           double* stats) const {
  if (m->heads.empty()) return;
  const int64_t n = T - row0;
  for (size_t w = 0; w < m->heads.size(); ++w) {
    if (m->heads[w].first != layer || m->heads[w].second >= n_heads || n <= 0) continue;
    const int h = m->heads[w].second;
    const torch::Tensor zh =
        torch::from_blob(const_cast<float*>(z) + size_t(h) * size_t(n) * d_head, {n, d_head}, torch::kFloat);
    torch::Tensor o = torch::mm(zh, m->W_O[w]);  // [n, D]
    if (m->centre) o = o - o.mean(-1, true);
    const torch::Tensor onS = torch::mm(o, m->U_S).contiguous();  // [n, |S|]
    const torch::Tensor onP = torch::mm(o, m->U_P).contiguous();  // [n, m]
    const float* s = onS.data_ptr<float>();
    const float* p = onP.data_ptr<float>();
    const int64_t nS = int64_t(m->S.size()), nP = onP.size(1);
    // Rank of token t at row r among S (t itself left out; ties count against t).
    auto ranks = [&](int64_t r, int64_t t, double* top, double* bottom) {
      const float v = p[r * nP + m->col.at(t)];
      int64_t above = 0, below = 0;
      const float* row = s + r * nS;
      const auto own = std::lower_bound(m->S.begin(), m->S.end(), t);  // t's own entry is not counted
      const int64_t skip = own != m->S.end() && *own == t ? int64_t(own - m->S.begin()) : -1;
      for (int64_t k = 0; k < nS; ++k)
        if (k != skip) above += row[k] >= v, below += row[k] <= v;
      *top = double(above);
      if (bottom) *bottom = double(below);
    };
    for (int64_t i = std::max<int64_t>(row0, 1); i < T; ++i) {
      double* r = stats + (w * size_t(T) + size_t(i)) * kOutStats;
      if (r[kOutKey] < 0) continue;
      const int64_t t = m->tokens[size_t(r[kOutKey])];
      if (!m->col.count(t)) continue;
      ranks(i - row0, t, &r[kOutRankTop], &r[kOutRankBottom]);
      const auto u = m->successor.find(t);
      if (u != m->successor.end()) ranks(i - row0, u->second, &r[kOutSuccRank], nullptr);
    }
  }
}

double OutputActivation(library::OutputRole role, const double* rows, int T, int k, int* rows_used) {
  double num = 0, den = 0;
  int used = 0;
  for (int i = 1; i < T; ++i) {
    const double* r = rows + size_t(i) * kOutStats;
    if (r[kOutKey] < 0 || r[kOutRankTop] < 0) continue;
    double rank = 0;
    switch (role) {
      case library::OutputRole::kCopying: rank = r[kOutRankTop]; break;
      case library::OutputRole::kCopySuppression: rank = r[kOutRankBottom]; break;
      case library::OutputRole::kSuccessor:
        if (r[kOutSuccRank] < 0) continue;
        rank = r[kOutSuccRank];
        break;
    }
    ++used;
    den += r[kOutWeight];
    num += rank < k ? r[kOutWeight] : 0.0;
  }
  if (rows_used) *rows_used = used;
  return den > 0 ? std::clamp(num / den, 0.0, 1.0) : 0.0;
}

namespace {
std::string OutputRoleOrdinal(int r) {  // 0 -> "1st"
  const int n = r + 1;
  const char* suffix = (n % 100 >= 11 && n % 100 <= 13) ? "th" : n % 10 == 1 ? "st" : n % 10 == 2 ? "nd" : n % 10 == 3 ? "rd" : "th";
  return std::to_string(n) + suffix;
}
}  // namespace

void VerifyOutputRoles(const library::HeadCategories& c, const std::vector<std::pair<int, int>>& heads,
                       const double* stats, const std::vector<int64_t>& tokens,
                       const std::vector<std::string>& token_text, library::PromptRoles* roles) {
  const int T = int(tokens.size());
  const int k = std::max(1, c.weights_method.k);
  auto text = [&](int64_t j) {
    return j >= 0 && j < int64_t(token_text.size()) ? "'" + token_text[size_t(j)] + "'" : std::string("?");
  };
  for (auto& ca : roles->categories) {
    const library::CategoryDef* def = library::FindCategoryDef(ca.key);
    if (!def || !def->output_role || ca.heads.empty() || T < 2) continue;
    const library::OutputRole role = *def->output_role;
    int best_w = -1, any_rows = 0;
    double best = -1;
    ca.active = false;
    for (auto& h : ca.heads) {
      int w = -1;
      for (size_t i = 0; i < heads.size(); ++i)
        if (heads[i] == std::make_pair(h.layer, h.head)) w = int(i);
      if (w < 0) continue;
      int used = 0;
      h.activation_score = OutputActivation(role, stats + size_t(w) * T * kOutStats, T, k, &used);
      h.is_active = used > 0 && h.activation_score >= def->active_threshold;
      any_rows += used;
      ca.active = ca.active || h.is_active;
      if (used > 0 && h.activation_score > best) best = h.activation_score, best_w = w;
    }
    char buf[512];
    if (role == library::OutputRole::kSuccessor && any_rows == 0) {
      ca.applicable = false;
      ca.reason = "its heads attend to no number, number word, day, month or letter that has a next item; try: " +
                  def->suggested_prompt;
      continue;
    }
    if (best_w < 0) {
      ca.reason = "what its heads write could not be read on this prompt";
      continue;
    }
    const auto [bl, bh] = heads[size_t(best_w)];
    const char* verb = role == library::OutputRole::kCopying           ? "raises most"
                       : role == library::OutputRole::kCopySuppression ? "lowers most"
                                                                       : "raises most (as the next item)";
    if (!ca.active) {
      std::snprintf(buf, sizeof buf,
                    "its heads attend to tokens they do not write: best L%dH%d, %.0f%% of its top attention goes to "
                    "tokens in the %d it %s (of %d; active from %.0f%%)",
                    bl, bh, 100 * best, k, verb, int(c.weights_method.n_tokens), 100 * def->active_threshold);
      ca.reason = buf;
      if (!def->suggested_prompt.empty()) ca.reason += "; try: " + def->suggested_prompt;
      ca.active_reason.clear();
      continue;
    }
    ca.reason.clear();
    // An example: the row with the most attention among those that count.
    const double* rows = stats + size_t(best_w) * T * kOutStats;
    int ex = -1;
    for (int i = 1; i < T; ++i) {
      const double* r = rows + size_t(i) * kOutStats;
      const double rank = role == library::OutputRole::kCopying           ? r[kOutRankTop]
                          : role == library::OutputRole::kCopySuppression ? r[kOutRankBottom]
                                                                          : r[kOutSuccRank];
      if (r[kOutKey] >= 0 && rank >= 0 && rank < k && (ex < 0 || r[kOutWeight] > rows[size_t(ex) * kOutStats + kOutWeight]))
        ex = i;
    }
    std::snprintf(buf, sizeof buf, "L%dH%d: %.0f%% of its top attention goes to tokens in the %d it %s (of %d)", bl, bh,
                  100 * best, k, verb, int(c.weights_method.n_tokens));
    ca.active_reason = buf;
    if (ex >= 0) {
      const double* r = rows + size_t(ex) * kOutStats;
      const int64_t j = int64_t(r[kOutKey]);
      const double rank = role == library::OutputRole::kCopying           ? r[kOutRankTop]
                          : role == library::OutputRole::kCopySuppression ? r[kOutRankBottom]
                                                                          : r[kOutSuccRank];
      const std::string what = role == library::OutputRole::kCopying           ? "ranks it " + OutputRoleOrdinal(int(rank))
                               : role == library::OutputRole::kCopySuppression ? "ranks it " + OutputRoleOrdinal(int(rank)) + " from the bottom"
                                                                               : "ranks its next item " + OutputRoleOrdinal(int(rank));
      std::snprintf(buf, sizeof buf, "; e.g. at %s (token %d) it attends to %s (token %lld, %.2f of its attention) and %s",
                    text(ex).c_str(), ex, text(j).c_str(), static_cast<long long>(j), r[kOutWeight], what.c_str());
      ca.active_reason += buf;
    }
    ca.note = ca.active_reason;
  }
}

}  // namespace hs::lm
