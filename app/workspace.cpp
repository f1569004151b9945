// Panel frames with export buttons (see workspace.h).
#include "workspace.h"

#include <filesystem>

namespace hs::app {
namespace fs = std::filesystem;

void DrawPanelFrame(const PanelDef& def, Panel& panel, const ViewContext& v, PanelOutput& out, ImVec2 size,
                    ExportQueue& exports) {
  ImGui::BeginChild(("##panel_" + def.name).c_str(), size, true);
  ImGui::TextUnformatted(def.title.c_str());
  if (def.exportable) {
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

}  // namespace hs::app
