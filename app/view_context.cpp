// Shared panel helpers (see view_context.h).
#include "view_context.h"

#include <imgui.h>

namespace hs::app {

const float* FloatData(const io::NpzArchive& a, const std::string& key, int64_t numel) {
  auto it = a.find(key);
  if (it == a.end() || it->second.dtype != io::DType::F32 || it->second.numel() != numel) return nullptr;
  return it->second.data<float>();
}

void EmptyState(const char* text) {
  const ImVec2 avail = ImGui::GetContentRegionAvail();
  const float wrap = std::max(100.0f, avail.x - 20);
  const ImVec2 ts = ImGui::CalcTextSize(text, nullptr, false, wrap);
  ImGui::SetCursorPos(ImVec2(ImGui::GetCursorPosX() + std::max(0.0f, (avail.x - ts.x) * 0.5f),
                             ImGui::GetCursorPosY() + std::max(0.0f, (avail.y - ts.y) * 0.4f)));
  ImGui::PushTextWrapPos(ImGui::GetCursorPosX() + wrap);
  ImGui::TextDisabled("%s", text);
  ImGui::PopTextWrapPos();
}

}  // namespace hs::app
