// Head roles panel: per category a filled circle (active on the user's
// prompt) or an open one (the role exists in this model but is not triggered
// by the prompt), the category's top heads with bars of their activation
// score, a tooltip saying why a role is gray with a prompt that would make
// it fire, and a button that types that prompt. Click a head to select it.
#include <imgui.h>

#include <algorithm>
#include <cstdio>

#include "badge.h"
#include "line_plot.h"
#include "lm_panel_common.h"

namespace hs::app {

namespace {

// A category's header: a circle (filled: active) in its colour and its name.
void CategoryHeader(const library::CategoryDef& def, bool active, bool has_heads) {
  ImDrawList* dl = ImGui::GetWindowDrawList();
  const float fh = ImGui::GetFontSize();
  const ImVec2 p = ImGui::GetCursorScreenPos();
  const ImU32 col = CategoryColor(def.key);
  const ImVec2 c(p.x + fh * 0.55f, p.y + fh * 0.65f);
  if (active)
    dl->AddCircleFilled(c, fh * 0.5f, col);
  else
    dl->AddCircle(c, fh * 0.5f, has_heads ? col : IM_COL32(170, 170, 170, 255), 0, 2.0f);
  ImGui::Dummy(ImVec2(fh * 1.3f, fh * 1.3f));
  ImGui::SameLine();
  ImGui::AlignTextToFramePadding();
  if (active)
    ImGui::TextUnformatted(def.display_name.c_str());
  else
    ImGui::TextDisabled("%s", def.display_name.c_str());
}

class HeadRolesPanel : public PromptPanel {
 public:
  void Draw(const ViewContext& v, PanelOutput& out) override {
    DrawModelWarnings(v);
    if (!Begin(v)) return;
    const LmView& m = *v.lm;
    const auto& a = *m.analysis;
    const auto& cats = m.model->categories;
    const float fh = ImGui::GetFontSize();
    if (!m.analysis_current) ImGui::TextDisabled("updating...");
    if (a.step >= 0) {
      ImGui::TextColored(ImVec4(0.7f, 0.35f, 0, 1), "Weights of training step %d (top heads from the final model).",
                         a.step);
    }
    const auto& defs = library::HeadCategoryDefs();
    if (ImGui::BeginTable("##roles", 2, ImGuiTableFlags_SizingStretchSame)) {
      for (const auto& def : defs) {
        if (def.key == "other") continue;
        const library::CategoryActivation* ca = a.roles.Find(def.key);
        if (!ca) continue;
        ImGui::TableNextColumn();
        ImGui::PushID(def.key.c_str());
        CategoryHeader(def, ca->active, !ca->heads.empty());
        if (ImGui::IsItemHovered()) Tooltip(def, *ca);
        if (!ca->active) {
          ImGui::SameLine();
          const std::string why = ShortReason(def, *ca, a.step);
          ImGui::TextDisabled("(%s)", why.c_str());
          if (ImGui::IsItemHovered()) Tooltip(def, *ca);
          if (!def.suggested_prompt.empty() && !ca->heads.empty() && def.suggested_prompt != a.prompt) {
            ImGui::SameLine();
            if (ImGui::SmallButton("try it")) out.prompt = def.suggested_prompt;
            if (ImGui::IsItemHovered())
              ImGui::SetTooltip("Type \"%s\" into the prompt box", def.suggested_prompt.c_str());
          }
        }
        for (const auto& h : ca->heads) {
          const std::string name = HeadName(h.layer, h.head);
          widgets::BadgeSpec b;
          b.color = CategoryColor(def.key);
          b.label_width = ImGui::CalcTextSize("L00H00").x;
          b.bar_width = std::min(fh * 8, std::max(fh * 3, ImGui::GetContentRegionAvail().x - fh * 8));
          ImGui::Indent(fh * 0.8f);
          const bool selected = h.layer == m.layer && h.head == m.head;
          if (selected) ImGui::PushStyleColor(ImGuiCol_Text, ImVec4(0.75f, 0.1f, 0.05f, 1));
          if (widgets::RoleBadge(name.c_str(), h.is_active, float(h.activation_score), b))
            out.head = std::make_pair(h.layer, h.head);
          if (selected) ImGui::PopStyleColor();
          if (ImGui::IsItemHovered()) HeadTooltip(cats, def, h, ca->applicable);
          ImGui::Unindent(fh * 0.8f);
        }
        ImGui::PopID();
      }
      ImGui::EndTable();
    }
    // Other: neutral, no runtime check.
    if (const library::CategoryActivation* o = a.roles.Find("other")) {
      std::string names;
      for (const auto& h : o->heads) names += (names.empty() ? "" : ", ") + HeadName(h.layer, h.head);
      ImGui::Spacing();
      ImGui::TextDisabled("Other (fits no category above): %s", o->heads.empty() ? "none" : names.c_str());
      if (ImGui::IsItemHovered())
        ImGui::SetTooltip("%s", library::FindCategoryDef("other")->explanation.c_str());
    }
    ImGui::Separator();
    ImGui::TextDisabled("Filled circle: active on your input.  Open circle: the role exists in this model but your "
                        "input does not trigger it.");
    ImGui::TextDisabled("Bars: each top head's activation on your prompt (0 to 1). Click a head to see its "
                        "attention.");
    ImGui::TextDisabled("Why are some gray?");
    if (ImGui::IsItemHovered())
      ImGui::SetTooltip("Some heads only act when your input has a particular pattern, like repeated words.\n"
                        "Try: \"The cat sat on the mat. The cat sat on the mat.\" and watch Induction fill in.");
  }

 private:
  static std::string ShortReason(const library::CategoryDef& def, const library::CategoryActivation& ca, int step) {
    if (ca.heads.empty()) return "no such head in this model";
    if (!ca.applicable) return "no repetition in your input";
    if (step >= 0) return "not active at this training step";
    return "not triggered by this prompt";
  }
  static void Tooltip(const library::CategoryDef& def, const library::CategoryActivation& ca) {
    ImGui::BeginTooltip();
    ImGui::PushTextWrapPos(ImGui::GetFontSize() * 30);
    ImGui::TextUnformatted((def.display_name + ": " + def.description).c_str());
    ImGui::Spacing();
    ImGui::TextDisabled("%s", def.explanation.c_str());
    if (!ca.reason.empty()) {
      ImGui::Spacing();
      ImGui::TextUnformatted(("Gray because " + ca.reason).c_str());
    }
    ImGui::PopTextWrapPos();
    ImGui::EndTooltip();
  }
  static void HeadTooltip(const library::HeadCategories& cats, const library::CategoryDef& def,
                          const library::HeadActivation& h, bool applicable) {
    ImGui::BeginTooltip();
    ImGui::Text("Layer %d, head %d", h.layer, h.head);
    ImGui::Text("Offline %s score: %.3f (threshold %.2f)", def.display_name.c_str(), h.score, def.threshold);
    if (applicable)
      ImGui::Text("On your prompt: %.3f, %s (active from %.2f)", h.activation_score, h.is_active ? "active" : "inactive",
                  def.active_threshold);
    else
      ImGui::TextUnformatted("On your prompt: no repeated token, nothing to measure");
    std::string also;
    for (const auto& k : cats.RolesOf(h.layer, h.head))
      if (k != def.key) also += (also.empty() ? "" : ", ") + library::FindCategoryDef(k)->display_name;
    if (!also.empty()) ImGui::Text("Also a top head for: %s", also.c_str());
    ImGui::TextDisabled("Click to see its attention over your prompt.");
    ImGui::EndTooltip();
  }
};

const bool kHeadRolesPanelRegistered = RegisterPanel({"head_roles", "Head roles on your prompt", WorkspaceKind::LanguageModel,
                                        "Head roles", 110, 0, 0.55f, true,
                                        [] { return std::make_unique<HeadRolesPanel>(); }});

}  // namespace
}  // namespace hs::app
