// Head roles panel: per category a filled circle (active on the user's
// prompt) or an open one (the role exists in this model but is not triggered
// by the prompt), the category's top heads with bars of their activation
// score, a tooltip saying why a role is gray with a prompt that would make
// it fire, and a button that types that prompt. Click a head to select it;
// right-click it to turn it off. Once the causal checks of the prompt are
// in (lm::CheckRoles, in the background), a filled circle carries a check
// mark (removing its head raises the loss where the role acts more than 95%
// of the other heads do) or a question mark (it looks like the role, but
// removing it hurts no more than the others); the tooltip gives the numbers.
#include <imgui.h>
#include <imgui_internal.h>

#include <algorithm>
#include <cstdio>
#include <optional>

#include "badge.h"
#include "line_plot.h"
#include "lm_panel_common.h"
#include "workspace.h"

namespace hs::app {

namespace {

using Check = library::CategoryActivation::Check;

// The mark on a filled circle of radius r at c: a check mark (causally
// checked) or a question mark (not confirmed by ablation).
void CheckMark(ImDrawList* dl, ImVec2 c, float r, Check check) {
  if (check == Check::kChecked) {
    const float s = r * 1.2f;
    ImGui::RenderCheckMark(dl, ImVec2(c.x - s * 0.5f, c.y - s * 0.5f), IM_COL32(255, 255, 255, 255), s);
  } else if (check == Check::kNotChecked) {
    const ImVec2 ts = ImGui::CalcTextSize("?");
    dl->AddText(ImVec2(c.x - ts.x * 0.5f, c.y - ts.y * 0.5f), IM_COL32(255, 255, 255, 255), "?");
  }
}

// A category's header: a circle (filled: active) in its colour, its causal
// check's mark, and its name.
void CategoryHeader(const library::CategoryDef& def, bool active, bool has_heads, Check check) {
  ImDrawList* dl = ImGui::GetWindowDrawList();
  const float fh = ImGui::GetFontSize();
  const ImVec2 p = ImGui::GetCursorScreenPos();
  const ImU32 col = CategoryColor(def.key);
  const ImVec2 c(p.x + fh * 0.55f, p.y + fh * 0.65f);
  if (active) {
    dl->AddCircleFilled(c, fh * 0.5f, col);
    CheckMark(dl, c, fh * 0.5f, check);
  } else {
    dl->AddCircle(c, fh * 0.5f, has_heads ? col : IM_COL32(170, 170, 170, 255), 0, 2.0f);
  }
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
  // Not waiting for the causal checks: on a large model they take minutes,
  // and the roles are there without them (a shot still waits for the job,
  // as for every job, and draws its progress after a minute).
  void Draw(const ViewContext& v, PanelOutput& out) override {
    DrawModelWarnings(v);
    if (!Begin(v)) return;
    const LmView& m = *v.lm;
    const auto& a = *m.analysis;
    const auto& cats = m.model->categories;
    const library::PromptRoles& roles = *m.Roles();
    const bool checked = m.checked_roles && m.checked_for == m.analysis;
    const float fh = ImGui::GetFontSize();
    if (!m.analysis_current) ImGui::TextDisabled("updating...");
    if (a.step >= 0) {
      ImGui::TextColored(ImVec4(0.7f, 0.35f, 0, 1), "Weights of training step %d (top heads from the final model).",
                         a.step);
    }
    // The causal checks: running, unavailable, or of the model with every head on.
    if (!a.intervention.empty()) {
      ImGui::TextColored(ImVec4(0.7f, 0.35f, 0, 1), "With %s turned off.", a.intervention.c_str());
      if (ImGui::IsItemHovered())
        ImGui::SetTooltip("The circles and bars show the model without these heads. The causal check marks are of the\n"
                          "model with every head on: turn the heads back on to see them.");
    } else if (m.analysis_current && !checked) {
      if (!m.checks_unavailable.empty()) {
        ImGui::TextDisabled("No causal checks: %s.", m.checks_unavailable.c_str());
      } else if (!m.checks_error.empty()) {
        ErrorText("causal checks: " + m.checks_error);
      } else {
        TextProgressBar(m.checks_fraction, ("checking the roles causally: " + m.checks_status).c_str());
        if (ImGui::IsItemHovered())
          ImGui::SetTooltip("Attribution patching of every head, then each head ablated exactly: does removing it\n"
                            "raise the loss where its role acts? The badges get a check mark when it does.");
      }
    }
    std::optional<std::pair<int, int>> menu;  // a head right-clicked this frame
    const auto& defs = library::HeadCategoryDefs();
    if (ImGui::BeginTable("##roles", 2, ImGuiTableFlags_SizingStretchSame)) {
      for (const auto& def : defs) {
        if (def.key == "other") continue;
        const library::CategoryActivation* ca = roles.Find(def.key);
        if (!ca) continue;
        ImGui::TableNextColumn();
        ImGui::PushID(def.key.c_str());
        CategoryHeader(def, ca->active, !ca->heads.empty(), ca->check);
        if (ImGui::IsItemHovered()) Tooltip(def, *ca);
        if (ca->active && ca->check != Check::kNotRun) {
          ImGui::SameLine();
          if (ca->check == Check::kChecked)
            ImGui::TextColored(ImVec4(0.1f, 0.5f, 0.1f, 1), "(causally checked)");
          else
            ImGui::TextDisabled("(not confirmed by ablation)");
          if (ImGui::IsItemHovered()) Tooltip(def, *ca);
        }
        if (!ca->active) {
          ImGui::SameLine();
          const std::string why = ShortReason(def, *ca, a.step, a.intervention);
          ImGui::TextDisabled("(%s)", why.c_str());
          if (ImGui::IsItemHovered()) Tooltip(def, *ca);
          if (!def.suggested_prompt.empty() && !ca->heads.empty() && def.suggested_prompt != a.prompt) {
            ImGui::SameLine();
            if (ImGui::SmallButton("try it")) out.prompt = def.suggested_prompt;
            if (ImGui::IsItemHovered())
              ImGui::SetTooltip("Type \"%s\" into the prompt box", def.suggested_prompt.c_str());
          }
        }
        if (!ca->note.empty() && (ca->active || def.key == "first_token")) {
          // What an active output head does (with a token of the prompt), or which first-token heads are sinks.
          ImGui::Indent(fh * 0.8f);
          ImGui::PushTextWrapPos(0);
          ImGui::TextDisabled("%s", ca->note.c_str());
          ImGui::PopTextWrapPos();
          if (ImGui::IsItemHovered()) Tooltip(def, *ca);
          ImGui::Unindent(fh * 0.8f);
        }
        const lm::RoleCheck* rc = checked && m.checks ? m.checks->Find(def.key) : nullptr;
        if (ca->active && rc && !rc->heads.empty()) {  // the check in numbers: the role's first head against the rest
          const lm::HeadCheck& hc = rc->heads[0];
          ImGui::Indent(fh * 0.8f);
          ImGui::PushTextWrapPos(0);
          ImGui::TextDisabled("removing %s: %+.2f nats/token vs other heads' 95th pct %.2f",
                              HeadName(hc.layer, hc.head).c_str(), hc.rise, hc.others_p95);
          ImGui::PopTextWrapPos();
          if (ImGui::IsItemHovered()) Tooltip(def, *ca);
          ImGui::Unindent(fh * 0.8f);
        }
        for (const auto& h : ca->heads) {
          const bool off = m.IsOff(h.layer, h.head);
          const std::string name = HeadName(h.layer, h.head) + (off ? " off" : "");
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
          const lm::HeadCheck* hc = nullptr;
          for (size_t k = 0; rc && k < rc->heads.size(); ++k)
            if (rc->heads[k].layer == h.layer && rc->heads[k].head == h.head) hc = &rc->heads[k];
          if (hc && h.is_active) {  // the head's own check, on its circle
            const ImVec2 p = ImGui::GetItemRectMin();
            CheckMark(ImGui::GetWindowDrawList(), ImVec2(p.x + fh * 0.55f, p.y + fh * 0.65f), fh * 0.4f,
                      hc->checked ? Check::kChecked : Check::kNotChecked);
          }
          if (RightClicked(ImGui::IsItemHovered())) menu = std::make_pair(h.layer, h.head);
          if (ImGui::IsItemHovered()) HeadTooltip(cats, def, h, ca->applicable, hc, off);
          ImGui::Unindent(fh * 0.8f);
        }
        ImGui::PopID();
      }
      ImGui::EndTable();
    }
    // Output roles that could not be computed for this model, and why.
    for (const auto& [key, why] : cats.unavailable) {
      const library::CategoryDef* def = library::FindCategoryDef(key);
      ImGui::PushTextWrapPos(0);
      ImGui::TextDisabled("%s: not computed for this model (%s)", def ? def->display_name.c_str() : key.c_str(),
                          why.c_str());
      ImGui::PopTextWrapPos();
    }
    if (!cats.has_weight_roles)
      ImGui::TextDisabled("Copying, copy suppression and successor: not computed yet for this model.");
    // Other: neutral, no runtime check.
    if (const library::CategoryActivation* o = a.roles.Find("other")) {
      std::string names;
      for (const auto& h : o->heads) names += (names.empty() ? "" : ", ") + HeadName(h.layer, h.head);
      ImGui::Spacing();
      ImGui::TextDisabled("Other (fits no category above): %s", o->heads.empty() ? "none" : names.c_str());
      if (ImGui::IsItemHovered())
        ImGui::SetTooltip("%s", library::FindCategoryDef("other")->explanation.c_str());
    }
    HeadMenu("##head_menu", menu.has_value(), menu ? menu->first : -1, menu ? menu->second : -1, m, out);
    ImGui::Separator();
    ImGui::PushTextWrapPos(0);
    ImGui::TextDisabled("Filled circle: active on your input.  Open circle: the role exists in this model but your "
                        "input does not trigger it.");
    LegendMark(Check::kChecked);
    ImGui::TextDisabled("causally checked: removing the head raises the loss where the role acts more than 95%% of the "
                        "other heads do.");
    LegendMark(Check::kNotChecked);
    ImGui::TextDisabled("looks like the role, but removing the head hurts no more than removing most other heads does. "
                        "Hover for the numbers.");
    ImGui::TextDisabled("Bars: each top head's activation on your prompt (0 to 1). Click a head to see its "
                        "attention; right-click it to turn it off.");
    ImGui::PopTextWrapPos();
    ImGui::TextDisabled("Why are some gray?");
    if (ImGui::IsItemHovered())
      ImGui::SetTooltip("Some heads only act when your input has a particular pattern, like repeated words.\n"
                        "Try: \"The cat sat on the mat. The cat sat on the mat.\" and watch Induction fill in.");
  }

 private:
  static std::string ShortReason(const library::CategoryDef& def, const library::CategoryActivation& ca, int step,
                                 const std::string& intervention) {
    if (ca.heads.empty()) return "no such head in this model";
    if (!ca.applicable)
      return def.output_role ? "nothing with a next item in your input" : "no repetition in your input";
    if (!intervention.empty()) return "not active with " + intervention.substr(0, intervention.rfind(" (")) + " off";
    if (step >= 0) return "not active at this training step";
    return "not triggered by this prompt";
  }

  // A small filled circle with the check's mark, inline before a legend line.
  static void LegendMark(Check check) {
    const float fh = ImGui::GetFontSize();
    const ImVec2 p = ImGui::GetCursorScreenPos();
    const ImVec2 c(p.x + fh * 0.5f, p.y + ImGui::GetTextLineHeight() * 0.5f);
    ImGui::GetWindowDrawList()->AddCircleFilled(c, fh * 0.45f, IM_COL32(110, 110, 110, 255));
    CheckMark(ImGui::GetWindowDrawList(), c, fh * 0.45f, check);
    ImGui::Dummy(ImVec2(fh * 1.1f, ImGui::GetTextLineHeight()));
    ImGui::SameLine();
  }
  static void Tooltip(const library::CategoryDef& def, const library::CategoryActivation& ca) {
    ImGui::BeginTooltip();
    ImGui::PushTextWrapPos(ImGui::GetFontSize() * 30);
    ImGui::TextUnformatted((def.display_name + ": " + def.description).c_str());
    ImGui::Spacing();
    ImGui::TextDisabled("%s", def.explanation.c_str());
    if (def.output_role) {
      ImGui::Spacing();
      ImGui::TextDisabled("Read from the weights: the head's OV circuit (embedding after MLP 0, W_V W_O, the "
                          "unembedding). On your prompt it is active when the token it attends to most (BOS aside) "
                          "ranks among the few tokens its output raises (copying, successor: the next item) or "
                          "lowers (suppression) most.");
    }
    if (!ca.note.empty()) {
      ImGui::Spacing();
      ImGui::TextUnformatted(ca.note.c_str());
    }
    if (!ca.reason.empty()) {
      ImGui::Spacing();
      ImGui::TextUnformatted(("Gray because " + ca.reason).c_str());
    }
    if (ca.check != Check::kNotRun) {
      ImGui::Spacing();
      ImGui::TextUnformatted(((ca.check == Check::kChecked ? "Causally checked: " : "Not confirmed by ablation: ") +
                              ca.check_reason)
                                 .c_str());
    }
    ImGui::PopTextWrapPos();
    ImGui::EndTooltip();
  }
  static void HeadTooltip(const library::HeadCategories& cats, const library::CategoryDef& def,
                          const library::HeadActivation& h, bool applicable, const lm::HeadCheck* hc, bool off) {
    ImGui::BeginTooltip();
    ImGui::Text("Layer %d, head %d%s", h.layer, h.head, off ? " (turned off)" : "");
    ImGui::Text("Offline %s score%s: %.3f (threshold %.2f)", def.display_name.c_str(),
                def.output_role ? " (from the weights)" : "", h.score, def.threshold);
    if (def.key == "first_token" && cats.IsSink(h.layer, h.head))
      ImGui::TextUnformatted("An attention sink: it rests on the first token on random tokens too.");
    if (applicable)
      ImGui::Text("On your prompt: %.3f, %s (active from %.2f)", h.activation_score, h.is_active ? "active" : "inactive",
                  def.active_threshold);
    else
      ImGui::TextUnformatted(def.output_role ? "On your prompt: it attends to nothing with a next item"
                                             : "On your prompt: no repeated token, nothing to measure");
    std::string also;
    for (const auto& k : cats.RolesOf(h.layer, h.head))
      if (k != def.key) also += (also.empty() ? "" : ", ") + library::FindCategoryDef(k)->display_name;
    if (!also.empty()) ImGui::Text("Also a top head for: %s", also.c_str());
    if (hc) {
      ImGui::Text("Removing it raises the loss where the role acts by %.3f nats a token (%s);", hc->rise,
                  hc->checked ? "checked" : "not confirmed");
      ImGui::Text("the other %d heads: median %.3f, 95th percentile %.3f nats.", hc->others, hc->others_median,
                  hc->others_p95);
    }
    ImGui::TextDisabled("Click to see its attention over your prompt; right-click to turn it off.");
    ImGui::EndTooltip();
  }
};

const bool kHeadRolesPanelRegistered = RegisterPanel({"head_roles", "Head roles on your prompt", WorkspaceKind::LanguageModel,
                                        "Head roles", 110, 0, 0.55f, true,
                                        [] { return std::make_unique<HeadRolesPanel>(); }});

}  // namespace
}  // namespace hs::app
