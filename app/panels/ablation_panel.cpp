// Ablation (issue 22, grokking side): turn off heads (hook_z = 0), MLP
// neurons (hook_post = 0) or key frequencies (their cos/sin(w_k(a+b))
// directions removed from the neuron activations, as the progress measures
// remove them from the logits) and see the train and test loss and accuracy
// at the selected epoch before and after, and test accuracy and loss over
// training, clean against ablated: which checkpoints does the ablation break?
//
// The numbers come from families/modadd_ablation.h on the model lane (the
// same function as `headscope ablate RUN`): the selected epoch first, then
// the other checkpoints a few at a time, coarse to fine (the curve takes
// shape early, and other panels' requests get the lane between chunks).
// A new selection replaces the work for the old one (latest wins per slot).
#include "ablation_start.h"

#include <imgui.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <deque>
#include <iterator>
#include <mutex>
#include <set>

#include "families/modadd_ablation.h"
#include "findings_file.h"
#include "io/run_dir.h"
#include "jobs/cancelled.h"
#include "line_plot.h"
#include "panel.h"

namespace hs::app {
namespace {

constexpr const char* kAblEpochSlot = "ablation_epoch";
constexpr const char* kAblCurveSlot = "ablation_curve";
constexpr size_t kAblChunk = 3;  // checkpoints per curve job (~0.2 s each at p = 113), then the lane is free again

struct AblStart {
  bool set = false;
  std::vector<int> heads, neurons, freqs;
};
AblStart& AblStartSpec() {
  static AblStart s;
  return s;
}

// "0, 3,12" -> {0, 3, 12}; false with *error naming the item.
bool AblParseList(const std::string& text, std::vector<int>* out, std::string* error) {
  out->clear();
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t end = text.find(',', pos);
    if (end == std::string::npos) end = text.size();
    std::string item = text.substr(pos, end - pos);
    item.erase(0, item.find_first_not_of(" \t"));
    item.erase(item.find_last_not_of(" \t") + 1);
    pos = end + 1;
    if (item.empty() && end == text.size() && out->empty()) break;  // an empty text
    if (item.empty() || item.size() > 9 || item.find_first_not_of("0123456789") != std::string::npos) {
      *error = "'" + item + "' is not a number";
      return false;
    }
    out->push_back(std::stoi(item));
  }
  return true;
}

std::string AblJoinList(const std::vector<int>& v) {
  std::string s;
  for (size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + std::to_string(v[i]);
  return s;
}

// What the jobs write and the panel reads (shared with the jobs' closures, so
// a job that outlives the panel or its run writes into its own copy).
struct AblShared {
  std::mutex mu;
  // The selected epoch: results by key, the newest few.
  std::string epoch_key;  // the key of the last epoch job
  bool epoch_inflight = false;
  std::string epoch_error;
  std::deque<std::pair<std::string, families::ModAddAblationResult>> epoch_values;
  // The clean model's scores per checkpoint (whatever is turned off), so a
  // new selection computes only its ablated forward.
  std::map<int, families::ModAddScores> clean;
  // Over training, for curve_key: epoch -> ablated scores.
  std::string curve_key;
  std::map<int, families::ModAddScores> curve;
  bool curve_inflight = false;
  std::string curve_error;
};

class AblationPanel : public Panel {
 public:
  AblationPanel() {
    const AblStart& s = AblStartSpec();
    if (s.set) {
      m_heads = std::set<int>(s.heads.begin(), s.heads.end());
      m_freqs = std::set<int>(s.freqs.begin(), s.freqs.end());
      m_neurons = s.neurons;
      std::snprintf(m_neuron_text, sizeof m_neuron_text, "%s", AblJoinList(s.neurons).c_str());
      m_from_start = true;
    }
  }

  bool Waiting() const override { return m_waiting; }
  std::vector<std::string> Errors() const override { return m_errors; }

  void Draw(const ViewContext& v, PanelOutput& out) override {
    m_waiting = false;
    m_errors.clear();
    if (!HasEpochToShow(v)) return;
    const families::RunInfo& run = *v.run;
    const std::string run_key = run.dir.string();
    if (run_key != m_run) {
      if (!m_run.empty()) m_from_start = false;  // the shot's selection is for the run it opens
      if (!m_from_start) m_heads.clear(), m_freqs.clear(), m_neurons.clear(), m_neuron_text[0] = 0;
      m_run = run_key;
      m_shared = std::make_shared<AblShared>();
      m_shown_valid = false;
    }
    std::string why;
    if (!families::ModAddAblationApplies(run, &why)) {
      EmptyState(("Ablation covers the 1-layer modular-addition model; this run cannot be ablated: " + why).c_str());
      return;
    }
    const nlohmann::json* findings = m_findings.Get(run.dir);
    DrawControls(v, findings);

    families::ModAddAblation a;
    a.heads.assign(m_heads.begin(), m_heads.end());
    a.neurons = m_neurons;
    a.freqs.assign(m_freqs.begin(), m_freqs.end());
    std::string invalid;
    try {
      families::CheckAblation(run, a);
    } catch (const std::exception& e) {
      invalid = e.what();
    }
    if (!invalid.empty()) {
      ErrorText(invalid);
      if (m_from_start) m_errors.push_back(invalid);  // shot --ablate with an index out of range
      return;
    }
    a = a.Normalised();
    Requests& r = *v.requests;
    const std::string akey = a.Key();

    // The selected epoch: from the curve when it has it, else its own job.
    const FileSig sig = Signature(io::RunPaths{run.dir}.Checkpoint(v.epoch));
    const std::string ekey = run_key + "|" + std::to_string(v.epoch) + "|" + std::to_string(sig.mtime_ns) + "|" +
                             std::to_string(sig.inode) + "|" + akey;
    const std::string ckey = run_key + "|" + akey;
    const families::ModAddAblationResult* now = nullptr;
    families::ModAddAblationResult from_curve;
    std::string epoch_error, curve_error;
    bool epoch_pending = false, curve_inflight = false;
    size_t curve_done = 0;
    {
      AblShared& s = *m_shared;
      std::lock_guard<std::mutex> lock(s.mu);
      if (s.curve_key == ckey && s.curve.count(v.epoch) && s.clean.count(v.epoch))
        from_curve = {v.epoch, s.clean.at(v.epoch), s.curve.at(v.epoch)}, now = &from_curve;
      if (!now)
        for (const auto& [k, val] : s.epoch_values)
          if (k == ekey) now = &val;
      if (now) {
        m_shown = *now, m_shown_valid = true, m_shown_key = akey;
      } else if (s.epoch_key == ekey && (s.epoch_inflight || !s.epoch_error.empty())) {
        epoch_pending = s.epoch_inflight;
        epoch_error = s.epoch_error;
      } else {  // a new key (or its result was dropped from the few kept)
        SubmitEpoch(r, v.run, v.epoch, a, ekey, ckey);
        epoch_pending = true;
      }
      // Over training: only when something is turned off (the clean curve is metrics.csv's).
      if (!a.empty()) {
        if (s.curve_key != ckey) {
          s.curve_key = ckey, s.curve.clear(), s.curve_error.clear(), s.curve_inflight = false;
          r.jobs().CancelSlot(kAblCurveSlot);
        }
        std::vector<int> missing;
        for (int e : v.epochs)
          if (!s.curve.count(e) || !s.clean.count(e)) missing.push_back(e);
        if (!missing.empty() && !s.curve_inflight && s.curve_error.empty()) SubmitCurveChunk(r, v.run, a, ckey, v.epochs, missing);
        curve_inflight = s.curve_inflight;
        curve_error = s.curve_error;
        curve_done = v.epochs.size() - missing.size();
        BuildCurve(s, v.epochs);
      }
    }
    if (!epoch_error.empty()) m_errors.push_back(epoch_error);
    if (!curve_error.empty()) m_errors.push_back(curve_error);
    const bool curve_complete = a.empty() || curve_done >= v.epochs.size();
    m_waiting = (epoch_pending && epoch_error.empty()) || (!curve_complete && curve_error.empty());

    DrawTable(v, a, epoch_pending, epoch_error);
    if (!a.empty() && !curve_complete && curve_error.empty()) {
      char text[160];
      std::snprintf(text, sizeof text, "over training: %zu / %zu checkpoints%s", curve_done, v.epochs.size(),
                    curve_inflight ? "" : " (waiting for the lane)");
      ImGui::ProgressBar(v.epochs.empty() ? 0.f : float(curve_done) / float(v.epochs.size()),
                         ImVec2(ImGui::CalcTextSize(text).x + ImGui::GetFontSize() * 2, 0), text);
      if (ImGui::IsItemHovered())
        ImGui::SetTooltip("Every checkpoint with the same ablation, a few at a time at low priority,\n"
                          "coarse to fine: the curves below take shape first and fill in.");
    }
    if (!curve_error.empty()) ErrorText("over training: " + curve_error);
    DrawCurves(v, a, out);
  }

 private:
  // [SECTION] controls: heads, key frequencies, neurons
  void DrawControls(const ViewContext& v, const nlohmann::json* findings) {
    const families::RunInfo& run = *v.run;
    ImGui::AlignTextToFramePadding();
    ImGui::Text("Turn off at epoch %d:", v.epoch);
    ImGui::SameLine();
    if (ImGui::SmallButton("clear all")) m_heads.clear(), m_freqs.clear(), m_neurons.clear(), m_neuron_text[0] = 0;
    if (ImGui::IsItemHovered()) ImGui::SetTooltip("Turn everything back on (the clean model).");

    // Heads, with the frequency each one locked onto (summary.json).
    ImGui::AlignTextToFramePadding();
    ImGui::TextUnformatted("heads");
    if (ImGui::IsItemHovered())
      ImGui::SetTooltip("Zero ablation at hook_z (TransformerLens): the head's output before W_O is set to 0\n"
                        "at every position, so it adds nothing to the residual stream.");
    for (int h = 0; h < run.model.n_heads; ++h) {
      ImGui::SameLine();
      std::string label = run.HeadLabel(h);
      int freq = -1;
      if (findings && findings->contains("heads") && (*findings)["heads"].is_array() &&
          h < int((*findings)["heads"].size())) {
        const auto& hj = (*findings)["heads"][size_t(h)];
        if (hj.contains("final_dominant_freq") && hj["final_dominant_freq"].is_number_integer())
          freq = hj["final_dominant_freq"].get<int>();
      }
      if (freq > 0) label += " (k " + std::to_string(freq) + ")";
      bool on = m_heads.count(h) > 0;
      if (ImGui::Checkbox((label + "##abl_head").c_str(), &on)) on ? (void)m_heads.insert(h) : (void)m_heads.erase(h);
      if (ImGui::IsItemHovered())
        ImGui::SetTooltip("Turn off %s%s: its hook_z set to 0.", run.HeadLabel(h).c_str(),
                          freq > 0 ? (" (its attention's dominant frequency at the last checkpoint: k = " +
                                      std::to_string(freq) + ")").c_str()
                                   : "");
    }

    // Key frequencies as toggles; other frequencies as chips.
    std::vector<int> keys;
    if (findings && findings->contains("key_frequencies") && (*findings)["key_frequencies"].is_array())
      for (const auto& k : (*findings)["key_frequencies"])
        if (k.is_number_integer()) keys.push_back(k.get<int>());
    ImGui::AlignTextToFramePadding();
    ImGui::TextUnformatted("key frequencies");
    const std::string freq_tip =
        "Removes frequency k from the neuron activations at the last position: each neuron's components\n"
        "along cos(2 pi k (a+b) / p) and sin(2 pi k (a+b) / p) over the p*p pairs, the directions the\n"
        "progress measures remove from the logits for the excluded loss.";
    if (ImGui::IsItemHovered()) ImGui::SetTooltip("%s", freq_tip.c_str());
    if (keys.empty()) {
      ImGui::SameLine();
      ImGui::TextDisabled("(none found yet: \"Analyze all\" finds them; any k can be added)");
    }
    for (int k : keys) {
      ImGui::SameLine();
      bool on = m_freqs.count(k) > 0;
      if (ImGui::Checkbox(("k " + std::to_string(k) + "##abl_key").c_str(), &on))
        on ? (void)m_freqs.insert(k) : (void)m_freqs.erase(k);
      if (ImGui::IsItemHovered())
        ImGui::SetTooltip("Key frequency %d (>= 1%% of neurons explained > 85%% by it at the last checkpoint).\n%s", k,
                          freq_tip.c_str());
    }
    for (auto it = m_freqs.begin(); it != m_freqs.end();) {  // chips: frequencies that are not key ones
      if (std::find(keys.begin(), keys.end(), *it) != keys.end()) {
        ++it;
        continue;
      }
      ImGui::SameLine();
      const bool remove = ImGui::SmallButton(("k " + std::to_string(*it) + " x##abl_chip").c_str());
      if (ImGui::IsItemHovered()) ImGui::SetTooltip("Frequency %d is removed; click to put it back.", *it);
      it = remove ? m_freqs.erase(it) : std::next(it);
    }
    ImGui::SameLine();
    ImGui::SetNextItemWidth(ImGui::GetFontSize() * 6);
    if (ImGui::InputTextWithHint("##abl_addfreq", "add k", m_freq_text, sizeof m_freq_text,
                                 ImGuiInputTextFlags_EnterReturnsTrue)) {
      std::vector<int> ks;
      if (AblParseList(m_freq_text, &ks, &m_freq_error)) {
        m_freq_error.clear();
        for (int k : ks) {
          if (k < 1 || k > run.n_freq()) m_freq_error = "no frequency " + std::to_string(k) + ": k is 1-" + std::to_string(run.n_freq());
          else m_freqs.insert(k);
        }
        if (m_freq_error.empty()) m_freq_text[0] = 0;
      }
    }
    if (ImGui::IsItemHovered())
      ImGui::SetTooltip("Any frequency k in 1-%d (Enter adds it).\n%s", run.n_freq(), freq_tip.c_str());
    if (!m_freq_error.empty()) {
      ImGui::SameLine();
      ImGui::TextColored(ImVec4(0.75f, 0.1f, 0.05f, 1), "%s", m_freq_error.c_str());
    }

    // Neurons: a list, applied on Enter or when the box loses focus.
    ImGui::AlignTextToFramePadding();
    ImGui::TextUnformatted("neurons");
    ImGui::SameLine();
    ImGui::SetNextItemWidth(ImGui::GetFontSize() * 18);
    ImGui::InputTextWithHint("##abl_neurons", "e.g. 12, 400 (Enter applies)", m_neuron_text, sizeof m_neuron_text);
    const bool commit = ImGui::IsItemDeactivatedAfterEdit();
    if (ImGui::IsItemHovered())
      ImGui::SetTooltip("MLP neurons 0-%d, comma-separated. Zero ablation at hook_post: the neuron's\n"
                        "activation is set to 0, so it writes nothing through W_out.",
                        run.model.d_mlp - 1);
    if (commit) {
      std::vector<int> ns;
      if (!AblParseList(m_neuron_text, &ns, &m_neuron_error)) {
      } else {
        m_neuron_error.clear();
        for (int n : ns)
          if (n >= run.model.d_mlp)
            m_neuron_error = "no neuron " + std::to_string(n) + ": this model has neurons 0-" + std::to_string(run.model.d_mlp - 1);
        if (m_neuron_error.empty()) m_neurons = ns;
      }
    }
    if (!m_neuron_error.empty()) {
      ImGui::SameLine();
      ImGui::TextColored(ImVec4(0.75f, 0.1f, 0.05f, 1), "%s (not applied)", m_neuron_error.c_str());
    } else if (!m_neurons.empty()) {
      ImGui::SameLine();
      ImGui::TextDisabled("%zu neuron%s off", m_neurons.size(), m_neurons.size() == 1 ? "" : "s");
    }
  }

  // [SECTION] the selected epoch: train/test loss and accuracy, clean and ablated
  void DrawTable(const ViewContext& v, const families::ModAddAblation& a, bool pending, const std::string& error) {
    ImGui::Separator();
    if (!error.empty()) ErrorText(error);
    const bool have = m_shown_valid;
    const bool stale = have && (m_shown.epoch != v.epoch || m_shown_key != a.Key());
    if (!have) {
      ImGui::TextDisabled(pending ? "computing epoch %d..." : "no result for epoch %d", v.epoch);
      return;
    }
    if (a.empty())
      ImGui::Text("Epoch %d, nothing turned off%s", m_shown.epoch, stale ? "   (updating...)" : "");
    else
      ImGui::Text("Epoch %d, turned off: %s%s", m_shown.epoch, a.Describe().c_str(), stale ? "   (updating...)" : "");
    const ImGuiTableFlags flags = ImGuiTableFlags_Borders | ImGuiTableFlags_RowBg | ImGuiTableFlags_SizingFixedFit |
                                  ImGuiTableFlags_NoHostExtendX;
    if (!ImGui::BeginTable("##abl_table", 5, flags)) return;
    ImGui::TableSetupColumn("");
    for (const char* c : {"train loss", "test loss", "train accuracy", "test accuracy"}) ImGui::TableSetupColumn(c);
    ImGui::TableHeadersRow();
    if (stale) ImGui::PushStyleColor(ImGuiCol_Text, ImGui::GetStyleColorVec4(ImGuiCol_TextDisabled));
    auto row = [](const char* name, const families::ModAddScores& s, const char* tip) {
      ImGui::TableNextRow();
      ImGui::TableNextColumn();
      ImGui::TextUnformatted(name);
      if (ImGui::IsItemHovered()) ImGui::SetTooltip("%s", tip);
      for (double x : {s.train_loss, s.test_loss}) ImGui::TableNextColumn(), ImGui::Text("%.4g", x);
      for (double x : {s.train_acc, s.test_acc}) ImGui::TableNextColumn(), ImGui::Text("%.2f%%", 100 * x);
    };
    const std::string chance = "chance: loss ln p = " + std::to_string(std::log(double(v.run->p))).substr(0, 4) +
                               ", accuracy 1/p = " + std::to_string(100.0 / v.run->p).substr(0, 4) + "%";
    row("clean", m_shown.clean, ("The model as trained. Loss: mean cross-entropy (nats) at the last position; " + chance).c_str());
    if (!a.empty()) {
      row("ablated", m_shown.ablated, ("With the above turned off; " + chance).c_str());
      ImGui::TableNextRow();
      ImGui::TableNextColumn();
      ImGui::TextUnformatted("change");
      const auto& c = m_shown.clean;
      const auto& b = m_shown.ablated;
      for (double x : {b.train_loss - c.train_loss, b.test_loss - c.test_loss}) ImGui::TableNextColumn(), ImGui::Text("%+.4g", x);
      for (double x : {b.train_acc - c.train_acc, b.test_acc - c.test_acc})
        ImGui::TableNextColumn(), ImGui::Text("%+.2f pts", 100 * x);
    }
    if (stale) ImGui::PopStyleColor();
    ImGui::EndTable();
  }

  // [SECTION] over training
  void BuildCurve(const AblShared& s, const std::vector<int>& epochs) {
    m_x.clear(), m_clean_acc.clear(), m_abl_acc.clear(), m_clean_loss.clear(), m_abl_loss.clear();
    for (const auto& [e, abl] : s.curve) {
      auto c = s.clean.find(e);
      if (c == s.clean.end() || !std::binary_search(epochs.begin(), epochs.end(), e)) continue;
      m_x.push_back(float(e));
      m_clean_acc.push_back(float(c->second.test_acc));
      m_abl_acc.push_back(float(abl.test_acc));
      m_clean_loss.push_back(float(std::max(c->second.test_loss, 1e-12)));
      m_abl_loss.push_back(float(std::max(abl.test_loss, 1e-12)));
    }
  }

  void DrawCurves(const ViewContext& v, const families::ModAddAblation& a, PanelOutput& out) {
    const float avail = ImGui::GetContentRegionAvail().y;
    if (avail < 60) return;
    const float half = std::max(110.0f, (avail - 2 * ImGui::GetStyle().ItemSpacing.y - ImGui::GetTextLineHeight()) * 0.5f);
    widgets::LinePlotSpec spec;
    spec.x_label = "epoch (click: go to this checkpoint)";
    spec.marker_x = float(v.epoch);
    char grok[64];
    std::snprintf(grok, sizeof grok, "grokked @ %d", v.grok_epoch);
    spec.marker2_x = v.grok_epoch >= 0 ? float(v.grok_epoch) : NAN;
    spec.marker2_label = grok;
    spec.size = ImVec2(-1, half);
    float clicked = NAN;
    if (a.empty()) {
      // Nothing turned off: the clean curve from metrics.csv, and what to do.
      ImGui::TextDisabled("Turn off a head, a key frequency or neurons above to see which checkpoints the ablation breaks.");
      const MetricsData empty;
      const MetricsData& m = v.metrics ? *v.metrics : empty;
      widgets::LineSeries s[] = {{"clean test accuracy (metrics.csv)", m.test_epoch.data(), m.test_acc.data(),
                                  int(m.test_epoch.size()), widgets::PaletteColor(0)}};
      spec.y_label = "test accuracy";
      spec.y_min = 0, spec.y_max = 1;
      if (widgets::LinePlot("##abl_acc", s, 1, spec, &clicked)) out.jump_to_epoch = int(clicked);
      return;
    }
    ImGui::TextDisabled("Over training: the same ablation at every checkpoint. Which checkpoints does it break?");
    const int n = int(m_x.size());
    const ImU32 clean_col = widgets::PaletteColor(0), abl_col = widgets::PaletteColor(5);
    widgets::LineSeries acc[] = {{"clean", m_x.data(), m_clean_acc.data(), n, clean_col, n < 40},
                                 {"ablated", m_x.data(), m_abl_acc.data(), n, abl_col, n < 40}};
    spec.y_label = "test accuracy";
    spec.y_min = 0, spec.y_max = 1;
    if (widgets::LinePlot("##abl_acc", acc, 2, spec, &clicked)) out.jump_to_epoch = int(clicked);
    widgets::LineSeries loss[] = {{"clean", m_x.data(), m_clean_loss.data(), n, clean_col, n < 40},
                                  {"ablated", m_x.data(), m_abl_loss.data(), n, abl_col, n < 40}};
    spec.y_label = "test loss (nats, log scale)";
    spec.y_min = spec.y_max = NAN;
    spec.log_y = true;
    if (widgets::LinePlot("##abl_loss", loss, 2, spec, &clicked)) out.jump_to_epoch = int(clicked);
  }

  // [SECTION] jobs
  // The selected epoch, clean and ablated (also one point of the curve).
  void SubmitEpoch(Requests& r, const families::RunInfoPtr& info, int epoch, const families::ModAddAblation& a,
                   const std::string& key, const std::string& curve_key) {
    AblShared& s = *m_shared;  // the caller holds s.mu
    s.epoch_key = key, s.epoch_inflight = true, s.epoch_error.clear();
    auto sh = m_shared;
    r.jobs().Submit(kAblEpochSlot, jobs::Lane::Model, [sh, info, epoch, a, key, curve_key](const jobs::CancelToken&) {
      std::string error;
      families::ModAddAblationResult res;
      try {
        res = families::AblateCheckpoint(*info, epoch, a);
      } catch (const std::exception& e) {
        error = e.what();
      }
      std::lock_guard<std::mutex> lock(sh->mu);
      if (error.empty()) {
        sh->epoch_values.emplace_back(key, res);
        while (sh->epoch_values.size() > 64) sh->epoch_values.pop_front();
        sh->clean[epoch] = res.clean;
        if (sh->curve_key == curve_key) sh->curve[epoch] = res.ablated;
      }
      if (sh->epoch_key == key) sh->epoch_inflight = false, sh->epoch_error = error;
    });
  }

  // The next few missing checkpoints (`missing`, ascending, of `epochs`):
  // the last and the first (the plot's range), then every 16th checkpoint,
  // every 8th, ... so the curve's shape appears early. One short job (a few checkpoints), so other panels' requests get
  // the lane in between; the panel submits the next one when it is done.
  void SubmitCurveChunk(Requests& r, const families::RunInfoPtr& info, const families::ModAddAblation& a,
                        const std::string& key, const std::vector<int>& epochs, const std::vector<int>& missing) {
    AblShared& s = *m_shared;  // the caller holds s.mu
    std::vector<int> order = {epochs.back(), epochs.front()};  // strides over all checkpoints, not the missing ones
    for (int stride = 16; stride >= 1; stride /= 2)
      for (size_t i = 0; i < epochs.size(); i += size_t(stride)) order.push_back(epochs[i]);
    std::vector<int> chunk;
    for (int e : order)
      if (chunk.size() < kAblChunk && std::binary_search(missing.begin(), missing.end(), e) &&
          std::find(chunk.begin(), chunk.end(), e) == chunk.end())
        chunk.push_back(e);
    bool with_clean = false;
    for (int e : chunk) with_clean = with_clean || !s.clean.count(e);
    s.curve_inflight = true;
    auto sh = m_shared;
    r.jobs().Submit(kAblCurveSlot, jobs::Lane::Model, [sh, info, a, key, chunk, with_clean](const jobs::CancelToken& token) {
      std::string error;
      families::ModAddAblationCurve c;
      try {
        c = families::AblateOverTraining(
            *info, a, chunk, [&token](int, int, int) { return !token.cancelled(); }, with_clean);
      } catch (const jobs::Cancelled&) {
        return;  // a newer selection took the slot; its own state is set
      } catch (const std::exception& e) {
        error = e.what();
      }
      std::lock_guard<std::mutex> lock(sh->mu);
      if (sh->curve_key != key) return;
      for (size_t i = 0; i < c.epochs.size(); ++i) {
        sh->curve[c.epochs[i]] = c.ablated[i];
        if (with_clean) sh->clean[c.epochs[i]] = c.clean[i];
      }
      sh->curve_inflight = false, sh->curve_error = error;
    });
  }

  std::string m_run;
  bool m_from_start = false;
  std::set<int> m_heads, m_freqs;
  std::vector<int> m_neurons;
  char m_neuron_text[512] = {};
  char m_freq_text[64] = {};
  std::string m_neuron_error, m_freq_error;
  std::shared_ptr<AblShared> m_shared = std::make_shared<AblShared>();
  families::ModAddAblationResult m_shown;  // the last result drawn (kept while the next loads)
  std::string m_shown_key;
  bool m_shown_valid = false;
  std::vector<float> m_x, m_clean_acc, m_abl_acc, m_clean_loss, m_abl_loss;
  FindingsFile m_findings;
  bool m_waiting = false;
  std::vector<std::string> m_errors;
};

const bool kAblationPanelRegistered =
    RegisterPanel({"ablation", "Ablation: turn off heads, neurons or key frequencies", WorkspaceKind::Grokking,
                   "Ablation", 45, 0, 1.0f, true, [] { return std::make_unique<AblationPanel>(); }});
}  // namespace

bool SetAblationPanelStart(const std::string& spec, std::string* error) {
  AblStart s;
  std::set<std::string> seen;
  size_t pos = 0;
  while (pos < spec.size()) {
    size_t end = spec.find(';', pos);
    if (end == std::string::npos) end = spec.size();
    const std::string part = spec.substr(pos, end - pos);
    pos = end + 1;
    if (part.empty()) continue;
    const size_t eq = part.find('=');
    const std::string key = part.substr(0, eq);
    std::vector<int>* list = key == "heads" ? &s.heads : key == "neurons" ? &s.neurons : key == "freqs" ? &s.freqs : nullptr;
    if (eq == std::string::npos || !list) {
      *error = "'" + part + "' is not heads=H,.. neurons=N,.. or freqs=k,.. (e.g. heads=0,2;freqs=14)";
      return false;
    }
    if (!seen.insert(key).second) {
      *error = key + " is given twice";
      return false;
    }
    std::string e;
    if (!AblParseList(part.substr(eq + 1), list, &e)) {
      *error = key + ": " + e;
      return false;
    }
  }
  s.set = true;
  AblStartSpec() = s;
  return true;
}

}  // namespace hs::app
