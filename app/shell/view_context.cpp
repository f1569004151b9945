// Shared panel helpers (see view_context.h).
#include "view_context.h"

#include <imgui.h>

#include "io/hub_cache.h"

namespace hs::app {

const io::NpzArchive* PanelArtifact::Fetch(const ViewContext& v, PanelStatus& status) {
  m_error.clear();
  if (!v.run || v.epoch < 0) return m_shown.value.get();
  const ArtifactResult r = v.requests->Artifact(m_slot, v.run, m_analyzer, v.epoch);
  m_shown.Update(r, v.run->dir.string(), v.epoch);
  m_error = r.error;
  if (!r.error.empty()) status.errors.push_back(r.error), ErrorText(r.error);
  else if (m_shown.stale(v.epoch)) status.waiting = true;
  return m_shown.value.get();
}

std::shared_ptr<const io::NpzArchive> PanelSummary::Fetch(const ViewContext& v, PanelStatus& status) {
  if (!v.run) return nullptr;
  bool missing = false;
  const ArtifactResult r = v.requests->Summary(m_slot, v.run, m_analyzer, &missing);
  m_shown.Update(r, v.run->dir.string(), -1);
  if (missing) m_shown.value.reset();
  if (!r.error.empty()) status.errors.push_back(r.error), ErrorText(r.error);
  if (!m_shown.value && r.pending) status.waiting = true;
  return m_shown.value;
}

void SummaryEmptyState(const ViewContext& v, const PanelStatus& status, const char* while_analysing, const char* otherwise,
                       bool* analyze_all) {
  if (status.waiting) {  // the file exists and is being read
    EmptyState("Reading the summary...");
    return;
  }
  EmptyState(v.analyzing ? while_analysing : otherwise);
  if (v.analyzing) return;
  ImGui::SetCursorPosX((ImGui::GetWindowWidth() - ImGui::GetFontSize() * 14) * 0.5f);
  if (ImGui::Button("Analyze all checkpoints")) *analyze_all = true;
  if (ImGui::IsItemHovered()) ImGui::SetTooltip("Same as `headscope analyze RUN`; runs in the background.");
}

bool HasEpochToShow(const ViewContext& v) {
  if (!v.run) return false;
  if (v.epoch >= 0) return true;
  EmptyState("No checkpoints yet. Start training from the bar above; panels fill in with the first checkpoint.");
  return false;
}

const float* FloatData(const io::NpzArchive& a, const std::string& key, int64_t numel) {
  auto it = a.find(key);
  if (it == a.end() || it->second.dtype != io::DType::F32 || it->second.numel() != numel) return nullptr;
  return it->second.data<float>();
}

widgets::HeatmapSpec FrequencyHeatmapSpec(const char* title, const char* unit, int epoch, int wanted) {
  widgets::HeatmapSpec hs;
  hs.title = title;
  hs.x_label = unit;
  hs.y_label = "k";
  hs.y_tick_base = 1;
  hs.vmin = 0;
  hs.vmax = 1;
  hs.equal_aspect = false;
  hs.value_label = "fraction of variance";
  hs.version = uint64_t(epoch);
  hs.stale = epoch != wanted;
  return hs;
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

void ErrorText(const std::string& text) {
  ImGui::PushStyleColor(ImGuiCol_Text, ImVec4(0.75f, 0.1f, 0.05f, 1));
  ImGui::TextWrapped("%s", text.c_str());
  ImGui::PopStyleColor();
}

void WarningText(const std::string& text) {
  ImGui::PushStyleColor(ImGuiCol_Text, ImVec4(0.6f, 0.35f, 0.0f, 1));
  ImGui::TextWrapped("%s", text.c_str());
  ImGui::PopStyleColor();
}

std::string ShortName(const std::filesystem::path& dir) {
  io::HubRef ref;  // a hub snapshot: ORG/NAME@commit
  if (io::HubModelOf(dir, &ref)) return ref.repo_id + "@" + ref.revision.substr(0, 7);
  const std::filesystem::path n = dir.lexically_normal();
  return n.has_filename() ? n.parent_path().filename().string() + "/" + n.filename().string() : n.string();
}

}  // namespace hs::app
