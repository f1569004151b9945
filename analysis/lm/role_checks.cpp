// Causally checked role badges (see role_checks.h).
#include "lm/role_checks.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <limits>
#include <map>
#include <set>

#include "jobs/cancelled.h"

namespace hs::lm {

double Percentile(std::vector<double> v, double q) {
  if (v.empty()) return std::numeric_limits<double>::quiet_NaN();
  std::sort(v.begin(), v.end());
  const double pos = q / 100.0 * double(v.size() - 1);
  const size_t lo = size_t(std::floor(pos)), hi = std::min(lo + 1, v.size() - 1);
  return v[lo] + (v[hi] - v[lo]) * (pos - double(lo));
}

double RankCorrelation(const std::vector<double>& a, const std::vector<double>& b) {
  auto ranks = [](const std::vector<double>& v) {
    std::vector<size_t> idx(v.size());
    for (size_t i = 0; i < v.size(); ++i) idx[i] = i;
    std::sort(idx.begin(), idx.end(), [&](size_t x, size_t y) { return v[x] < v[y]; });
    std::vector<double> r(v.size());
    for (size_t i = 0; i < idx.size();) {
      size_t j = i;
      while (j + 1 < idx.size() && v[idx[j + 1]] == v[idx[i]]) ++j;
      for (size_t k = i; k <= j; ++k) r[idx[k]] = 0.5 * double(i + j);
      i = j + 1;
    }
    return r;
  };
  const std::vector<double> ra = ranks(a), rb = ranks(b);
  double ma = 0, mb = 0;
  for (size_t i = 0; i < ra.size(); ++i) ma += ra[i], mb += rb[i];
  ma /= double(ra.size()), mb /= double(rb.size());
  double sab = 0, saa = 0, sbb = 0;
  for (size_t i = 0; i < ra.size(); ++i)
    sab += (ra[i] - ma) * (rb[i] - mb), saa += (ra[i] - ma) * (ra[i] - ma), sbb += (rb[i] - mb) * (rb[i] - mb);
  return saa > 0 && sbb > 0 ? sab / std::sqrt(saa * sbb) : 0.0;
}

std::vector<int> RolePositions(const std::string& key, const std::vector<int64_t>& tokens, std::string* where) {
  const int T = int(tokens.size());
  std::vector<int> out;
  if (key == "induction" || key == "duplicate_token") {
    std::set<int64_t> seen;
    for (int i = 0; i < T; ++i) {
      if (seen.count(tokens[size_t(i)]) && i + 1 < T) out.push_back(i);
      seen.insert(tokens[size_t(i)]);
    }
    if (where) *where = std::to_string(out.size()) + " tokens that repeat earlier ones";
  } else if (key == "previous_token") {
    for (int i = 1; i + 1 < T; ++i) out.push_back(i);
    if (where) *where = "every token after the first";
  } else if (key == "first_token" || key == "diffuse" || key == "copying" || key == "copy_suppression" ||
             key == "successor") {
    for (int i = 0; i + 1 < T; ++i) out.push_back(i);
    if (where) *where = "every token";
  } else if (where) {
    *where = "";
  }
  return out;
}

const RoleCheck* CausalChecks::Find(const std::string& key) const {
  for (const auto& r : roles)
    if (r.key == key) return &r;
  return nullptr;
}

double CausalChecks::Rise(int layer, int head, const std::vector<int>& positions) const {
  const size_t i = size_t(layer) * size_t(n_heads) + size_t(head);
  if (i >= loss_ablated.size() || loss_ablated[i].empty()) return std::numeric_limits<double>::quiet_NaN();
  const std::vector<double>& a = loss_ablated[i];
  double s = 0;
  size_t n = 0;
  if (positions.empty()) {
    for (size_t k = 0; k < a.size(); ++k) s += a[k] - loss_clean[k], ++n;
  } else {
    for (int p : positions)
      if (size_t(p) < a.size()) s += a[size_t(p)] - loss_clean[size_t(p)], ++n;
  }
  return n ? s / double(n) : std::numeric_limits<double>::quiet_NaN();
}

namespace {
const char* RoleVerb(const std::string& key) {
  if (key == "previous_token") return "a previous-token head";
  if (key == "induction") return "an induction head";
  if (key == "duplicate_token") return "a duplicate-token head";
  if (key == "first_token") return "a first-token head";
  if (key == "diffuse") return "a diffuse head";
  return "its role";
}
std::string Nats(double v) {
  char b[32];
  std::snprintf(b, sizeof b, "%.2f", v);
  return b;
}
}  // namespace

CausalChecks CheckRoles(const LanguageModel& lm, const std::vector<int64_t>& tokens, const library::PromptRoles& roles,
                        const std::shared_ptr<const ActivationMeans>& means, const CheckOptions& options) {
  const auto& c = lm.cfg();
  const int L = c.n_layers, H = c.n_heads, T = int(tokens.size());
  if (T < 3) throw std::invalid_argument("checking roles needs a prompt of three tokens or more");
  CausalChecks out;
  out.tokens = tokens;
  out.mode = means ? options.mode : AblationMode::kZero;
  if (out.mode == AblationMode::kResample) out.mode = AblationMode::kZero;
  out.n_layers = L, out.n_heads = H;
  auto tell = [&](const std::string& what, float f) {
    if (options.progress && !options.progress(what, f)) throw jobs::Cancelled();
  };

  // The roles to check and where they act.
  for (const auto& cat : roles.categories) {
    if (!cat.active || cat.key == "other") continue;
    RoleCheck r;
    r.key = cat.key;
    r.positions = RolePositions(cat.key, tokens, &r.where);
    if (r.positions.empty()) continue;
    for (const auto& h : cat.heads)
      if (h.is_active && r.heads.size() < 3) r.heads.push_back(HeadCheck{h.layer, h.head});
    if (!r.heads.empty()) out.roles.push_back(std::move(r));
  }

  // 1. Attribution patching: one mask of every position, then one per role.
  tell("attribution patching", 0.f);
  std::vector<std::vector<char>> masks(1, std::vector<char>(size_t(T - 1), 1));
  for (const auto& r : out.roles) {
    std::vector<char> m(size_t(T - 1), 0);
    for (int p : r.positions) m[size_t(p)] = 1;
    masks.push_back(std::move(m));
  }
  try {
    out.attribution = AttributeHeads(lm, tokens, out.mode, means, masks);
  } catch (const std::exception& e) {  // a model that streams its layers, a graph that does not fit
    out.attribution_error = e.what();
  }
  const bool have_attr = out.attribution_error.empty();

  // 2. Exact ablation: the roles' heads first, then by |attribution| (or layer order).
  std::vector<std::pair<int, int>> order;
  std::set<std::pair<int, int>> queued;
  for (const auto& r : out.roles)
    for (const auto& h : r.heads)
      if (queued.insert({h.layer, h.head}).second) order.emplace_back(h.layer, h.head);
  std::vector<std::pair<double, std::pair<int, int>>> rest;
  for (int l = 0; l < L; ++l)
    for (int h = 0; h < H; ++h) {
      if (queued.count({l, h})) continue;
      double key = 0;
      if (have_attr)
        for (size_t k = 0; k < masks.size(); ++k) key = std::max(key, std::abs(out.attribution.Total(k, l, h)));
      rest.push_back({-key, {l, h}});
    }
  std::stable_sort(rest.begin(), rest.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  for (const auto& [k, lh] : rest) order.push_back(lh);
  const size_t n_exact = std::min(order.size(), size_t(std::max(options.max_exact, int(queued.size()))));

  const auto t0 = std::chrono::steady_clock::now();
  tell("clean run", 0.f);
  const CleanRun run(lm, tokens);
  out.loss_clean = run.losses();
  out.loss_ablated.assign(size_t(L) * H, {});
  for (size_t i = 0; i < n_exact; ++i) {
    const auto [l, h] = order[i];
    tell("ablating L" + std::to_string(l) + "H" + std::to_string(h) + " (" + std::to_string(i + 1) + " of " +
             std::to_string(n_exact) + ")",
         float(i) / float(n_exact));
    Intervention iv;
    iv.mode = out.mode;
    iv.means = means;
    iv.heads = {{l, h}};
    out.loss_ablated[size_t(l) * H + h] = run.Losses(iv);
  }
  out.measured = int(n_exact);
  out.exact_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();

  // 3. Each role's heads against every other head measured exactly.
  const std::string how = out.mode == AblationMode::kMean ? "replacing its output by its mean" : "zeroing its output";
  for (size_t ri = 0; ri < out.roles.size(); ++ri) {
    RoleCheck& r = out.roles[ri];
    for (HeadCheck& hc : r.heads) {
      hc.rise = out.Rise(hc.layer, hc.head, r.positions);
      if (have_attr) {
        const float* e = out.attribution.effect[ri + 1].data() + (size_t(hc.layer) * H + hc.head) * size_t(T);
        double s = 0;
        for (int p = 0; p < T; ++p) s += e[p];
        hc.attribution = s / double(r.positions.size());
      }
      std::vector<double> others;
      for (int l = 0; l < L; ++l)
        for (int h = 0; h < H; ++h) {
          if (l == hc.layer && h == hc.head) continue;
          const double v = out.Rise(l, h, r.positions);
          if (std::isnan(v)) continue;
          others.push_back(v);
          if (hc.top_layer < 0 || v > hc.top_rise) hc.top_layer = l, hc.top_head = h, hc.top_rise = v;
        }
      hc.others = int(others.size());
      hc.others_p95 = Percentile(others, 95);
      hc.others_median = Percentile(others, 50);
      hc.checked = !others.empty() && hc.rise > hc.others_p95;
    }
    const HeadCheck* best = &r.heads[0];
    for (const auto& hc : r.heads)
      if ((hc.checked && !best->checked) || (hc.checked == best->checked && hc.rise > best->rise)) best = &hc;
    r.checked = best->checked;
    const std::string name = "L" + std::to_string(best->layer) + "H" + std::to_string(best->head);
    const std::string measured = out.measured < L * H ? " (of the " + std::to_string(best->others) +
                                                            " heads measured, the largest by attribution)"
                                                      : "";
    r.reason = name + " attends like " + RoleVerb(r.key) + " and " + how + " " +
               (best->rise >= 0 ? "raises" : "lowers") + " the loss on " + r.where + " by " +
               Nats(std::abs(best->rise)) + " nats; " +
               (best->checked ? "above the 95th percentile of every other head (" + Nats(best->others_p95) + ")"
                              : "not above the 95th percentile of the other heads (" + Nats(best->others_p95) + ")") +
               measured + ", whose median is " + Nats(best->others_median) +
               (best->checked || best->top_layer < 0
                    ? std::string(".")
                    : "; the largest is L" + std::to_string(best->top_layer) + "H" + std::to_string(best->top_head) +
                          "'s " + Nats(best->top_rise) + ".");
  }
  return out;
}

void ApplyChecks(const CausalChecks& checks, library::PromptRoles* roles) {
  using Check = library::CategoryActivation::Check;
  for (auto& cat : roles->categories) {
    cat.check = Check::kNotRun;
    cat.check_reason.clear();
    if (const RoleCheck* r = checks.Find(cat.key)) {
      cat.check = r->checked ? Check::kChecked : Check::kNotChecked;
      cat.check_reason = r->reason;
    }
  }
}

}  // namespace hs::lm
