// Findings: the run's aggregate metrics from RUN/summary.json (written by
// `headscope analyze`): crossings, the test-loss cliff, the phases, key
// frequencies and neuron clusters, each head's specialization onset, locked
// frequency and coarseness class over time. The rules are in the tooltips.
#include <imgui.h>

#include "analyzers/findings.h"
#include "findings_file.h"
#include "panel.h"

namespace hs::app {
namespace {

class FindingsPanel : public Panel {
 public:
  void Draw(const ViewContext& v, PanelOutput& out) override {
    if (!v.run) return;
    const nlohmann::json* f = m_file.Get(v.run->dir);
    if (!m_file.error().empty()) ErrorText(m_file.error());
    if (!f) {
      if (!m_file.error().empty()) return;
      EmptyState(v.analyzing ? "Analysing; summary.json is written when every checkpoint is done."
                             : "summary.json is written by `headscope analyze` (or Analyze all).");
      if (!v.analyzing) {
        ImGui::SetCursorPosX((ImGui::GetWindowWidth() - ImGui::GetFontSize() * 14) * 0.5f);
        if (ImGui::Button("Analyze all checkpoints")) out.analyze_all = true;
      }
      return;
    }
    const auto rows = analyzers::FindingsRows(*f);
    const nlohmann::json rules = f->value("rules", nlohmann::json::object());
    auto rule_for = [&](const std::string& label) -> std::string {
      if (label.find("test accuracy >") == 0) return rules.value("crossings", "");
      if (label.find("memorised") == 0) return rules.value("memorisation_epoch", "");
      if (label.find("test-loss cliff") == 0) return rules.value("test_loss_cliff", "");
      if (label.find("phase") == 0) return rules.value("phases", "");
      if (label.find("key frequencies") == 0) return rules.value("key_frequencies", "");
      return "";
    };
    const ImGuiTableFlags flags = ImGuiTableFlags_RowBg | ImGuiTableFlags_BordersInnerH | ImGuiTableFlags_SizingStretchProp;
    const float half = ImGui::GetContentRegionAvail().x * 0.5f - 6;
    ImGui::BeginChild("##run_findings", ImVec2(half, 0));
    if (ImGui::BeginTable("##findings", 2, flags)) {
      ImGui::TableSetupColumn("finding", ImGuiTableColumnFlags_WidthStretch, 0.42f);
      ImGui::TableSetupColumn("value", ImGuiTableColumnFlags_WidthStretch, 0.58f);
      ImGui::TableHeadersRow();
      for (const auto& [label, value] : rows) {
        ImGui::TableNextRow();
        ImGui::TableNextColumn();
        ImGui::TextWrapped("%s", label.c_str());
        const std::string rule = rule_for(label);
        if (!rule.empty() && ImGui::IsItemHovered()) ImGui::SetTooltip("%s", rule.c_str());
        ImGui::TableNextColumn();
        ImGui::TextWrapped("%s", value.c_str());
      }
      ImGui::EndTable();
    }
    ImGui::EndChild();
    ImGui::SameLine();
    ImGui::BeginChild("##head_findings", ImVec2(0, 0));
    ImGui::PushStyleColor(ImGuiCol_Text, ImGui::GetStyle().Colors[ImGuiCol_TextDisabled]);
    ImGui::TextWrapped("Heads: onset of one frequency (max fraction >= 0.9 held), locked k, coarseness");
    ImGui::PopStyleColor();
    if (ImGui::IsItemHovered())
      ImGui::SetTooltip("%s\n%s\n%s", rules.value("specialization_onset", "").c_str(), rules.value("locked_freq", "").c_str(),
                        rules.value("coarseness", "").c_str());
    const auto heads = analyzers::HeadRows(*f);
    if (ImGui::BeginTable("##heads", int(analyzers::kHeadColumns.size()), flags)) {
      for (size_t c = 0; c < analyzers::kHeadColumns.size(); ++c)
        ImGui::TableSetupColumn(analyzers::kHeadColumns[c].c_str(), ImGuiTableColumnFlags_WidthStretch,
                                c + 1 == analyzers::kHeadColumns.size() ? 3.0f : 1.0f);
      ImGui::TableHeadersRow();
      for (const auto& r : heads) {
        ImGui::TableNextRow();
        for (const auto& cell : r) {
          ImGui::TableNextColumn();
          ImGui::TextWrapped("%s", cell.c_str());
        }
      }
      ImGui::EndTable();
    }
    if (f->contains("missing") && !(*f)["missing"].empty()) {
      ImGui::Spacing();
      ImGui::TextDisabled("Not yet available:");
      for (const auto& m : (*f)["missing"]) ImGui::BulletText("%s", m.get<std::string>().c_str());
    }
    ImGui::EndChild();
  }
  std::vector<std::string> Errors() const override {
    return m_file.error().empty() ? std::vector<std::string>{} : std::vector<std::string>{m_file.error()};
  }

 private:
  FindingsFile m_file;
};

const bool kFindingsPanelRegistered = RegisterPanel({"findings", "Findings (summary.json)", WorkspaceKind::Grokking, "Findings", 64, 0,
                                        1.0f, true, [] { return std::make_unique<FindingsPanel>(); }});
}  // namespace
}  // namespace hs::app
