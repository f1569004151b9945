// Role badge (see badge.h).
#include "badge.h"

#include <algorithm>
#include <cstdio>

namespace widgets {

bool RoleBadge(const char* label, bool active, float score, const BadgeSpec& spec) {
  ImGui::PushID(label);
  ImDrawList* dl = ImGui::GetWindowDrawList();
  const float fh = ImGui::GetFontSize();
  ImVec2 ts = ImGui::CalcTextSize(label);
  ts.x = std::max(ts.x, spec.label_width);
  const float bar = spec.bar_width;
  const ImVec2 size(fh * 1.3f + ts.x + (bar > 0 ? bar + fh * 3.2f : 0), fh * 1.3f);
  const ImVec2 p = ImGui::GetCursorScreenPos();
  const bool clicked = ImGui::InvisibleButton("##badge", size);
  const ImVec2 c(p.x + fh * 0.55f, p.y + size.y * 0.5f);
  if (active)
    dl->AddCircleFilled(c, fh * 0.4f, spec.color);
  else
    dl->AddCircle(c, fh * 0.4f, spec.color, 0, 2.0f);
  const ImU32 text = ImGui::GetColorU32(active ? ImGuiCol_Text : ImGuiCol_TextDisabled);
  dl->AddText(ImVec2(p.x + fh * 1.2f, p.y + (size.y - ts.y) * 0.5f), text, label);
  if (bar > 0) {
    const float x0 = p.x + fh * 1.5f + ts.x, y0 = p.y + size.y * 0.3f, y1 = p.y + size.y * 0.7f;
    const float s = std::clamp(score, 0.0f, 1.0f);
    dl->AddRectFilled(ImVec2(x0, y0), ImVec2(x0 + bar, y1), ImGui::GetColorU32(ImGuiCol_FrameBg));
    dl->AddRectFilled(ImVec2(x0, y0), ImVec2(x0 + bar * s, y1), spec.color);
    char buf[16];
    std::snprintf(buf, sizeof buf, "%.2f", score);
    dl->AddText(ImVec2(x0 + bar + 4, p.y + (size.y - ts.y) * 0.5f), text, buf);
  }
  if (spec.tooltip && ImGui::IsItemHovered()) ImGui::SetTooltip("%s", spec.tooltip);
  ImGui::PopID();
  return clicked;
}

}  // namespace widgets
