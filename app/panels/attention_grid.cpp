// The attention head grid (see attention_grid.h).
#include "attention_grid.h"

#include <imgui.h>

#include <cstdio>
#include <vector>

#include "heatmap.h"

namespace hs::app {

bool PairSelector(const families::RunInfo& run, int* query_pos, int* key_pos) {
  bool changed = false;
  const int n = run.model.n_ctx;
  ImGui::SetNextItemWidth(ImGui::GetFontSize() * 14);
  if (ImGui::BeginCombo("position pair", run.PairLabel(*query_pos, *key_pos).c_str())) {
    for (int q = n - 1; q >= 0; --q)
      for (int k = 0; k <= q; ++k)
        if (ImGui::Selectable(run.PairLabel(q, k).c_str(), q == *query_pos && k == *key_pos)) {
          changed = q != *query_pos || k != *key_pos;
          *query_pos = q, *key_pos = k;
        }
    ImGui::EndCombo();
  }
  if (ImGui::IsItemHovered())
    ImGui::SetTooltip("Which attention weight to show: the query position attending to the key position.\n"
                      "Each grid cell is one input (a, b); the colour is that head's attention weight.");
  return changed;
}

void AttentionGrid::Draw(const ViewContext& v) {
  m_status.Reset();
  if (!HasEpochToShow(v)) return;
  const families::RunInfo& run = *v.run;
  if (!run.ValidPair(v.query_pos, v.key_pos)) {
    m_status.errors.push_back("position pair " + std::to_string(v.query_pos) + "," + std::to_string(v.key_pos) +
                              " is not a causal pair of this run");
    ErrorText(m_status.errors.back());
    return;
  }
  const io::NpzArchive* a = m_patterns.Fetch(v, m_status);
  const int units = run.n_head_units(), n_ctx = run.model.n_ctx;
  const int64_t grid = int64_t(run.p) * run.p;
  const float* data = a ? FloatData(*a, "patterns", int64_t(units) * n_ctx * n_ctx * grid) : nullptr;
  if (!data) {
    if (!m_patterns.failed()) EmptyState("Computing attention patterns for this checkpoint...");
    return;
  }
  std::vector<const float*> facets(units);
  std::vector<std::string> titles(units);
  std::vector<const char*> title_ptrs(units);
  for (int h = 0; h < units; ++h) {
    facets[h] = data + ((int64_t(h) * n_ctx + v.query_pos) * n_ctx + v.key_pos) * grid;
    titles[h] = run.HeadLabel(h);
    title_ptrs[h] = titles[h].c_str();
  }
  widgets::FacetSpec fs;
  fs.columns = units <= 4 ? 2 : units <= 9 ? 3 : 4;
  fs.titles = title_ptrs.data();
  fs.heatmap.vmin = 0;
  fs.heatmap.vmax = 1;
  fs.heatmap.value_label = "attention";
  fs.heatmap.x_label = "b";
  fs.heatmap.y_label = "a";
  fs.heatmap.stale = m_patterns.stale(v.epoch);
  fs.heatmap.version = uint64_t(m_patterns.epoch()) * 1000 + v.query_pos * 10 + v.key_pos;
  const int clicked = widgets::FacetGrid("##heads", facets.data(), units, run.p, run.p, fs);
  const std::string popup = "Head (large)##" + m_slot;
  if (clicked >= 0) {
    m_enlarged = clicked;
    ImGui::OpenPopup(popup.c_str());
  }
  const ImVec2 vp = ImGui::GetMainViewport()->WorkSize;
  ImGui::SetNextWindowSize(ImVec2(std::min(vp.x * 0.7f, vp.y * 0.9f), vp.y * 0.85f), ImGuiCond_Appearing);
  if (ImGui::BeginPopupModal(popup.c_str(), nullptr, ImGuiWindowFlags_NoSavedSettings)) {
    if (m_enlarged >= 0 && m_enlarged < units) {
      ImGui::Text("%s, %s, epoch %d", run.HeadLabel(m_enlarged).c_str(), run.PairLabel(v.query_pos, v.key_pos).c_str(),
                  m_patterns.epoch());
      ImGui::SameLine(ImGui::GetWindowWidth() - ImGui::GetFontSize() * 5);
      if (ImGui::Button("Close") || ImGui::IsKeyPressed(ImGuiKey_Escape)) ImGui::CloseCurrentPopup();
      widgets::HeatmapSpec hs = fs.heatmap;
      hs.x_label = "b (second operand)";
      hs.y_label = "a";
      hs.value_label = "attention weight";
      widgets::Heatmap("##large", facets[m_enlarged], run.p, run.p, hs);
    }
    ImGui::EndPopup();
  }
}

}  // namespace hs::app
