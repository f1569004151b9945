// The selected head's attention over the prompt: query tokens down, key
// tokens across; hover names both tokens and the weight. The head's roles
// and its activation scores on this prompt above it.
#include <imgui.h>

#include <algorithm>
#include <cstdio>
#include <tuple>

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
    const float* full = m.SelectedPattern();
    if (!full) {
      EmptyState(("Computing " + HeadName(m.layer, m.head) + "'s attention on this prompt...").c_str());
      return;
    }
    const int T = a.T();
    if (m_text_for != m.analysis) {
      m_labels = TokenLabels(a.token_text);
      m_text_for = m.analysis;
      m_view_of = {};
      if (m_window <= 0 || m_window > T) m_window = std::min(T, kDefaultWindow);
      m_row0 = std::clamp(m_row0, 0, T - m_window);
      m_col0 = std::clamp(m_col0, 0, T - m_window);
    }
    // Long prompts: a window of tokens, zoomed and scrolled, so token labels stay readable.
    if (T > kDefaultWindow) {
      ImGui::SetNextItemWidth(fh * 8);
      ImGui::SliderInt("tokens shown", &m_window, 8, T);
      if (ImGui::IsItemHovered()) ImGui::SetTooltip("Zoom: how many query and key tokens the map shows (%d in all).", T);
      m_window = std::clamp(m_window, 1, T);
      ImGui::SameLine();
      ImGui::SetNextItemWidth(fh * 10);
      ImGui::SliderInt("queries from", &m_row0, 0, T - m_window);
      ImGui::SameLine();
      ImGui::Checkbox("keys follow", &m_follow);
      if (ImGui::IsItemHovered()) ImGui::SetTooltip("Show the keys at the queries' positions (the diagonal).\n"
                                                    "Off: scroll the keys on their own (far-back attention).");
      if (!m_follow) {
        ImGui::SameLine();
        ImGui::SetNextItemWidth(fh * 10);
        ImGui::SliderInt("keys from", &m_col0, 0, T - m_window);
      }
      ImGui::SameLine();
      ImGui::TextDisabled("(wheel over the map scrolls; shift+wheel scrolls keys)");
    } else {
      m_window = T, m_row0 = 0, m_col0 = 0;
    }
    if (m_follow) m_col0 = m_row0;
    m_row0 = std::clamp(m_row0, 0, T - m_window);
    m_col0 = std::clamp(m_col0, 0, T - m_window);
    const std::tuple<const void*, int, int, int, int, int> view{full, T, m_window, m_row0, m_col0, m.layer * 100000 + m.head};
    if (view != m_view_of) {
      m_view_of = view;
      m_cells.resize(size_t(m_window) * m_window);
      for (int r = 0; r < m_window; ++r)
        std::copy_n(full + size_t(m_row0 + r) * T + m_col0, m_window, m_cells.data() + size_t(r) * m_window);
      m_row_ptrs.clear(), m_col_ptrs.clear();
      for (int i = 0; i < m_window; ++i) m_row_ptrs.push_back(m_labels[m_row0 + i].c_str());
      for (int i = 0; i < m_window; ++i) m_col_ptrs.push_back(m_labels[m_col0 + i].c_str());
      ++m_version;
    }
    char title[128];
    std::snprintf(title, sizeof title, "%s attention%s%s", HeadName(m.layer, m.head).c_str(),
                  a.step >= 0 ? (" at step " + std::to_string(a.step)).c_str() : "",
                  m_window < T ? (": queries " + std::to_string(m_row0) + "-" + std::to_string(m_row0 + m_window - 1) +
                                  ", keys " + std::to_string(m_col0) + "-" + std::to_string(m_col0 + m_window - 1))
                                     .c_str()
                               : "");
    widgets::HeatmapSpec spec;
    spec.title = title;
    spec.x_label = "key";
    spec.y_label = "query";
    spec.value_label = "attention";
    spec.vmin = 0;
    spec.vmax = 1;
    spec.colormap = widgets::Colormap::Viridis;
    spec.x_tick_labels = m_col_ptrs.data();
    spec.y_tick_labels = m_row_ptrs.data();
    spec.stale = !m.analysis_current;
    spec.version = m_version;
    widgets::HeatmapState st;
    widgets::Heatmap("##lm_attention", m_cells.data(), m_window, m_window, spec, &st);
    if (st.hovered && m_window < T) {
      const float wheel = ImGui::GetIO().MouseWheel;
      if (wheel != 0) {
        const int step = std::max(1, m_window / 8) * (wheel > 0 ? -1 : 1);
        if (ImGui::GetIO().KeyShift) m_follow = false, m_col0 = std::clamp(m_col0 + step, 0, T - m_window);
        else m_row0 = std::clamp(m_row0 + step, 0, T - m_window);
      }
    }
  }

 private:
  static constexpr int kDefaultWindow = 64;
  std::shared_ptr<const lm::PromptAnalysis> m_text_for;
  uint64_t m_version = 0;
  std::vector<std::string> m_labels;
  std::vector<const char*> m_row_ptrs, m_col_ptrs;
  int m_window = 0, m_row0 = 0, m_col0 = 0;
  bool m_follow = true;
  std::tuple<const void*, int, int, int, int, int> m_view_of{};
  std::vector<float> m_cells;  // the window shown
};

const bool kLmAttentionPanelRegistered = RegisterPanel({"lm_attention", "Attention of the selected head", WorkspaceKind::LanguageModel,
                                        "Head roles", 120, 1, 0.6f, true,
                                        [] { return std::make_unique<LmAttentionPanel>(); }});

}  // namespace
}  // namespace hs::app
