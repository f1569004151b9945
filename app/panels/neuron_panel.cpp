// Neuron panel (see neuron_panel.h).
#include "panels/neuron_panel.h"

#include <imgui.h>

#include <algorithm>
#include <cstdio>
#include <map>

#include "heatmap.h"

namespace hs::app {

void NeuronPanel::Draw(ViewContext& v) {
  const RunShape& s = v.shape;
  if (v.epoch < 0) {
    EmptyState("No checkpoints yet.");
    return;
  }
  if (auto a = v.source->Request("neuron_freq", v.run, "neuron_freq_norm", v.epoch)) m_freq = a, m_freq_epoch = v.epoch;
  if (auto a = v.source->Request("neuron_acts", v.run, "neuron_activations", v.epoch)) m_acts = a, m_acts_epoch = v.epoch;
  const float* fm = m_freq ? FloatData(*m_freq, "freq_matrix", int64_t(s.n_freq) * s.d_mlp) : nullptr;
  if (!fm) {
    const std::string err = v.source->Error(v.run, "neuron_freq_norm", v.epoch);
    EmptyState(err.empty() ? "Computing neuron frequencies..." : err.c_str());
    return;
  }
  // Dominant frequency and its fraction per neuron.
  std::vector<int> dom(s.d_mlp);
  std::vector<float> best(s.d_mlp);
  std::map<int, int> count;  // k -> neurons explained > 0.85
  int explained = 0;
  for (int n = 0; n < s.d_mlp; ++n) {
    int b = 0;
    for (int k = 1; k < s.n_freq; ++k)
      if (fm[k * s.d_mlp + n] > fm[b * s.d_mlp + n]) b = k;
    dom[n] = b + 1;
    best[n] = fm[b * s.d_mlp + n];
    if (best[n] > 0.85f) ++count[dom[n]], ++explained;
  }
  ImGui::Text("%.1f%% of neurons have > 85%% of their variance in one frequency.", 100.0 * explained / s.d_mlp);
  std::string keys;
  for (auto& [k, c] : count)
    if (c >= std::max(1, s.d_mlp / 100)) keys += (keys.empty() ? "" : ", ") + std::to_string(k) + " (" + std::to_string(c) + ")";
  ImGui::TextWrapped("Key frequencies (neurons): %s", keys.empty() ? "none yet" : keys.c_str());

  const float avail_h = ImGui::GetContentRegionAvail().y;
  widgets::HeatmapSpec hs = FrequencyHeatmapSpec("Neuron variance fraction per frequency", "neuron", m_freq_epoch, v.epoch);
  hs.size = ImVec2(-1, avail_h * 0.38f);
  widgets::Heatmap("##nfreq", fm, s.n_freq, s.d_mlp, hs);

  // Filter + paging.
  std::vector<int> shown;
  for (int n = 0; n < s.d_mlp; ++n)
    if (filter_k == 0 || dom[n] == filter_k) shown.push_back(n);
  ImGui::SetNextItemWidth(ImGui::GetFontSize() * 12);
  std::string cur = filter_k == 0 ? "all neurons" : "dominant k = " + std::to_string(filter_k);
  if (ImGui::BeginCombo("filter", cur.c_str())) {
    if (ImGui::Selectable("all neurons", filter_k == 0)) filter_k = 0, page = 0;
    for (auto& [k, c] : count) {
      const std::string l = "dominant k = " + std::to_string(k) + "  (" + std::to_string(c) + " neurons > 0.85)";
      if (ImGui::Selectable(l.c_str(), filter_k == k)) filter_k = k, page = 0;
    }
    ImGui::EndCombo();
  }
  if (ImGui::IsItemHovered()) ImGui::SetTooltip("Show only neurons whose strongest frequency is k");
  const int pages = std::max(1, int((shown.size() + per_page - 1) / per_page));
  page = std::clamp(page, 0, pages - 1);
  ImGui::SameLine();
  if (ImGui::ArrowButton("##prev", ImGuiDir_Left)) page = std::max(0, page - 1);
  ImGui::SameLine();
  ImGui::Text("page %d / %d  (%zu neurons)", page + 1, pages, shown.size());
  ImGui::SameLine();
  if (ImGui::ArrowButton("##next", ImGuiDir_Right)) page = std::min(pages - 1, page + 1);

  const int64_t grid = int64_t(s.p) * s.p;
  const float* acts = m_acts ? FloatData(*m_acts, "activations", int64_t(s.d_mlp) * grid) : nullptr;
  if (!acts) {
    EmptyState("Computing neuron activations...");
    return;
  }
  std::vector<const float*> facets;
  std::vector<std::string> titles;
  for (int i = page * per_page; i < std::min<int>(int(shown.size()), (page + 1) * per_page); ++i) {
    const int n = shown[i];
    facets.push_back(acts + n * grid);
    char t[64];
    std::snprintf(t, sizeof t, "#%d k=%d (%.2f)", n, dom[n], best[n]);
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
  fs.heatmap.version = uint64_t(m_acts_epoch) * 100000 + page * 100 + filter_k;
  fs.heatmap.stale = m_acts_epoch != v.epoch;
  widgets::FacetGrid("##neurons", facets.data(), int(facets.size()), s.p, s.p, fs);
}

}  // namespace hs::app
