// The workspace base: its panels in tabs, frames with export buttons (see workspace.h).
#include "workspace.h"

#include <algorithm>
#include <filesystem>

namespace hs::app {
namespace fs = std::filesystem;

void DrawPanelFrame(const PanelDef& def, Panel& panel, const ViewContext& v, PanelOutput& out, ImVec2 size,
                    ExportQueue& exports, bool export_button) {
  ImGui::BeginChild(("##panel_" + def.name).c_str(), size, true);
  const std::string title = panel.Title(v);
  ImGui::TextUnformatted(title.empty() ? def.title.c_str() : title.c_str());
  if (def.exportable && export_button) {
    const float w = ImGui::CalcTextSize("PNG").x + ImGui::GetStyle().FramePadding.x * 2;
    ImGui::SameLine(std::max(ImGui::GetCursorPosX(), ImGui::GetWindowContentRegionMax().x - w));
    if (ImGui::SmallButton(("PNG##" + def.name).c_str())) {
      std::error_code ec;
      fs::create_directories("exports", ec);
      const std::string path = "exports/" + def.name + "_epoch_" + std::to_string(v.epoch) + ".png";
      const ImVec2 pos = ImGui::GetWindowPos(), sz = ImGui::GetWindowSize();
      exports.requests.push_back({path, pos, ImVec2(pos.x + sz.x, pos.y + sz.y)});
      exports.status = "saved " + fs::absolute(path).string();
    }
    if (ImGui::IsItemHovered())
      ImGui::SetTooltip("Export this panel to exports/%s_epoch_%d.png", def.name.c_str(), v.epoch);
  }
  panel.Draw(v, out);
  ImGui::EndChild();
}

void TextProgressBar(float fraction, const char* text) {
  const float w = ImGui::CalcTextSize(text).x + ImGui::GetStyle().FramePadding.x * 4;
  ImGui::ProgressBar(std::clamp(fraction, 0.0f, 1.0f), ImVec2(w, 0), text);
}

Workspace::Workspace(WorkspaceKind kind) : m_kind(kind) {
  for (const auto& def : PanelRegistry())
    if (def.workspace == kind) m_panels[def.name] = def.make();
}

void Workspace::Draw(ExportQueue& exports) {
  m_drawn.clear();
  DrawBars();
  if (!exports.status.empty()) ImGui::TextDisabled("%s", exports.status.c_str());
  ImGui::Separator();
  const ViewContext v = Context();
  PanelOutput out;
  // Tabs in the order of their first panel; in a tab, a left and an
  // optional right column with the panels' height fractions.
  std::vector<std::string> tabs;
  for (const auto& def : PanelRegistry())
    if (def.workspace == m_kind && std::find(tabs.begin(), tabs.end(), def.tab) == tabs.end()) tabs.push_back(def.tab);
  if (ImGui::BeginTabBar("##tabs")) {
    for (const auto& tab : tabs) {
      if (!ImGui::BeginTabItem(tab.c_str())) continue;
      std::vector<const PanelDef*> cols[2];
      for (const auto& def : PanelRegistry())
        if (def.workspace == m_kind && def.tab == tab) cols[def.column == 1 ? 1 : 0].push_back(&def);
      const ImVec2 avail = ImGui::GetContentRegionAvail();
      const bool two = !cols[1].empty();
      for (int c = 0; c < 2; ++c) {
        if (cols[c].empty()) continue;
        if (c == 1) ImGui::SameLine();
        ImGui::BeginChild(c == 0 ? "##col0" : "##col1", ImVec2(two && c == 0 ? avail.x * 0.5f : 0, 0), false);
        const float h = ImGui::GetContentRegionAvail().y;
        for (size_t i = 0; i < cols[c].size(); ++i) {
          const PanelDef& def = *cols[c][i];
          const bool last = i + 1 == cols[c].size();
          DrawPanelFrame(def, *m_panels.at(def.name), v, out, ImVec2(0, last ? 0 : h * def.height), exports);
          m_drawn.push_back(def.name);
        }
        ImGui::EndChild();
      }
      ImGui::EndTabItem();
    }
    ImGui::EndTabBar();
  }
  Apply(out);
}

void Workspace::DrawSinglePanel(const std::string& name, ExportQueue& exports) {
  m_drawn.clear();
  const PanelDef* def = FindPanel(name);
  if (!def || !m_panels.count(name)) return;
  const ViewContext v = Context();
  PanelOutput out;
  // Drawn alone it is a figure (shot, report): no export button on it.
  DrawPanelFrame(*def, *m_panels.at(name), v, out, ImVec2(0, 0), exports, false);
  m_drawn.push_back(name);
  Apply(out);
}

bool Workspace::Waiting(const std::string& panel) const {
  if (WaitingSelf()) return true;
  if (!panel.empty()) {
    auto it = m_panels.find(panel);
    return it != m_panels.end() && it->second->Waiting();
  }
  for (const auto& n : m_drawn)
    if (m_panels.at(n)->Waiting()) return true;
  return false;
}

std::vector<std::string> Workspace::Errors() const {
  std::vector<std::string> out;
  AppendErrors(out);
  for (const auto& n : m_drawn)
    for (const auto& e : m_panels.at(n)->Errors()) out.push_back(n + ": " + e);
  return out;
}

}  // namespace hs::app
