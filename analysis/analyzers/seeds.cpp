#include "analyzers/seeds.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <set>

#include "analyzers/findings.h"
#include "analyzers/pipeline.h"
#include "analyzers/progress_analyzer.h"
#include "families/run_info.h"
#include "io/atomic_file.h"

namespace hs::analyzers {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// config.json without what a seed group may differ in.
json RecipeOf(const json& config) {
  json r = config;
  for (const char* k : {"model_seed", "variant"}) r.erase(k);
  return r;
}

int SeedOf(const json& config) {
  const auto it = config.find("model_seed");
  return it != config.end() && it->is_number_integer() ? it->get<int>() : -1;
}

std::string GroupLabel(const json& r) {
  std::string s;
  auto add = [&](const char* key, const char* name) {
    const auto it = r.find(key);
    if (it == r.end() || it->is_null()) return;
    s += (s.empty() ? "" : ", ") + std::string(name) + (it->is_string() ? it->get<std::string>() : it->dump());
  };
  add("p", "p ");
  add("data_seed", "data seed ");
  add("train_frac", "train frac ");
  add("weight_decay", "wd ");
  add("lr", "lr ");
  add("epochs", "epochs ");
  if (r.value("grokfast", false)) s += ", grokfast";
  return s;
}

// Reads config.json of a run folder; null when it cannot be read.
json ConfigOrNull(const fs::path& run) {
  try {
    return families::LoadRunInfo(run)->config;
  } catch (const std::exception&) {
    return json();
  }
}

// f at a path of keys (null when absent).
json At(const json& f, std::initializer_list<const char*> path) {
  const json* j = &f;
  for (const char* k : path) {
    if (!j->is_object() || !j->contains(k)) return json();
    j = &(*j)[k];
  }
  return *j;
}
json Second(const json& range) { return range.is_array() && range.size() == 2 ? range[1] : json(); }

struct StatDef {
  const char* key;
  const char* label;
  const char* unit;  // epoch, fraction, count, loss
  double paper;      // NaN: none
  const char* paper_note;
};

// Mean of the numbers in a json array (null when none).
json MeanOf(const json& a, const char* field) {
  double s = 0;
  int n = 0;
  if (a.is_array())
    for (const auto& x : a) {
      const json v = field ? At(x, {field}) : x;
      if (v.is_number()) s += v.get<double>(), ++n;
    }
  return n ? json(s / n) : json();
}

}  // namespace

std::vector<SeedGroup> FindSeedGroups(const std::vector<fs::path>& runs) {
  std::map<std::string, SeedGroup> by_recipe;
  for (const auto& run : runs) {
    const json cfg = ConfigOrNull(run);
    if (!cfg.is_object() || SeedOf(cfg) < 0) continue;
    const json recipe = RecipeOf(cfg);
    SeedGroup& g = by_recipe[recipe.dump()];
    g.recipe = recipe;
    g.label = GroupLabel(recipe);
    g.runs.push_back(run);
    g.seeds.push_back(SeedOf(cfg));
  }
  std::vector<SeedGroup> out;
  for (auto& [k, g] : by_recipe) {
    if (g.runs.size() < 2) continue;
    std::vector<size_t> order(g.runs.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return g.seeds[a] < g.seeds[b]; });
    SeedGroup s;
    s.recipe = g.recipe, s.label = g.label;
    for (size_t i : order) s.runs.push_back(g.runs[i]), s.seeds.push_back(g.seeds[i]);
    out.push_back(std::move(s));
  }
  std::stable_sort(out.begin(), out.end(), [](const SeedGroup& a, const SeedGroup& b) { return a.runs.size() > b.runs.size(); });
  return out;
}

SeedGroup SeedGroupOf(const fs::path& run, const std::vector<fs::path>& runs) {
  std::error_code ec;
  const fs::path me = fs::weakly_canonical(run, ec);
  for (const auto& g : FindSeedGroups(runs))
    for (const auto& r : g.runs)
      if (fs::weakly_canonical(r, ec) == me) return g;
  return {};
}

std::string SeedGroupMismatch(const std::vector<fs::path>& runs) {
  if (runs.size() < 2) return "a seed group needs at least two runs";
  std::vector<json> recipes;
  std::set<int> seeds;
  for (const auto& r : runs) {
    const json cfg = families::LoadRunInfo(r)->config;  // throws naming the file
    if (SeedOf(cfg) < 0) return r.string() + "/config.json has no integer \"model_seed\"";
    if (!seeds.insert(SeedOf(cfg)).second)
      return "two runs have seed " + std::to_string(SeedOf(cfg)) + " (" + r.string() + " is one)";
    recipes.push_back(RecipeOf(cfg));
  }
  for (size_t i = 1; i < recipes.size(); ++i) {
    if (recipes[i] == recipes[0]) continue;
    std::set<std::string> keys;
    for (const auto& [k, v] : recipes[0].items()) keys.insert(k);
    for (const auto& [k, v] : recipes[i].items()) keys.insert(k);
    for (const auto& k : keys) {
      const json a = recipes[0].value(k, json()), b = recipes[i].value(k, json());
      if (a != b)
        return "the runs differ in more than the seed: " + k + " is " + a.dump() + " in " + runs[0].string() + " and " +
               b.dump() + " in " + runs[i].string();
    }
  }
  return "";
}

json SeedSummary(const std::vector<fs::path>& runs) {
  std::vector<json> f;
  std::vector<int> seeds;
  json dirs = json::array();
  for (const auto& r : runs) {
    f.push_back(ReadFindings(r));
    seeds.push_back(SeedOf(At(f.back(), {"config"})));
    dirs.push_back(r.string());
  }
  json out;
  out["runs"] = dirs;
  out["seeds"] = seeds;
  out["recipe"] = runs.empty() ? json::object() : RecipeOf(ConfigOrNull(runs[0]));
  // The paper's values apply to its recipe only: p = 113, 30% of the pairs, weight decay 1.
  const json& rc = out["recipe"];
  const bool paper_recipe = rc.is_object() && rc.value("p", 0) == 113 && std::fabs(rc.value("train_frac", 0.0) - 0.3) < 1e-9 &&
                            std::fabs(rc.value("weight_decay", 0.0) - 1.0) < 1e-9;
  out["paper_recipe"] = paper_recipe;

  // Per seed: the heads' lock epochs and frequencies (means over heads as stats).
  json heads = json::array();
  for (size_t i = 0; i < f.size(); ++i) {
    json onsets = json::array(), locked = json::array(), frac = json::array();
    for (const auto& h : At(f[i], {"heads"}).is_array() ? At(f[i], {"heads"}) : json::array()) {
      onsets.push_back(At(h, {"specialization_onset"}));
      locked.push_back(At(h, {"locked_freq"}));
      frac.push_back(At(h, {"final_max_frac"}));
    }
    heads.push_back({{"seed", seeds[i]}, {"onsets", onsets}, {"locked", locked}, {"final_frac", frac}});
  }
  out["heads"] = heads;

  // Key frequencies.
  json per_seed = json::array();
  std::map<int, int> counts;
  for (const auto& x : f) {
    json keys = At(x, {"key_frequencies"});
    if (!keys.is_array()) keys = json::array();
    per_seed.push_back(keys);
    for (const auto& k : keys)
      if (k.is_number_integer()) ++counts[k.get<int>()];
  }
  json cnt = json::object(), shared = json::array();
  for (const auto& [k, n] : counts) {
    cnt[std::to_string(k)] = n;
    if (n == int(f.size())) shared.push_back(k);
  }
  out["key_frequencies"] = {{"per_seed", per_seed}, {"counts", cnt}, {"shared", shared},
                            {"paper", paper_recipe ? json{14, 35, 41, 42, 52} : json()}};

  // Scalar findings.
  const double kNone = NAN;
  const StatDef defs[] = {
      {"memorised", "memorised (train accuracy > 0.99)", "epoch", kNone, ""},
      {"grok_0.5", "test accuracy > 0.5", "epoch", kNone, ""},
      {"grok_0.9", "test accuracy > 0.9", "epoch", kNone, ""},
      {"grok_0.99", "test accuracy > 0.99", "epoch", kNone, ""},
      {"test_loss_peak", "test-loss peak", "epoch", 1400, "~1.4k (end of memorisation)"},
      {"memorisation_end", "phase: memorisation ends", "epoch", 1400, "~1.4k"},
      {"circuit_end", "phase: circuit formation ends", "epoch", 9400, "~9.4k"},
      {"cleanup_end", "phase: clean-up ends", "epoch", 14000, "~14k"},
      {"restricted_below", "restricted loss < 0.1", "epoch", kNone, ""},
      {"excluded_peak", "excluded loss peak", "epoch", kNone, ""},
      {"head_lock_mean", "heads lock (fraction >= 0.9 to the end), mean over heads", "epoch", kNone, ""},
      {"head_lock_first", "first head locks", "epoch", kNone, ""},
      {"head_lock_last", "last head locks", "epoch", kNone, ""},
      {"heads_locked", "heads locked at the end", "count", kNone, ""},
      {"head_frac", "heads' variance fraction in one frequency (mean)", "fraction", 0.97, ">= 0.97"},
      {"head_freqs", "distinct frequencies the heads lock onto", "count", kNone, ""},
      {"key_freqs", "key frequencies (>= 1% of neurons)", "count", 5, "5 (14, 35, 41, 42, 52)"},
      {"neuron_frac", "neurons with > 85% of variance in one frequency", "fraction", 0.846, "84.6%"},
      {"final_test_loss", "final test loss", "loss", kNone, ""},
      {"final_gini_W_L", "final Gini of W_L's Fourier norms", "fraction", kNone, ""},
  };
  json stats = json::array();
  for (const auto& d : defs) {
    json values = json::array();
    for (size_t i = 0; i < f.size(); ++i) {
      const json& x = f[i];
      const std::string k = d.key;
      json v;
      if (k == "memorised") v = At(x, {"memorisation_epoch"});
      else if (k.rfind("grok_", 0) == 0) v = At(x, {"test_accuracy_crossings", k.substr(5).c_str()});
      else if (k == "test_loss_peak") v = At(x, {"test_loss_peak", "epoch"});
      else if (k == "memorisation_end") v = Second(At(x, {"phases", "memorisation"}));
      else if (k == "circuit_end") v = Second(At(x, {"phases", "circuit_formation"}));
      else if (k == "cleanup_end") v = Second(At(x, {"phases", "cleanup"}));
      else if (k == "restricted_below") v = At(x, {"progress_measures", "restricted_loss_below_0.1"});
      else if (k == "excluded_peak") v = At(x, {"progress_measures", "excluded_loss_peak", "epoch"});
      else if (k == "head_lock_mean") v = MeanOf(heads[i]["onsets"], nullptr);
      else if (k == "head_lock_first" || k == "head_lock_last") {
        double lo = INFINITY, hi = -INFINITY;
        int n = 0;
        for (const auto& o : heads[i]["onsets"])
          if (o.is_number()) lo = std::min(lo, o.get<double>()), hi = std::max(hi, o.get<double>()), ++n;
        const size_t total = heads[i]["onsets"].size();
        if (n > 0 && (k == "head_lock_first" || size_t(n) == total)) v = k == "head_lock_first" ? lo : hi;
      } else if (k == "heads_locked") {
        int n = 0;
        for (const auto& o : heads[i]["onsets"]) n += o.is_number();
        v = n;
      } else if (k == "head_frac") v = MeanOf(heads[i]["final_frac"], nullptr);
      else if (k == "head_freqs") {
        std::set<int> s;
        for (const auto& o : heads[i]["locked"])
          if (o.is_number_integer()) s.insert(o.get<int>());
        v = int(s.size());
      } else if (k == "key_freqs") v = At(x, {"key_frequencies"}).is_array() ? json(At(x, {"key_frequencies"}).size()) : json();
      else if (k == "neuron_frac") v = At(x, {"neuron_frac_explained"});
      else if (k == "final_test_loss") v = At(x, {"final", "test_loss"});
      else if (k == "final_gini_W_L") v = At(x, {"progress_measures", "final_gini_W_L"});
      values.push_back(v.is_number() ? v : json());
    }
    std::vector<double> xs;
    for (const auto& v : values)
      if (v.is_number()) xs.push_back(v.get<double>());
    json s = {{"key", d.key}, {"label", d.label}, {"unit", d.unit}, {"values", values}, {"n", xs.size()}};
    s["paper"] = std::isnan(d.paper) || !paper_recipe ? json() : json(d.paper);
    s["paper_note"] = paper_recipe ? d.paper_note : "";
    if (!xs.empty()) {
      double mean = 0;
      for (double x : xs) mean += x;
      mean /= double(xs.size());
      double var = 0;
      for (double x : xs) var += (x - mean) * (x - mean);
      const double sd = xs.size() > 1 ? std::sqrt(var / double(xs.size() - 1)) : 0.0;
      const double lo = *std::min_element(xs.begin(), xs.end()), hi = *std::max_element(xs.begin(), xs.end());
      s["mean"] = mean, s["sd"] = sd, s["min"] = lo, s["max"] = hi;
      const std::string unit = d.unit;
      bool consistent;
      if (unit == "fraction") consistent = hi - lo <= 0.05;
      else if (unit == "count") consistent = hi == lo;
      else if (unit == "loss") consistent = lo > 0 && std::log10(hi / lo) <= 1.0;  // within one decade
      else consistent = sd <= 0.1 * std::fabs(mean);  // epochs: a coefficient of variation of at most 10%
      s["verdict"] = xs.size() < f.size() ? "not reached by every seed" : consistent ? "consistent" : "seed-dependent";
    } else {
      s["mean"] = s["sd"] = s["min"] = s["max"] = json();
      s["verdict"] = "not reached by any seed";
    }
    stats.push_back(s);
  }
  // The key-frequency set itself.
  out["stats"] = stats;

  // Curves on the epochs every run has.
  json curves = json::object(), curve_runs = json::array();
  std::vector<std::map<int, size_t>> index;  // per run: epoch -> row
  std::vector<io::NpzArchive> sums;
  for (size_t i = 0; i < runs.size(); ++i) {
    try {
      auto info = families::LoadRunInfo(runs[i]);
      sums.push_back(ReadValidSummary(*info, kProgressMeasures));
      curve_runs.push_back(i);
    } catch (const std::exception&) {
      continue;  // no progress measures: no curves for this run
    }
  }
  if (!sums.empty()) {
    std::vector<std::vector<float>> ep;
    for (const auto& s : sums) ep.push_back(s.at("epochs").ToFloat());
    std::vector<int> common;
    for (float e : ep[0]) {
      bool all = true;
      for (size_t r = 1; r < ep.size() && all; ++r) all = std::find(ep[r].begin(), ep[r].end(), e) != ep[r].end();
      if (all) common.push_back(int(e));
    }
    curves["epochs"] = common;
    for (const char* name : {"train_loss", "test_loss", "restricted_loss", "excluded_loss", "gini_W_L"}) {
      json per = json::array();
      for (size_t r = 0; r < sums.size(); ++r) {
        const auto it = sums[r].find(name);
        std::vector<double> ys;
        if (it != sums[r].end()) {
          const auto y = it->second.ToFloat();
          for (int e : common) {
            const size_t row = size_t(std::find(ep[r].begin(), ep[r].end(), float(e)) - ep[r].begin());
            ys.push_back(row < y.size() ? double(y[row]) : NAN);
          }
        }
        per.push_back(ys);
      }
      curves[name] = per;
    }
  }
  out["curves"] = curves;
  out["curve_runs"] = curve_runs;
  return out;
}

std::vector<std::string> SeedColumns(const json& summary) {
  std::vector<std::string> c = {"finding", "across seeds", "paper", "mean +- sd", "min - max"};
  for (const auto& s : summary.value("seeds", json::array())) c.push_back("seed " + s.dump());
  return c;
}

std::vector<std::vector<std::string>> SeedRows(const json& summary) {
  std::vector<std::vector<std::string>> rows;
  auto num = [](const json& v, const std::string& unit) -> std::string {
    if (!v.is_number()) return "-";
    char b[48];
    const double x = v.get<double>();
    if (unit == "epoch") std::snprintf(b, sizeof b, "%.0f", x);
    else if (unit == "count") std::snprintf(b, sizeof b, x == std::floor(x) ? "%.0f" : "%.1f", x);
    else if (unit == "loss") std::snprintf(b, sizeof b, "%.2g", x);
    else std::snprintf(b, sizeof b, "%.3f", x);
    return b;
  };
  for (const auto& s : summary.value("stats", json::array())) {
    const std::string unit = s.value("unit", "");
    std::vector<std::string> r;
    r.push_back(s.value("label", ""));
    r.push_back(s.value("verdict", ""));
    r.push_back(s.value("paper_note", "").empty() ? "-" : s.value("paper_note", ""));
    r.push_back(s["mean"].is_number() ? num(s["mean"], unit == "count" ? "count" : unit) + " +- " + num(s["sd"], unit == "count" ? "fraction" : unit) : "-");
    r.push_back(s["min"].is_number() ? num(s["min"], unit) + " - " + num(s["max"], unit) : "-");
    for (const auto& v : s["values"]) r.push_back(num(v, unit));
    rows.push_back(r);
  }
  // The key frequencies of each seed, and how many seeds share each.
  const json kf = summary.value("key_frequencies", json::object());
  const json kf_counts = kf.value("counts", json::object());  // named: items() of a temporary dangles
  std::vector<std::string> r = {"key frequencies", "", kf.value("paper", json()).is_array() ? "14, 35, 41, 42, 52" : "-"};
  std::vector<std::pair<int, std::string>> by_k;  // numeric order, not the object's string order
  for (const auto& [k, n] : kf_counts.items()) by_k.emplace_back(std::atoi(k.c_str()), k + " (" + n.dump() + ")");
  std::sort(by_k.begin(), by_k.end());
  std::string counts;
  for (const auto& [k, text] : by_k) counts += (counts.empty() ? "" : ", ") + text;
  r.push_back("seeds per k: " + (counts.empty() ? std::string("none") : counts));
  std::string shared;
  for (const auto& k : kf.value("shared", json::array())) shared += (shared.empty() ? "" : ", ") + k.dump();
  r.push_back("in every seed: " + (shared.empty() ? std::string("none") : shared));
  for (const auto& keys : kf.value("per_seed", json::array())) {
    std::string s;
    for (const auto& k : keys) s += (s.empty() ? "" : ", ") + k.dump();
    r.push_back(s.empty() ? "none" : s);
  }
  r[1] = "consistent";  // every seed has the same set
  for (const auto& keys : kf.value("per_seed", json::array()))
    if (keys != kf["per_seed"][0]) r[1] = "seed-dependent";
  rows.push_back(r);
  return rows;
}

}  // namespace hs::analyzers
