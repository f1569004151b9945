// The model view: every head's attention over the prompt as a thumbnail,
// layers down and heads across, one colour scale; each titled with its roles
// (filled marker when active on this prompt). Click a head to select it;
// right-click it to turn it off (turned-off heads are titled "OFF").
#include <imgui.h>

#include <algorithm>
#include <cstdio>
#include <optional>

#include "heatmap.h"
#include "lm_panel_common.h"

namespace hs::app {
namespace {

// Short role tags for thumbnail titles.
const char* Tag(const std::string& key) {
  if (key == "previous_token") return "prev";
  if (key == "induction") return "ind";
  if (key == "duplicate_token") return "dup";
  if (key == "first_token") return "first";
  if (key == "diffuse") return "diff";
  return "";
}

class HeadThumbnailsPanel : public PromptPanel {
 public:
  void Draw(const ViewContext& v, PanelOutput& out) override {
    if (!Begin(v)) return;
    const LmView& m = *v.lm;
    const auto& a = *m.analysis;
    const int n = a.n_layers * a.n_heads;
    if (m_for != m.analysis || m_off_for != m.off_heads) {
      m_titles.assign(n, "");
      for (int l = 0; l < a.n_layers; ++l)
        for (int h = 0; h < a.n_heads; ++h) {
          std::string t = HeadName(l, h);
          for (const auto& ca : a.roles.categories)
            for (const auto& hh : ca.heads)
              if (hh.layer == l && hh.head == h && ca.key != "other")
                t += std::string(" ") + Tag(ca.key) + (hh.is_active ? "*" : "");
          if (m.IsOff(l, h)) t += " OFF";
          m_titles[size_t(l) * a.n_heads + h] = t;
        }
      m_for = m.analysis;
      m_off_for = m.off_heads;
      ++m_version;  // textures are keyed by data pointer and version
    }
    std::vector<const char*> titles;
    std::vector<const float*> values;
    for (int i = 0; i < n; ++i) titles.push_back(m_titles[i].c_str()), values.push_back(a.Overview(i / a.n_heads, i % a.n_heads));
    if (a.overview_bin > 1)
      ImGui::TextDisabled("Every head on your prompt (query down, key across), in blocks of %d x %d tokens. * = active "
                          "on it. Click one to select it, right-click to turn it off.", a.overview_bin, a.overview_bin);
    else
      ImGui::TextDisabled("Every head on your prompt (query down, key across). * = active on it. Click one to "
                          "select it, right-click to turn it off.");
    if (!a.intervention.empty())
      ImGui::TextColored(ImVec4(0.7f, 0.35f, 0, 1), "With %s turned off: a turned-off head still attends (shown), but "
                         "its output is removed, so the heads after it change.", a.intervention.c_str());
    widgets::FacetSpec spec;
    spec.columns = a.n_heads;
    spec.titles = titles.data();
    spec.heatmap.vmin = 0;
    spec.heatmap.vmax = 1;
    spec.heatmap.axis_ticks = false;
    spec.heatmap.value_label = "attention";
    spec.heatmap.stale = !m.analysis_current;
    spec.heatmap.version = m_version;
    // The facet under the mouse, from FacetGrid's layout (its columns, the
    // colour bar's width at the right, equal rows).
    const ImVec2 origin = ImGui::GetCursorScreenPos(), avail = ImGui::GetContentRegionAvail();
    const int clicked = widgets::FacetGrid("##thumbs", values.data(), n, a.overview_size, a.overview_size, spec);
    if (clicked >= 0) out.head = std::make_pair(clicked / a.n_heads, clicked % a.n_heads);
    const float fw = (avail.x - ImGui::GetFontSize() * 4.5f) / a.n_heads;
    const float fh = (ImGui::GetCursorScreenPos().y - ImGui::GetStyle().ItemSpacing.y - origin.y) / std::max(1, a.n_layers);
    const ImVec2 mouse = ImGui::GetIO().MousePos;
    std::optional<std::pair<int, int>> menu;
    if (ImGui::IsWindowHovered() && ImGui::IsMouseClicked(ImGuiMouseButton_Right) && fw > 0 && fh > 0 &&
        mouse.x >= origin.x && mouse.y >= origin.y) {
      const int col = int((mouse.x - origin.x) / fw), row = int((mouse.y - origin.y) / fh);
      if (col < a.n_heads && row < a.n_layers) menu = std::make_pair(row, col);
    }
    HeadMenu("##thumb_menu", menu.has_value(), menu ? menu->first : -1, menu ? menu->second : -1, m, out);
  }

 private:
  std::shared_ptr<const lm::PromptAnalysis> m_for;
  std::vector<std::pair<int, int>> m_off_for;
  std::vector<std::string> m_titles;
  uint64_t m_version = 0;
};

const bool kHeadThumbnailsPanelRegistered = RegisterPanel({"head_thumbnails", "Model view: every head's attention",
                                        WorkspaceKind::LanguageModel, "Model view", 150, 0, 1.0f, true,
                                        [] { return std::make_unique<HeadThumbnailsPanel>(); }});

}  // namespace
}  // namespace hs::app
