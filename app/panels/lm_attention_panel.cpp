// The selected head's attention over the prompt: query tokens down, key
// tokens across; hover names both tokens and the weight. The head's roles
// and its activation scores on this prompt above it; with heads turned off,
// the pattern of the model without them. Right-click the map to turn the
// head off. "Without the sink" drops the first key and renormalises each row
// over the others (library::WithoutFirstKey), so what a head that parks its
// attention on the first token does with the rest becomes visible.
#include <imgui.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <tuple>

#include "heatmap.h"
#include "library/head_detectors.h"
#include "lm_panel_common.h"

namespace hs::app {
namespace {

class LmAttentionPanel : public PromptPanel {
 public:
  // Also while the pattern with every head on (the comparison) is computed.
  bool Waiting() const override { return PromptPanel::Waiting() || m_compare_waiting; }

  void Draw(const ViewContext& v, PanelOutput& out) override {
    m_compare_waiting = false;
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
    bool no_sink = m.without_sink;
    if (ImGui::Checkbox("without the sink", &no_sink)) out.without_sink = no_sink;
    if (ImGui::IsItemHovered())
      ImGui::SetTooltip("Drop the first key and renormalise each query's row over the other keys.\n"
                        "Many heads park most of their attention on the first token (an attention sink);\n"
                        "this shows what they do with the rest. The first key's column turns grey.");
    const auto& cats = m.model->categories;
    if (cats.has_weight_roles && m.layer < cats.n_layers && m.head < cats.n_heads) {
      ImGui::SameLine();
      const bool sink = cats.IsSink(m.layer, m.head);
      const float on_random = cats.sink_random.empty() ? NAN : cats.sink_random[size_t(m.layer)][size_t(m.head)];
      if (sink) ImGui::TextColored(ImVec4(0.7f, 0.35f, 0, 1), "%s is an attention sink (first token %.2f on random tokens)",
                                   HeadName(m.layer, m.head).c_str(), on_random);
      else if (!std::isnan(on_random)) ImGui::TextDisabled("first token on random tokens: %.2f", on_random);
    }
    if (m.IsOff(m.layer, m.head)) {
      ImGui::TextColored(ImVec4(0.7f, 0.35f, 0, 1), "%s is turned off: it still attends as shown, but its output is "
                         "replaced by %s, so the layers after it do not see it.", HeadName(m.layer, m.head).c_str(),
                         OffModeWords(m.off_mode));
    } else if (!a.intervention.empty()) {
      ImGui::Checkbox("compare with every head on", &m_compare);
      if (ImGui::IsItemHovered())
        ImGui::SetTooltip("Left: the head with every head on; right: with %s turned off.\n"
                          "An induction head that loses its previous-token head stops attending to the token after\n"
                          "the earlier occurrence (the diagonal stripe below the main one fades).",
                          a.intervention.c_str());
      ImGui::SameLine();
      ImGui::TextColored(ImVec4(0.7f, 0.35f, 0, 1), "With %s turned off.", a.intervention.c_str());
    }
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
    // The same head with every head on, beside the pattern with heads off.
    const float* clean = nullptr;
    const bool compare = m_compare && !a.intervention.empty();
    if (compare) {
      if (m.clean_head && m.clean_head_for == m.analysis && m.clean_head->layer == m.layer &&
          m.clean_head->head == m.head && m.clean_head->pattern.size() == size_t(T) * T)
        clean = m.clean_head->pattern.data();
      else
        m_compare_waiting = m.analysis_current;
    }
    const std::tuple<const void*, const void*, int, int, int, int, int> view{
        full, clean, T, m_window, m_row0, m_col0, (m.layer * 100000 + m.head) * 2 + (m.without_sink ? 1 : 0)};
    if (view != m_view_of) {
      m_view_of = view;
      auto window = [&](const float* pattern, std::vector<float>* cells) {
        if (m.without_sink) {
          *cells = library::WithoutFirstKey(pattern, T, m_row0, m_window, m_col0, m_window);
          return;
        }
        cells->resize(size_t(m_window) * m_window);
        for (int r = 0; r < m_window; ++r)
          std::copy_n(pattern + size_t(m_row0 + r) * T + m_col0, m_window, cells->data() + size_t(r) * m_window);
      };
      window(full, &m_cells);
      m_clean_cells.clear();
      if (clean) window(clean, &m_clean_cells);
      m_row_ptrs.clear(), m_col_ptrs.clear();
      for (int i = 0; i < m_window; ++i) m_row_ptrs.push_back(m_labels[m_row0 + i].c_str());
      for (int i = 0; i < m_window; ++i) m_col_ptrs.push_back(m_labels[m_col0 + i].c_str());
      ++m_version;
    }
    char title[160];
    std::snprintf(title, sizeof title, "%s attention%s%s%s", HeadName(m.layer, m.head).c_str(),
                  m.without_sink ? " without the first key (rows renormalised)" : "",
                  a.step >= 0 ? (" at step " + std::to_string(a.step)).c_str() : "",
                  m_window < T ? (": queries " + std::to_string(m_row0) + "-" + std::to_string(m_row0 + m_window - 1) +
                                  ", keys " + std::to_string(m_col0) + "-" + std::to_string(m_col0 + m_window - 1))
                                     .c_str()
                               : "");
    widgets::HeatmapSpec spec;
    spec.title = title;
    spec.x_label = "key";
    spec.y_label = "query";
    spec.value_label = m.without_sink ? "share of the attention not on the first key" : "attention";
    spec.vmin = 0;
    spec.vmax = 1;
    spec.colormap = widgets::Colormap::Viridis;
    spec.x_tick_labels = m_col_ptrs.data();
    spec.y_tick_labels = m_row_ptrs.data();
    spec.stale = !m.analysis_current;
    spec.version = m_version;
    widgets::HeatmapState st;
    if (compare) {  // two maps side by side, one colour scale (the bar on the right one)
      const ImVec2 avail = ImGui::GetContentRegionAvail(), origin = ImGui::GetCursorScreenPos();
      // Equal maps: the colour bar's width (fh * 4.2) goes to the right one only.
      const float half = (avail.x - ImGui::GetStyle().ItemSpacing.x - fh * 4.2f) * 0.5f;
      const std::string left = HeadName(m.layer, m.head) + " with every head on";
      const std::string right = HeadName(m.layer, m.head) + " with " + a.intervention.substr(0, a.intervention.rfind(" (")) + " off";
      widgets::HeatmapSpec ls = spec;
      ls.title = left.c_str();
      ls.colorbar = false;
      ls.size = ImVec2(half, avail.y);
      widgets::HeatmapState lst;
      if (!m_clean_cells.empty()) {
        widgets::Heatmap("##lm_attention_clean", m_clean_cells.data(), m_window, m_window, ls, &lst);
      } else {
        ImGui::Dummy(ls.size);
        ImGui::GetWindowDrawList()->AddText(ImGui::GetItemRectMin(), ImGui::GetColorU32(ImGuiCol_TextDisabled),
                                            "computing it with every head on...");
      }
      ImGui::SetCursorScreenPos(ImVec2(origin.x + ls.size.x + ImGui::GetStyle().ItemSpacing.x, origin.y));
      spec.title = right.c_str();
      spec.size = ImVec2(avail.x - ls.size.x - ImGui::GetStyle().ItemSpacing.x, avail.y);
      widgets::Heatmap("##lm_attention", m_cells.data(), m_window, m_window, spec, &st);
      st.hovered = st.hovered || lst.hovered;
    } else {
      widgets::Heatmap("##lm_attention", m_cells.data(), m_window, m_window, spec, &st);
    }
    HeadMenu("##attention_menu", RightClicked(st.hovered), m.layer, m.head, m, out);
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
  bool m_compare = true, m_compare_waiting = false;
  std::tuple<const void*, const void*, int, int, int, int, int> m_view_of{};
  std::vector<float> m_cells;        // the window shown
  std::vector<float> m_clean_cells;  // the same window with every head on (comparison)
};

const bool kLmAttentionPanelRegistered = RegisterPanel({"lm_attention", "Attention of the selected head", WorkspaceKind::LanguageModel,
                                        "Head roles", 120, 1, 0.6f, true,
                                        [] { return std::make_unique<LmAttentionPanel>(); }});

}  // namespace
}  // namespace hs::app
