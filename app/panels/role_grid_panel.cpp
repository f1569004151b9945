// Layer x head grids of every category's offline score (head_categories.json
// all_scores), one per role on a shared 0..1 scale; the top heads of each
// role outlined, the selected head in red, heads turned off crossed out.
// Hover for the score; click a cell to select that head, right-click it to
// turn it off.
#include <imgui.h>

#include <algorithm>
#include <cstdio>
#include <optional>

#include "heatmap.h"
#include "lm_panel_common.h"

namespace hs::app {
namespace {

class RoleGridPanel : public Panel {
 public:
  void Draw(const ViewContext& v, PanelOutput& out) override {
    if (!HasModelToShow(v)) return;
    const LmView& m = *v.lm;
    const auto& cats = m.model->categories;
    const int L = cats.n_layers, H = cats.n_heads;
    if (m_for != m.model) {  // float copies of the scores, built once per model
      m_values.clear();
      for (const auto& c : cats.categories) {
        if (c.key == "other") continue;
        std::vector<float> g(size_t(L) * H);
        for (int l = 0; l < L; ++l)
          for (int h = 0; h < H; ++h) g[size_t(l) * H + h] = float(c.all_scores[l][h]);
        m_values.emplace_back(c.key, std::move(g));
      }
      if (!cats.sink_random.empty()) {  // the attention sink on random tokens (on text it is the first-token score)
        std::vector<float> g(size_t(L) * H);
        for (int l = 0; l < L; ++l)
          for (int h = 0; h < H; ++h) g[size_t(l) * H + h] = float(cats.sink_random[l][h]);
        m_values.emplace_back("sink_random", std::move(g));
      }
      m_for = m.model;
      ++m_version;  // textures are keyed by data pointer and version
    }
    const bool no_tokenizer = cats.method.prompts_file.rfind("random token ids", 0) == 0;
    ImGui::TextDisabled("Offline scores over %d random repeated sequences and %d %s (head_categories.json).",
                        cats.method.n_repeated, cats.method.n_sentences,
                        no_tokenizer ? "random token sequences (the model has no tokenizer)" : "sentences");
    if (cats.has_weight_roles) {
      ImGui::TextDisabled("Copying, copy suppression, successor: from the weights (hover for how).");
      if (ImGui::IsItemHovered())
        ImGui::SetTooltip("Read from each head's OV circuit, no prompt: the share of tokens whose own token (successor:\n"
                          "the next item of its sequence) ranks in the top (suppression: bottom) %d of the head's\n"
                          "output over %s.\nSink (random tokens): mean attention to the first token on %d prompts of\n"
                          "random tokens; a first-token head that also scores high here is an attention sink.",
                          cats.weights_method.k, cats.weights_method.token_set.c_str(), cats.weights_method.sink_prompts);
    }
    const float fh = ImGui::GetFontSize();
    const int n = int(m_values.size());
    const ImVec2 avail = ImGui::GetContentRegionAvail();
    const float cb = fh * 4.2f;  // one colour bar for all, at the right
    // The column count that gives the largest cells (titles and axes take ~3 lines and ~3 characters).
    int columns = 1;
    float best = -1;
    for (int c = 1; c <= std::max(1, n); ++c) {
      const int r = (n + c - 1) / c;
      const float cw = (avail.x - cb) / c - fh * 3.5f, chh = avail.y / r - fh * 3.5f;
      const float cell = std::min(cw / float(std::max(H, 1)), chh / float(std::max(L, 1)));
      if (cell > best + 0.5f) best = cell, columns = c;
    }
    const int rows = (n + columns - 1) / columns;
    const float w = (avail.x - cb) / columns - ImGui::GetStyle().ItemSpacing.x;
    const float h = std::max(fh * 5, avail.y / rows - ImGui::GetStyle().ItemSpacing.y);
    const ImVec2 origin = ImGui::GetCursorScreenPos();
    std::optional<std::pair<int, int>> menu;  // a head right-clicked this frame
    for (int i = 0; i < n; ++i) {
      const auto& [key, g] = m_values[i];
      const library::CategoryDef* def = library::FindCategoryDef(key);
      ImGui::SetCursorScreenPos(ImVec2(origin.x + (i % columns) * (w + ImGui::GetStyle().ItemSpacing.x),
                                       origin.y + (i / columns) * (h + ImGui::GetStyle().ItemSpacing.y)));
      widgets::HeatmapSpec spec;
      spec.title = def ? def->display_name.c_str() : "Sink (random tokens)";
      spec.x_label = "head";
      spec.y_label = "layer";
      spec.value_label = "score";
      spec.vmin = 0;
      spec.vmax = 1;
      spec.colorbar = false;
      spec.size = ImVec2(w, h);
      spec.equal_aspect = false;
      spec.version = m_version;
      widgets::HeatmapState st;
      if (widgets::Heatmap(key.c_str(), g.data(), L, H, spec, &st) && st.row >= 0) {
        out.head = std::make_pair(st.row, st.col);
        if (def) out.category = key;
      }
      if (RightClicked(st.hovered)) menu = std::make_pair(st.row, st.col);
      // Outline the category's top heads; the selected head in red.
      ImDrawList* dl = ImGui::GetWindowDrawList();
      const float cw = (st.plot_max.x - st.plot_min.x) / H, ch = (st.plot_max.y - st.plot_min.y) / L;
      auto cell = [&](int l, int hd, ImU32 col, float t) {
        const ImVec2 a(st.plot_min.x + hd * cw + 1, st.plot_min.y + l * ch + 1);
        dl->AddRect(a, ImVec2(a.x + cw - 2, a.y + ch - 2), col, 0, 0, t);
      };
      if (const library::CategoryResult* r = cats.Find(key))
        for (const auto& t : r->top_heads) cell(t.layer, t.head, IM_COL32(255, 255, 255, 230), 1.5f);
      if (!def)  // the sink grid: outline the sinks
        for (int l = 0; l < L; ++l)
          for (int hd = 0; hd < H; ++hd)
            if (cats.IsSink(l, hd)) cell(l, hd, IM_COL32(255, 255, 255, 230), 1.5f);
      if (m.layer >= 0 && m.layer < L && m.head >= 0 && m.head < H) cell(m.layer, m.head, IM_COL32(220, 50, 47, 255), 2.5f);
      for (const auto& [ol, oh] : m.off_heads) {  // turned off: crossed out
        if (ol >= L || oh >= H) continue;
        const ImVec2 a(st.plot_min.x + oh * cw + 3, st.plot_min.y + ol * ch + 3), b(a.x + cw - 6, a.y + ch - 6);
        dl->AddLine(a, b, IM_COL32(20, 20, 20, 220), 2.0f);
        dl->AddLine(ImVec2(a.x, b.y), ImVec2(b.x, a.y), IM_COL32(20, 20, 20, 220), 2.0f);
      }
    }
    HeadMenu("##grid_menu", menu.has_value(), menu ? menu->first : -1, menu ? menu->second : -1, m, out);
    ImGui::SetCursorScreenPos(ImVec2(origin.x + avail.x - cb + fh * 0.5f, origin.y + fh * 1.3f));
    widgets::ColorBar("##grid_cb", widgets::Colormap::Viridis, 0, 1, ImVec2(cb - fh * 0.5f, std::max(fh * 3, h - fh * 4)),
                      "score");
    ImGui::SetCursorScreenPos(ImVec2(origin.x, origin.y + rows * (h + ImGui::GetStyle().ItemSpacing.y)));
    ImGui::TextDisabled("White outline: the category's top heads. Red: the selected head.%s Click a cell to select it; "
                        "right-click it to turn it off.", m.off_heads.empty() ? "" : " Crossed out: turned off.");
  }

 private:
  std::shared_ptr<const lm::LmModel> m_for;
  std::vector<std::pair<std::string, std::vector<float>>> m_values;
  uint64_t m_version = 0;
};

const bool kRoleGridPanelRegistered = RegisterPanel({"role_grid", "Role scores of every head (layer x head)",
                                        WorkspaceKind::LanguageModel, "Head roles", 130, 1, 0.4f, true,
                                        [] { return std::make_unique<RoleGridPanel>(); }});

}  // namespace
}  // namespace hs::app
