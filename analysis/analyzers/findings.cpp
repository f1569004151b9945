// Findings: aggregate metrics of a run (see findings.h).
#include "analyzers/findings.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <optional>

#include "analyzers/pipeline.h"
#include "analyzers/progress_analyzer.h"
#include "io/atomic_file.h"
#include "io/run_dir.h"
#include "library/frequency_stats.h"

namespace hs::analyzers {
namespace fs = std::filesystem;
using nlohmann::json;

int FirstAbove(const std::vector<double>& x, const std::vector<double>& y, double threshold) {
  for (size_t i = 0; i < std::min(x.size(), y.size()); ++i)
    if (y[i] > threshold) return int(x[i]);
  return -1;
}

int HeldOnset(const std::vector<double>& x, const std::vector<double>& y, double threshold) {
  const size_t n = std::min(x.size(), y.size());
  int onset = -1;
  for (size_t i = n; i-- > 0;) {
    if (!(y[i] >= threshold)) break;
    onset = int(x[i]);
  }
  return onset;
}

Cliff SteepestFall(const std::vector<double>& x, const std::vector<double>& y, double window) {
  Cliff best;
  const size_t n = std::min(x.size(), y.size());
  size_t j = 0;
  for (size_t i = 0; i < n; ++i) {
    if (!(y[i] > 0)) continue;
    // The last sample within the window after x[i].
    j = std::max(j, i);
    while (j + 1 < n && x[j + 1] <= x[i] + window) ++j;
    for (size_t k = j; k > i; --k) {  // the window's end (last positive sample in it)
      if (!(y[k] > 0)) continue;
      const double fall = std::log10(y[i]) - std::log10(y[k]);
      if (fall > best.decades) best = {int(x[i]), int(x[k]), fall};
      break;
    }
  }
  return best;
}

Phases PhasesOf(const std::vector<double>& tx, const std::vector<double>& tl, const std::vector<double>& gx,
                const std::vector<double>& gini) {
  Phases ph;
  const size_t n = std::min(tx.size(), tl.size());
  if (n == 0) return ph;
  size_t peak = 0;
  for (size_t i = 1; i < n; ++i)
    if (tl[i] > tl[peak]) peak = i;
  if (peak + 1 == n) return ph;  // still rising at the last evaluation: memorisation has not ended
  ph.memorisation_end = int(tx[peak]);
  for (size_t i = peak + 1; i < n; ++i)
    if (tl[i] < kCircuitEndLossFactor * tl[peak]) {
      ph.circuit_end = int(tx[i]);
      break;
    }
  if (ph.circuit_end < 0) return ph;
  const size_t m = std::min(gx.size(), gini.size());
  size_t c = 0;
  while (c < m && gx[c] < ph.circuit_end) ++c;
  if (c >= m) return ph;
  double mx = gini[c];
  for (size_t i = c; i < m; ++i) mx = std::max(mx, gini[i]);
  const double target = gini[c] + kCleanupGiniShare * (mx - gini[c]);
  for (size_t i = c; i < m; ++i)
    if (gini[i] >= target) {
      ph.cleanup_end = int(gx[i]);
      break;
    }
  return ph;
}

namespace {

json EpochOrNull(int e) { return e >= 0 ? json(e) : json(nullptr); }

std::vector<double> Column(const io::Array& a, int64_t stride = 1, int64_t offset = 0) {
  const auto v = a.ToFloat();
  std::vector<double> out;
  for (size_t i = size_t(offset); i < v.size(); i += size_t(stride)) out.push_back(v[i]);
  return out;
}

// The summary of `analyzer` if its file exists (validated), else null with
// the reason recorded under "missing".
std::optional<io::NpzArchive> Summary(const families::RunInfo& run, const std::string& analyzer, json& missing) {
  const fs::path path = io::RunPaths{run.dir}.ArtifactsDir(analyzer) / "summary.npz";
  if (!fs::exists(path)) {
    missing.push_back(analyzer + ": no summary.npz (run `headscope analyze " + run.dir.string() + "`)");
    return std::nullopt;
  }
  return ReadValidSummary(run, analyzer);
}

}  // namespace

json ComputeFindings(const families::RunInfo& run) {
  json j;
  json missing = json::array();
  j["run"] = run.variant;
  j["family"] = run.family;
  j["dir"] = run.dir.string();
  json cfg = json::object();
  for (const char* k : {"p", "model_seed", "data_seed", "train_frac", "weight_decay", "lr", "grokfast", "epochs"})
    if (run.config.contains(k)) cfg[k] = run.config[k];
  j["config"] = cfg;

  // metrics.csv
  const auto rows = io::ReadMetricsCsv(io::RunPaths{run.dir}.Metrics());
  std::vector<double> ex, train_acc, tx, test_acc, test_loss;
  for (const auto& r : rows) {
    ex.push_back(r.epoch);
    train_acc.push_back(r.train_acc);
    if (r.test_epoch == r.epoch) tx.push_back(r.epoch), test_acc.push_back(r.test_acc), test_loss.push_back(r.test_loss);
  }
  if (rows.empty()) missing.push_back("metrics.csv: no rows");
  if (!rows.empty()) {
    const auto& last = rows.back();
    j["final"] = {{"epoch", last.epoch}, {"train_loss", last.train_loss}, {"test_loss", last.test_loss},
                  {"train_acc", last.train_acc}, {"test_acc", last.test_acc}};
  }
  j["memorisation_epoch"] = EpochOrNull(FirstAbove(ex, train_acc, kMemorisedTrainAccuracy));
  json cross = json::object();
  for (double t : {0.5, 0.9, 0.99}) {
    char key[8];
    std::snprintf(key, sizeof key, "%g", t);
    cross[key] = EpochOrNull(FirstAbove(tx, test_acc, t));
  }
  j["test_accuracy_crossings"] = cross;
  j["grokked"] = FirstAbove(tx, test_acc, library::kGrokTestAccuracy) >= 0;
  if (!test_loss.empty()) {
    const size_t pk = size_t(std::max_element(test_loss.begin(), test_loss.end()) - test_loss.begin());
    j["test_loss_peak"] = {{"epoch", int(tx[pk])}, {"loss", test_loss[pk]}};
    const double window = std::max(1.0, kCliffWindowFrac * std::max(1.0, ex.back()));
    const Cliff c = SteepestFall(tx, test_loss, window);
    j["test_loss_cliff"] = c.start >= 0 ? json{{"start", c.start}, {"end", c.end}, {"decades", c.decades}} : json(nullptr);
  }

  // Heads: specialization onset and locked frequency (attention_freq), coarseness class over time.
  json heads = json::array();
  const int U = run.n_head_units();
  for (int u = 0; u < U; ++u) heads.push_back({{"head", run.HeadLabel(u)}});
  if (auto s = Summary(run, "attention_freq", missing)) {
    const auto ep = Column(s->at("epochs"));
    const int64_t n = int64_t(ep.size());
    for (int u = 0; u < U && n > 0; ++u) {
      const auto frac = Column(s->at("max_frac_per_head"), U, u);
      const auto dom = Column(s->at("dominant_freq_per_head"), U, u);
      const int onset = HeldOnset(ep, frac, library::kHeadSpecializedThreshold);
      heads[u]["specialization_onset"] = EpochOrNull(onset);
      heads[u]["locked_freq"] = onset >= 0 ? json(int(dom.back())) : json(nullptr);
      heads[u]["final_dominant_freq"] = int(dom.back());
      heads[u]["final_max_frac"] = frac.back();
    }
  }
  if (auto s = Summary(run, "coarseness", missing)) {
    const auto ep = Column(s->at("epochs"));
    for (int u = 0; u < U && !ep.empty(); ++u) {
      const auto low = Column(s->at("head_fft_low_freq"), U, u);
      json segs = json::array();
      std::string last;
      for (size_t i = 0; i < ep.size(); ++i) {
        const std::string c = library::CoarsenessClass(float(low[i]));
        if (c != last) segs.push_back({{"from", int(ep[i])}, {"class", c}}), last = c;
      }
      heads[u]["coarseness"] = segs;
      heads[u]["final_fft_low_freq"] = low.back();
    }
  }
  j["heads"] = heads;

  // Neurons: key frequencies and cluster sizes at the last checkpoint.
  if (auto s = Summary(run, "neuron_freq_norm", missing)) {
    const int F = run.n_freq();
    const io::Array& counts = s->at("neurons_per_freq");
    const int64_t n = counts.shape[0];
    if (n > 0) {
      const auto c = counts.ToFloat();
      const auto m = s->at("key_freq_mask").ToFloat();
      json keys = json::array(), clusters = json::object();
      for (int f = 0; f < F; ++f) {
        if (m[size_t((n - 1) * F + f)] > 0.5f) keys.push_back(f + 1);
        const int cnt = int(std::lround(c[size_t((n - 1) * F + f)]));
        if (cnt > 0) clusters[std::to_string(f + 1)] = cnt;
      }
      j["key_frequencies"] = keys;
      j["neurons_per_frequency"] = clusters;
      j["neuron_frac_explained"] = s->at("frac_explained").ToFloat().back();
    }
  }

  // Progress measures and phases.
  std::vector<double> gx, gini;
  if (auto s = Summary(run, kProgressMeasures, missing)) {
    gx = Column(s->at("epochs"));
    gini = Column(s->at("gini_W_L"));
    const auto restricted = Column(s->at("restricted_loss")), excluded = Column(s->at("excluded_loss"));
    const auto gini_e = Column(s->at("gini_W_E"));
    json pm = json::object();
    json used = json::array();
    const auto mask = s->at("key_freq_mask").ToFloat();
    for (size_t f = 0; f < mask.size(); ++f)
      if (mask[f] > 0.5f) used.push_back(int(f + 1));
    pm["key_frequencies_used"] = used;
    if (!gx.empty()) {
      const size_t ex_pk = size_t(std::max_element(excluded.begin(), excluded.end()) - excluded.begin());
      pm["excluded_loss_peak"] = {{"epoch", int(gx[ex_pk])}, {"loss", excluded[ex_pk]}};
      // When the restricted loss first falls below 0.1 (the key frequencies
      // alone already solve the task), against the test loss then.
      for (size_t i = 0; i < gx.size(); ++i)
        if (restricted[i] < 0.1) {
          pm["restricted_loss_below_0.1"] = int(gx[i]);
          pm["test_loss_then"] = Column(s->at("test_loss"))[i];
          break;
        }
      pm["final_gini_W_E"] = gini_e.back();
      pm["final_gini_W_L"] = gini.back();
      pm["pca_explained"] = Column(s->at("pca_explained"));
    }
    j["progress_measures"] = pm;
  }
  const Phases ph = PhasesOf(tx, test_loss, gx, gini);
  j["phases"] = {{"memorisation", {0, EpochOrNull(ph.memorisation_end)}},
                 {"circuit_formation", {EpochOrNull(ph.memorisation_end), EpochOrNull(ph.circuit_end)}},
                 {"cleanup", {EpochOrNull(ph.circuit_end), EpochOrNull(ph.cleanup_end)}}};
  j["rules"] = {
      {"crossings", "first evaluated epoch (test_epoch == epoch) whose test accuracy exceeds the threshold"},
      {"memorisation_epoch", "first epoch with train accuracy > 0.99"},
      {"test_loss_cliff", "the window of 2% of the run's epochs over which log10 test loss falls most"},
      {"specialization_onset", "first checkpoint from which the head's max variance fraction in one frequency stays >= 0.9"},
      {"locked_freq", "the head's dominant frequency at the last checkpoint, when it has an onset"},
      {"key_frequencies", ">= 1% of neurons explained > 85% by the frequency, last checkpoint"},
      {"coarseness", "FFT low-frequency energy (no DC) of the head's pattern: >= 0.5 low-frequency, <= 0.1 high-frequency, else mixed"},
      {"phases", "memorisation ends at the test-loss peak M (not while the test loss is still highest at the last evaluation); circuit formation ends at C, the first epoch after M with test loss "
                 "below a tenth of the peak; clean-up ends at K, the first checkpoint after C where the Gini coefficient of "
                 "W_L's Fourier norms has made 95% of its rise from C to its maximum"}};
  j["missing"] = missing;
  return j;
}

namespace {
std::string E(const json& v) { return v.is_number() ? std::to_string(v.get<long long>()) : "-"; }
std::string G(const json& v, const char* fmt = "%.3g") {
  if (!v.is_number()) return "-";
  char b[64];
  std::snprintf(b, sizeof b, fmt, v.get<double>());
  return b;
}
std::string Range(const json& r) {
  if (!r.is_array() || r.size() != 2) return "-";
  if (!r[0].is_number()) return "-";
  return E(r[0]) + " - " + (r[1].is_number() ? E(r[1]) : std::string("not ended"));
}
json At(const json& j, std::initializer_list<const char*> path) {
  const json* cur = &j;
  for (const char* k : path) {
    if (!cur->is_object() || !cur->contains(k)) return nullptr;
    cur = &(*cur)[k];
  }
  return *cur;
}
}  // namespace

const std::vector<std::string> kHeadColumns = {"head", "onset", "locked k", "final frac.", "coarseness over time"};

TextRows FindingsRows(const json& f) {
  TextRows rows;
  const json cfg = At(f, {"config"});
  std::string c;
  if (cfg.is_object())
    for (const auto& [k, v] : cfg.items()) c += (c.empty() ? "" : ", ") + k + " " + v.dump();
  rows.push_back({"run", f.value("run", std::string("?"))});
  rows.push_back({"config", c});
  rows.push_back({"final test accuracy", G(At(f, {"final", "test_acc"}), "%.4f")});
  rows.push_back({"final train / test loss", G(At(f, {"final", "train_loss"})) + " / " + G(At(f, {"final", "test_loss"}))});
  rows.push_back({"memorised (train acc > 0.99)", E(At(f, {"memorisation_epoch"}))});
  for (const char* t : {"0.5", "0.9", "0.99"})
    rows.push_back({std::string("test accuracy > ") + t, E(At(f, {"test_accuracy_crossings", t}))});
  rows.push_back({"test-loss peak", E(At(f, {"test_loss_peak", "epoch"})) + " (loss " + G(At(f, {"test_loss_peak", "loss"})) + ")"});
  const json cl = At(f, {"test_loss_cliff"});
  rows.push_back({"test-loss cliff (steepest fall)",
                  cl.is_object() ? E(cl["start"]) + " - " + E(cl["end"]) + " (" + G(cl["decades"], "%.1f") + " decades)" : "-"});
  rows.push_back({"phase: memorisation", Range(At(f, {"phases", "memorisation"}))});
  rows.push_back({"phase: circuit formation", Range(At(f, {"phases", "circuit_formation"}))});
  rows.push_back({"phase: clean-up", Range(At(f, {"phases", "cleanup"}))});
  std::string keys;
  for (const auto& k : At(f, {"key_frequencies"}).is_array() ? At(f, {"key_frequencies"}) : json::array())
    keys += (keys.empty() ? "" : ", ") + k.dump();
  rows.push_back({"key frequencies (final)", keys.empty() ? "none" : keys});
  std::string clusters;
  const json np = At(f, {"neurons_per_frequency"});
  std::vector<std::pair<int, std::string>> by_k;  // numeric order (JSON keys sort as text)
  if (np.is_object())
    for (const auto& [k, v] : np.items()) by_k.emplace_back(std::atoi(k.c_str()), "k=" + k + ": " + v.dump());
  std::sort(by_k.begin(), by_k.end());
  for (const auto& [k, text] : by_k) clusters += (clusters.empty() ? "" : ", ") + text;
  rows.push_back({"neurons per frequency (> 85% explained)", clusters.empty() ? "none" : clusters});
  rows.push_back({"neurons explained by one frequency", G(At(f, {"neuron_frac_explained"}), "%.3f")});
  const json used = At(f, {"progress_measures", "key_frequencies_used"});
  if (used.is_array() && used.empty()) {
    rows.push_back({"restricted loss < 0.1 at", "- (no key frequencies: only each answer's mean is kept)"});
    rows.push_back({"excluded loss peak", "- (no key frequencies: the excluded loss is the train loss)"});
  } else {
    const json below = At(f, {"progress_measures", "restricted_loss_below_0.1"});
    rows.push_back({"restricted loss < 0.1 at", below.is_number() ? E(below) + " (test loss then " +
                                                                        G(At(f, {"progress_measures", "test_loss_then"})) + ")"
                                                                  : "never"});
    rows.push_back({"excluded loss peak", E(At(f, {"progress_measures", "excluded_loss_peak", "epoch"})) + " (loss " +
                                              G(At(f, {"progress_measures", "excluded_loss_peak", "loss"})) + ")"});
  }
  rows.push_back({"final Gini of W_E / W_L Fourier norms", G(At(f, {"progress_measures", "final_gini_W_E"}), "%.3f") + " / " +
                                                               G(At(f, {"progress_measures", "final_gini_W_L"}), "%.3f")});
  std::string pca;
  for (const auto& v : At(f, {"progress_measures", "pca_explained"}).is_array() ? At(f, {"progress_measures", "pca_explained"})
                                                                                  : json::array())
    pca += (pca.empty() ? "" : ", ") + G(v, "%.2f");
  rows.push_back({"trajectory variance in PC1, PC2, PC3", pca.empty() ? "-" : pca});
  return rows;
}

std::vector<std::vector<std::string>> HeadRows(const json& f) {
  std::vector<std::vector<std::string>> rows;
  if (!f.contains("heads") || !f["heads"].is_array()) return rows;
  for (const auto& h : f["heads"]) {
    std::string coarse;
    if (h.contains("coarseness") && h["coarseness"].is_array())
      for (const auto& seg : h["coarseness"])
        coarse += (coarse.empty() ? "" : " -> ") + seg.value("class", std::string("?")) + " from " + E(seg.value("from", json()));
    rows.push_back({h.value("head", std::string("?")), E(h.value("specialization_onset", json())),
                    E(h.value("locked_freq", json())), G(h.value("final_max_frac", json()), "%.3f"), coarse.empty() ? "-" : coarse});
  }
  return rows;
}

json WriteFindings(const families::RunInfo& run) {
  json j = ComputeFindings(run);
  const std::string text = j.dump(2) + "\n";
  const fs::path path = run.dir / "summary.json";
  std::string old;
  try {
    if (fs::exists(path)) old = io::ReadFile(path);
  } catch (const io::IoError&) {
  }
  if (old != text) io::WriteFileAtomic(path, text);  // a follow pass every few seconds rewrites nothing
  return j;
}

json ReadFindings(const fs::path& run_dir) {
  const fs::path path = run_dir / "summary.json";
  json j;
  try {
    j = json::parse(io::ReadFile(path));
  } catch (const io::IoError&) {
    throw;
  } catch (const std::exception& e) {
    throw io::IoError(path.string() + ": not valid JSON (" + e.what() + ")");
  }
  if (!j.is_object() || !j.contains("run") || !j["run"].is_string())
    throw io::IoError(path.string() + ": not a headscope summary (no \"run\" name)");
  // Everything that reads it (panels, the comparison, report) goes through
  // these two: a field of the wrong type is an error here, naming the file.
  try {
    (void)FindingsRows(j);
    (void)HeadRows(j);
    if (j.contains("phases") && !j["phases"].is_object()) throw std::runtime_error("\"phases\" is not an object");
    if (j.contains("rules") && !j["rules"].is_object()) throw std::runtime_error("\"rules\" is not an object");
    if (j.contains("missing") && !j["missing"].is_array()) throw std::runtime_error("\"missing\" is not an array");
    const json rules = j.value("rules", json::object()), missing = j.value("missing", json::array());
    for (const auto& [k, v] : rules.items())
      if (!v.is_string()) throw std::runtime_error("rule \"" + k + "\" is not text");
    for (const auto& m : missing)
      if (!m.is_string()) throw std::runtime_error("an entry of \"missing\" is not text");
  } catch (const std::exception& e) {
    throw io::IoError(path.string() + ": malformed (" + e.what() + "); `headscope analyze` rewrites it");
  }
  return j;
}

}  // namespace hs::analyzers
