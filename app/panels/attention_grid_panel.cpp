// Attention head grid panel (see attention_grid_panel.h).
#include "panels/attention_grid_panel.h"

#include <imgui.h>

#include <cstdio>
#include <vector>

#include "heatmap.h"

namespace hs::app {

std::string AttentionGridPanel::PairLabel(const RunShape& s, int q, int k) {
  auto name = [&](int i) { return i < int(s.positions.size()) ? s.positions[i] : "pos " + std::to_string(i); };
  return name(q) + " attending to " + name(k) + (q == k ? " (itself)" : "");
}

void AttentionGridPanel::Draw(ViewContext& v) {
  const RunShape& s = v.shape;
  if (s.n_ctx == 0) return;
  if (query_pos < 0) query_pos = s.n_ctx - 1;
  // Position-pair selector: every causal pair, '=' pairs first.
  ImGui::SetNextItemWidth(ImGui::GetFontSize() * 14);
  if (ImGui::BeginCombo("position pair", PairLabel(s, query_pos, key_pos).c_str())) {
    for (int q = s.n_ctx - 1; q >= 0; --q)
      for (int k = 0; k <= q; ++k)
        if (ImGui::Selectable(PairLabel(s, q, k).c_str(), q == query_pos && k == key_pos)) query_pos = q, key_pos = k;
    ImGui::EndCombo();
  }
  if (ImGui::IsItemHovered())
    ImGui::SetTooltip("Which attention weight to show: the query position attending to the key position.\n"
                      "Each grid cell is one input (a, b); the colour is that head's attention weight.");
  ImGui::SameLine();
  ImGui::TextDisabled("(rows: a, columns: b; click a head to enlarge)");

  if (v.epoch < 0) {
    EmptyState("No checkpoints yet. Start training from the bar above; heads appear with the first checkpoint.");
    return;
  }
  jobs::ArtifactPtr a = v.source->Request(slot, v.run, "attention_patterns", v.epoch);
  if (a) m_shown = a, m_shown_epoch = v.epoch;
  m_stale = !a;
  const std::string err = v.source->Error(v.run, "attention_patterns", v.epoch);
  if (!err.empty()) ImGui::TextColored(ImVec4(0.8f, 0.2f, 0.1f, 1), "%s", err.c_str());
  const int64_t grid = int64_t(s.p) * s.p;
  const float* data = m_shown ? FloatData(*m_shown, "patterns", int64_t(s.n_heads) * s.n_ctx * s.n_ctx * grid) : nullptr;
  if (!data) {
    EmptyState("Computing attention patterns for this checkpoint...");
    return;
  }
  std::vector<const float*> facets(s.n_heads);
  std::vector<std::string> titles(s.n_heads);
  std::vector<const char*> title_ptrs(s.n_heads);
  for (int h = 0; h < s.n_heads; ++h) {
    facets[h] = data + ((int64_t(h) * s.n_ctx + query_pos) * s.n_ctx + key_pos) * grid;
    titles[h] = "Head " + std::to_string(h);
    title_ptrs[h] = titles[h].c_str();
  }
  widgets::FacetSpec fs;
  fs.columns = s.n_heads <= 4 ? 2 : 4;
  fs.titles = title_ptrs.data();
  fs.heatmap.vmin = 0;
  fs.heatmap.vmax = 1;
  fs.heatmap.value_label = "attention";
  fs.heatmap.x_label = "b";
  fs.heatmap.y_label = "a";
  fs.heatmap.stale = m_stale && m_shown_epoch != v.epoch;
  fs.heatmap.version = uint64_t(m_shown_epoch) * 1000 + query_pos * 10 + key_pos;
  const int clicked = widgets::FacetGrid("##heads", facets.data(), s.n_heads, s.p, s.p, fs);
  if (clicked >= 0) {
    enlarged = clicked;
    ImGui::OpenPopup(("Head (large)##" + slot).c_str());
  }
  const ImVec2 vp = ImGui::GetMainViewport()->WorkSize;
  ImGui::SetNextWindowSize(ImVec2(std::min(vp.x * 0.7f, vp.y * 0.9f), vp.y * 0.85f), ImGuiCond_Appearing);
  if (ImGui::BeginPopupModal(("Head (large)##" + slot).c_str(), nullptr, ImGuiWindowFlags_NoSavedSettings)) {
    if (enlarged >= 0 && enlarged < s.n_heads) {
      ImGui::Text("Head %d, %s, epoch %d", enlarged, PairLabel(s, query_pos, key_pos).c_str(), m_shown_epoch);
      ImGui::SameLine(ImGui::GetWindowWidth() - ImGui::GetFontSize() * 5);
      if (ImGui::Button("Close") || ImGui::IsKeyPressed(ImGuiKey_Escape)) ImGui::CloseCurrentPopup();
      widgets::HeatmapSpec hs = fs.heatmap;
      hs.x_label = "b (second operand)";
      hs.y_label = "a";
      hs.value_label = "attention weight";
      widgets::Heatmap("##large", facets[enlarged], s.p, s.p, hs);
    }
    ImGui::EndPopup();
  }
}

}  // namespace hs::app
