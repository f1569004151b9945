// Neurons: the frequency x neuron heatmap of variance fractions, and small
// multiples of neuron activation maps with paging and a filter by dominant
// frequency. Thresholds and the key-frequency rule come from
// library/frequency_stats.h, as in the summaries.
#include <imgui.h>

#include <algorithm>
#include <cstdio>

#include "heatmap.h"
#include "library/frequency_stats.h"
#include "panel.h"

namespace hs::app {
namespace {

class NeuronPanel : public StatusPanel {
 public:
  void Draw(const ViewContext& v, PanelOutput&) override {
    if (!BeginEpoch(v)) return;
    const families::RunInfo& run = *v.run;
    const io::NpzArchive* freq = m_freq.Fetch(v, m_status);
    const int n_freq = run.n_freq(), d_mlp = run.model.n_layers * run.model.d_mlp;
    const float* fm = freq ? FloatData(*freq, "freq_matrix", int64_t(n_freq) * d_mlp) : nullptr;
    if (!fm) {
      if (!m_freq.failed()) EmptyState("Computing neuron frequencies...");
      return;
    }
    const auto dom = library::DominantFrequencies(fm, n_freq, d_mlp);
    const auto per_freq = library::ExplainedPerFrequency(dom, n_freq);
    const auto key = library::KeyFrequencyMask(per_freq, d_mlp);
    int explained = 0;
    for (int c : per_freq) explained += c;
    ImGui::Text("%.1f%% of neurons have > %.0f%% of their variance in one frequency.", 100.0 * explained / d_mlp,
                100 * library::kExplainedThreshold);
    std::string keys;
    for (int k = 1; k <= n_freq; ++k)
      if (key[k - 1]) keys += (keys.empty() ? "" : ", ") + std::to_string(k) + " (" + std::to_string(per_freq[k - 1]) + ")";
    ImGui::TextWrapped("Key frequencies (neurons; a frequency is key when >= %.0f%% of neurons are explained by it): %s",
                       100 * library::kKeyFreqMinNeuronFrac, keys.empty() ? "none yet" : keys.c_str());

    const float avail_h = ImGui::GetContentRegionAvail().y;
    widgets::HeatmapSpec hs =
        FrequencyHeatmapSpec("Neuron variance fraction per frequency", "neuron", m_freq.epoch(), v.epoch);
    hs.size = ImVec2(-1, avail_h * 0.38f);
    widgets::Heatmap("##nfreq", fm, n_freq, d_mlp, hs);

    // Filter + paging.
    std::vector<int> shown;
    for (int n = 0; n < d_mlp; ++n)
      if (m_filter_k == 0 || dom[n].k == m_filter_k) shown.push_back(n);
    ImGui::SetNextItemWidth(ImGui::GetFontSize() * 12);
    const std::string cur = m_filter_k == 0 ? "all neurons" : "dominant k = " + std::to_string(m_filter_k);
    if (ImGui::BeginCombo("filter", cur.c_str())) {
      if (ImGui::Selectable("all neurons", m_filter_k == 0)) m_filter_k = 0, m_page = 0;
      for (int k = 1; k <= n_freq; ++k) {
        if (per_freq[k - 1] == 0) continue;
        const std::string l = "dominant k = " + std::to_string(k) + "  (" + std::to_string(per_freq[k - 1]) + " neurons > " +
                              std::to_string(library::kExplainedThreshold).substr(0, 4) + ")";
        if (ImGui::Selectable(l.c_str(), m_filter_k == k)) m_filter_k = k, m_page = 0;
      }
      ImGui::EndCombo();
    }
    if (ImGui::IsItemHovered()) ImGui::SetTooltip("Show only neurons whose strongest frequency is k");
    const int pages = std::max(1, int((shown.size() + kPerPage - 1) / kPerPage));
    m_page = std::clamp(m_page, 0, pages - 1);
    ImGui::SameLine();
    if (ImGui::ArrowButton("##prev", ImGuiDir_Left)) m_page = std::max(0, m_page - 1);
    ImGui::SameLine();
    ImGui::Text("page %d / %d  (%zu neurons)", m_page + 1, pages, shown.size());
    ImGui::SameLine();
    if (ImGui::ArrowButton("##next", ImGuiDir_Right)) m_page = std::min(pages - 1, m_page + 1);

    // Activation maps: computed from the checkpoint on demand (not stored).
    const io::NpzArchive* act = m_acts.Fetch(v, m_status);
    const int64_t grid = int64_t(run.p) * run.p;
    const float* acts = act ? FloatData(*act, "activations", int64_t(d_mlp) * grid) : nullptr;
    if (!acts) {
      if (!m_acts.failed()) EmptyState("Computing neuron activations from the checkpoint...");
      return;
    }
    std::vector<const float*> facets;
    std::vector<std::string> titles;
    for (int i = m_page * kPerPage; i < std::min<int>(int(shown.size()), (m_page + 1) * kPerPage); ++i) {
      const int n = shown[i];
      facets.push_back(acts + n * grid);
      char t[64];
      std::snprintf(t, sizeof t, "#%d k=%d (%.2f)", n, dom[n].k, dom[n].fraction);
      titles.push_back(t);
    }
    std::vector<const char*> tp;
    for (auto& t : titles) tp.push_back(t.c_str());
    widgets::FacetSpec fs;
    fs.columns = 8;
    fs.titles = tp.data();
    fs.heatmap.axis_ticks = false;
    fs.heatmap.value_label = "activation";
    fs.heatmap.x_label = nullptr;
    fs.heatmap.vmin = 0;
    fs.heatmap.version = uint64_t(m_acts.epoch()) * 100000 + m_page * 100 + m_filter_k;
    fs.heatmap.stale = m_acts.stale(v.epoch);
    widgets::FacetGrid("##neurons", facets.data(), int(facets.size()), run.p, run.p, fs);
  }

 private:
  static constexpr int kPerPage = 16;
  int m_page = 0;
  int m_filter_k = 0;  // 0: all neurons, else only neurons whose dominant frequency is k
  PanelArtifact m_freq{"neuron_freq", "neuron_freq_norm"}, m_acts{"neuron_acts", "neuron_activations"};
};

const bool kNeuronPanelRegistered = RegisterPanel({"neurons", "Neurons: frequencies and activation maps", WorkspaceKind::Grokking,
                                        "Neurons", 40, 0, 1.0f, true, [] { return std::make_unique<NeuronPanel>(); }});
}  // namespace
}  // namespace hs::app
