// Compare panel (see compare_panel.h).
#include "panels/compare_panel.h"

#include <imgui.h>

#include <algorithm>

namespace hs::app {

void ComparePanel::Draw(ViewContext& a, const std::vector<std::filesystem::path>& runs) {
  if (!m_init) {
    m_grid_a.slot = "compare_a";
    m_grid_b.slot = "compare_b";
    m_init = true;
    for (const auto& r : runs)  // default partner: the first other run of the same p
      if (r != a.run) {
        m_b.Open(r);
        if (m_b.valid && m_b.cfg.p == a.shape.p) break;
      }
  }
  ImGui::SetNextItemWidth(ImGui::GetFontSize() * 22);
  if (ImGui::BeginCombo("compare with", m_b.dir.empty() ? "(choose a run)" : m_b.dir.string().c_str())) {
    for (const auto& r : runs)
      if (r != a.run && ImGui::Selectable(r.string().c_str(), r == m_b.dir)) m_b.Open(r);
    ImGui::EndCombo();
  }
  if (ImGui::IsItemHovered()) ImGui::SetTooltip("The second run is shown at the checkpoint nearest the shared epoch.");
  if (!m_b.valid) {
    EmptyState(runs.size() < 2 ? "Only one run exists. Train a variant to compare, e.g.\n"
                                 "headscope train --weight-decay 0 --epochs 8000   (memorises, never groks)"
                               : "Choose a second run above.");
    return;
  }
  m_b.Refresh();
  m_loss_b.Refresh(m_b.dir);
  ViewContext b = a;
  b.run = m_b.dir;
  b.shape = m_b.shape;
  b.epochs = m_b.epochs;
  b.grok_epoch = m_loss_b.GrokEpoch();
  b.epoch = -1;
  if (!m_b.epochs.empty() && a.epoch >= 0) {  // nearest checkpoint at or before the shared epoch
    auto it = std::upper_bound(m_b.epochs.begin(), m_b.epochs.end(), a.epoch);
    b.epoch = it == m_b.epochs.begin() ? m_b.epochs.front() : *std::prev(it);
  }
  m_grid_b.query_pos = m_grid_a.query_pos;
  m_grid_b.key_pos = m_grid_a.key_pos;
  const float w = ImGui::GetContentRegionAvail().x * 0.5f - 4;
  auto column = [&](const char* id, ViewContext& v, AttentionGridPanel& grid) {
    ImGui::BeginChild(id, ImVec2(w, 0), true);
    ImGui::Text("%s", v.run.filename().string().c_str());
    ImGui::SameLine();
    if (v.grok_epoch >= 0)
      ImGui::TextColored(ImVec4(0, 0.55f, 0.35f, 1), "groks at epoch %d", v.grok_epoch);
    else
      ImGui::TextDisabled("has not grokked (test accuracy never above 0.9)");
    ImGui::Text("showing epoch %d", v.epoch);
    grid.Draw(v);
    ImGui::EndChild();
  };
  column("##a", a, m_grid_a);
  ImGui::SameLine();
  column("##b", b, m_grid_b);
}

}  // namespace hs::app
