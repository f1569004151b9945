// The selected head's attention over the prompt: query tokens down, key
// tokens across; hover names both tokens and the weight. The head's roles
// and its activation scores on this prompt above it.
#include <imgui.h>

#include <cstdio>

#include "heatmap.h"
#include "lm_panel_common.h"

namespace hs::app {
namespace {

class LmAttentionPanel : public PromptPanel {
 public:
  void Draw(const ViewContext& v, PanelOutput& out) override {
    if (!Begin(v)) return;
    const LmView& m = *v.lm;
    const auto& a = *m.analysis;
    if (m.layer < 0 || m.layer >= a.n_layers || m.head < 0 || m.head >= a.n_heads) {
      EmptyState("Click a head in the roles panel, the grid or the model view.");
      return;
    }
    // Head selector and the head's roles.
    const float fh = ImGui::GetFontSize();
    int l = m.layer, h = m.head;
    ImGui::SetNextItemWidth(fh * 6);
    if (ImGui::SliderInt("layer", &l, 0, a.n_layers - 1)) out.head = std::make_pair(l, h);
    ImGui::SameLine();
    ImGui::SetNextItemWidth(fh * 6);
    if (ImGui::SliderInt("head", &h, 0, a.n_heads - 1)) out.head = std::make_pair(l, h);
    ImGui::SameLine();
    std::string roles;
    for (const auto& ca : a.roles.categories) {
      if (ca.key == "other") continue;
      for (const auto& hh : ca.heads)
        if (hh.layer == m.layer && hh.head == m.head) {
          char b[96];
          std::snprintf(b, sizeof b, "%s%s %.2f%s", roles.empty() ? "" : ",  ",
                        library::FindCategoryDef(ca.key)->display_name.c_str(), hh.activation_score,
                        hh.is_active ? " (active)" : "");
          roles += b;
        }
    }
    if (roles.empty()) ImGui::TextDisabled("no role: below every threshold");
    else ImGui::TextUnformatted(roles.c_str());
    if (m_text_for != m.analysis || m_head != std::make_pair(m.layer, m.head)) {
      m_labels = TokenLabels(a.token_text);
      m_label_ptrs.clear();
      for (const auto& s : m_labels) m_label_ptrs.push_back(s.c_str());
      m_text_for = m.analysis;
      m_head = {m.layer, m.head};
      ++m_version;
    }
    char title[96];
    std::snprintf(title, sizeof title, "%s attention%s", HeadName(m.layer, m.head).c_str(),
                  a.step >= 0 ? (" at step " + std::to_string(a.step)).c_str() : "");
    widgets::HeatmapSpec spec;
    spec.title = title;
    spec.x_label = "key";
    spec.y_label = "query";
    spec.value_label = "attention";
    spec.vmin = 0;
    spec.vmax = 1;
    spec.colormap = widgets::Colormap::Viridis;
    spec.x_tick_labels = m_label_ptrs.data();
    spec.y_tick_labels = m_label_ptrs.data();
    spec.stale = !m.analysis_current;
    spec.version = m_version;
    widgets::Heatmap("##lm_attention", a.Head(m.layer, m.head), a.T(), a.T(), spec);
  }

 private:
  std::shared_ptr<const lm::PromptAnalysis> m_text_for;
  std::pair<int, int> m_head{-1, -1};
  uint64_t m_version = 0;
  std::vector<std::string> m_labels;
  std::vector<const char*> m_label_ptrs;
};

const bool kLmAttentionPanelRegistered = RegisterPanel({"lm_attention", "Attention of the selected head", WorkspaceKind::LanguageModel,
                                        "Head roles", 120, 1, 0.6f, true,
                                        [] { return std::make_unique<LmAttentionPanel>(); }});

}  // namespace
}  // namespace hs::app
