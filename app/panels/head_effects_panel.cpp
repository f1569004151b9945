// Head effects: which head matters where on the user's prompt. A heads x
// positions map of attribution patching (the causal checks' mask 0: the
// first-order estimate of how much the summed loss changes when one head's
// output is ablated at one position), red where removing the head there
// raises the loss; beside it each head's exact effect over the whole prompt
// (ablated everywhere, CausalChecks::Rise) with the estimate's tick. Click a
// cell for the exact ablation of that head at that position (CleanRun,
// recomputed from the head's layer), shown against the estimate; right-click
// a row to turn the head off. Everything comes from the workspace's checks
// request (final weights, every head on) and the cell request; nothing runs
// on the UI thread.
#include <imgui.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <optional>

#include "heatmap.h"
#include "lm_panel_common.h"
#include "workspace.h"

namespace hs::app {
namespace {

class HeadEffectsPanel : public PromptPanel {
 public:
  void Draw(const ViewContext& v, PanelOutput& out) override {
    if (!Begin(v)) return;
    const LmView& m = *v.lm;
    if (!m.checks) {
      if (!m.checks_unavailable.empty()) {
        EmptyState(("No head effects: " + m.checks_unavailable + ".").c_str());
      } else if (!m.checks_error.empty()) {
        ErrorText("head effects: " + m.checks_error);
        m_status.errors.push_back(m.checks_error);
      } else {
        m_status.waiting = true;
        TextProgressBar(m.checks_fraction, ("measuring every head's effect: " + m.checks_status).c_str());
        EmptyState("Ablating every head on your prompt (in the background)...");
      }
      return;
    }
    const lm::CausalChecks& c = *m.checks;
    const int L = c.n_layers, H = c.n_heads, T = int(c.tokens.size());
    const bool stale = !m.checks_current;
    if (stale && m.checks_unavailable.empty() && m.checks_error.empty()) m_status.waiting = true;
    if (m_for != m.checks || m_off_for != m.off_heads) Rebuild(m);
    const float fh = ImGui::GetFontSize();
    const char* mode = c.mode == lm::AblationMode::kMean ? "its mean output" : "zeros";
    ImGui::PushTextWrapPos(0);
    ImGui::TextDisabled("Each cell estimates (attribution patching: one forward and one backward for all heads) how much "
                        "the loss summed over the prompt changes when one head's output is replaced by %s at one "
                        "position. Red: removing it there hurts (the head helps); blue: removing it helps. Click a cell "
                        "for the exact ablation.", mode);
    ImGui::PopTextWrapPos();
    if (stale) {
      if (!m.checks_unavailable.empty())
        ImGui::TextColored(ImVec4(0.7f, 0.35f, 0, 1), "Of an earlier prompt: %s.", m.checks_unavailable.c_str());
      else if (!m.checks_status.empty())
        TextProgressBar(m.checks_fraction, ("updating: " + m.checks_status).c_str());
    }
    if (!m.off_heads.empty())
      ImGui::TextColored(ImVec4(0.7f, 0.35f, 0, 1), "Measured with every head on (the heads you turned off included).");
    const bool have_attr = c.attribution_error.empty() && !c.attribution.effect.empty() &&
                           c.attribution.effect[0].size() == size_t(L) * H * T;
    if (!have_attr) WarningText("No attribution patching on this model (" + c.attribution_error +
                                "); the exact whole-prompt effects only.");

    // Layout: the map, the exact column, the colour bar.
    const ImVec2 avail = ImGui::GetContentRegionAvail();
    const float side_w = fh * 11, cb_w = fh * 5.5f, info_h = ImGui::GetTextLineHeightWithSpacing() * 3.2f;
    const ImVec2 origin = ImGui::GetCursorScreenPos();
    const float map_h = std::max(fh * 8, avail.y - info_h);
    widgets::HeatmapState st;
    std::optional<std::pair<int, int>> menu;
    float vmax = 1e-6f;
    if (have_attr) {
      for (float e : c.attribution.effect[0]) vmax = std::max(vmax, std::fabs(e));
      widgets::HeatmapSpec spec =
          EffectMapSpec(vmax, "estimated change of the summed loss when a head is removed at one position",
                        "position (token)", "head", "estimated change (nats)", "%+.4f", m_x_ptrs, m_y_ptrs);
      spec.size = ImVec2(std::max(fh * 10, avail.x - side_w - cb_w), map_h);
      spec.stale = stale;
      spec.version = m_version;
      if (widgets::Heatmap("##effects", c.attribution.effect[0].data(), L * H, T, spec, &st) && st.row >= 0)
        m_sel = {st.row / H, st.row % H, st.col}, m_user_pick = true;
      if (RightClicked(st.hovered)) menu = std::make_pair(st.row / H, st.row % H);
      if (st.hovered) {  // appended to the heatmap's tooltip
        ImGui::BeginTooltip();
        const double rise = c.Rise(st.row / H, st.row % H);
        if (!std::isnan(rise))
          ImGui::Text("%s removed everywhere (exact): %+.3f nats a token", HeadName(st.row / H, st.row % H).c_str(), rise);
        ImGui::TextDisabled("Click for the exact ablation at this position; right-click to turn the head off.");
        ImGui::EndTooltip();
      }
      // The selected cell.
      ImDrawList* dl = ImGui::GetWindowDrawList();
      const float cw = (st.plot_max.x - st.plot_min.x) / T, ch = (st.plot_max.y - st.plot_min.y) / (L * H);
      if (m_sel.l >= 0) {
        const ImVec2 a(st.plot_min.x + m_sel.p * cw, st.plot_min.y + (m_sel.l * H + m_sel.h) * ch);
        dl->AddRect(a, ImVec2(a.x + cw, a.y + ch), IM_COL32(0, 0, 0, 255), 0, 0, 2.0f);
      }
    } else {
      st.plot_min = ImVec2(origin.x + fh * 4, origin.y + fh * 1.3f);
      st.plot_max = ImVec2(origin.x + fh * 4, origin.y + map_h - fh * 2.4f);
      ImGui::Dummy(ImVec2(avail.x - side_w - cb_w, map_h));
    }
    DrawExactColumn(c, st, ImVec2(st.plot_max.x + (have_attr ? fh * 1.0f : 0), origin.y), side_w - fh * 1.5f, &menu);
    if (have_attr) {
      ImGui::SetCursorScreenPos(ImVec2(st.plot_max.x + side_w, st.plot_min.y));
      widgets::ColorBar("##effects_cb", widgets::Colormap::Diverging, -vmax, vmax,
                        ImVec2(cb_w - fh * 0.5f, st.plot_max.y - st.plot_min.y), nullptr);
      ImGui::GetWindowDrawList()->AddText(ImVec2(st.plot_max.x + side_w, st.plot_min.y - fh * 1.3f),
                                          ImGui::GetColorU32(ImGuiCol_Text), "nats");
    }
    ImGui::SetCursorScreenPos(ImVec2(origin.x, origin.y + map_h + ImGui::GetStyle().ItemSpacing.y));
    HeadMenu("##effects_menu", menu.has_value(), menu ? menu->first : -1, menu ? menu->second : -1, m, out);
    if (have_attr) DrawSelected(v, m, c);
  }

 private:
  struct Cell {
    int l = -1, h = -1, p = -1;
  };

  void Rebuild(const LmView& m) {
    const lm::CausalChecks& c = *m.checks;
    const int L = c.n_layers, H = c.n_heads, T = int(c.tokens.size());
    std::vector<std::string> text;
    if (m.analysis && m.analysis->tokens == c.tokens) {
      text = m.analysis->token_text;
    } else {
      for (int64_t t : c.tokens) {
        try {
          text.push_back(m.model->lm->tokenizer().TokenText(t));
        } catch (const std::exception&) {
          text.push_back("#" + std::to_string(t));
        }
      }
    }
    m_tokens = TokenLabels(text);
    m_x = m_tokens;
    m_y.clear();
    for (int l = 0; l < L; ++l)
      for (int h = 0; h < H; ++h) m_y.push_back(HeadName(l, h) + (m.IsOff(l, h) ? " (off)" : ""));
    m_x_ptrs.clear(), m_y_ptrs.clear();
    for (const auto& s : m_x) m_x_ptrs.push_back(s.c_str());
    for (const auto& s : m_y) m_y_ptrs.push_back(s.c_str());
    // A new prompt: the cell with the largest estimate is selected (its exact
    // ablation runs at once); the user's pick is kept while it exists.
    const bool keep = m_user_pick && m_sel.l >= 0 && m_sel.l < L && m_sel.h < H && m_sel.p < T;
    if (!keep && c.attribution_error.empty() && !c.attribution.effect.empty()) {
      const auto& e = c.attribution.effect[0];
      size_t best = 0;
      for (size_t i = 1; i < e.size(); ++i)
        if (std::fabs(e[i]) > std::fabs(e[best])) best = i;
      if (!e.empty()) m_sel = {int(best / (size_t(H) * T)), int(best / T % H), int(best % T)};
      m_user_pick = false;
    }
    m_for = m.checks;
    m_off_for = m.off_heads;
    ++m_version;
  }

  // Each head's exact effect over the whole prompt (mean loss rise per token
  // when ablated at every position), one bar per map row, with the
  // attribution estimate of the same as a tick.
  void DrawExactColumn(const lm::CausalChecks& c, const widgets::HeatmapState& st, ImVec2 at, float w,
                       std::optional<std::pair<int, int>>* menu) {
    const int L = c.n_layers, H = c.n_heads, T = int(c.tokens.size());
    ImDrawList* dl = ImGui::GetWindowDrawList();
    const float fh = ImGui::GetFontSize();
    const ImU32 text = ImGui::GetColorU32(ImGuiCol_Text), dim = ImGui::GetColorU32(ImGuiCol_TextDisabled);
    const bool have_attr = c.attribution_error.empty() && !c.attribution.effect.empty();
    double scale = 1e-6;
    for (int l = 0; l < L; ++l)
      for (int h = 0; h < H; ++h) {
        const double r = c.Rise(l, h);
        if (!std::isnan(r)) scale = std::max(scale, std::fabs(r));
        if (have_attr) scale = std::max(scale, std::fabs(c.attribution.Total(0, l, h) / std::max(1, T - 1)));
      }
    const float x0 = at.x, y0 = st.plot_min.y, y1 = st.plot_max.y, ch = (y1 - y0) / (L * H);
    dl->AddText(ImVec2(x0, at.y), text, "exact, every position");
    const float text_w = fh * 3.2f, bw = w - text_w;  // bars from the zero line
    const float zero = x0 + bw * 0.5f;
    dl->AddLine(ImVec2(zero, y0), ImVec2(zero, y1), dim);
    const ImVec2 mouse = ImGui::GetIO().MousePos;
    const bool hovered_col = ImGui::IsWindowHovered() && mouse.x >= x0 && mouse.x < x0 + w && mouse.y >= y0 && mouse.y < y1;
    for (int r = 0; r < L * H; ++r) {
      const int l = r / H, h = r % H;
      const double rise = c.Rise(l, h);
      const float yc = y0 + (r + 0.5f) * ch, half = std::max(1.0f, std::min(ch * 0.35f, fh * 0.45f));
      char buf[32];
      if (std::isnan(rise)) {
        std::snprintf(buf, sizeof buf, "n/a");
      } else {
        const float x = zero + float(rise / scale) * bw * 0.5f;
        dl->AddRectFilled(ImVec2(std::min(zero, x), yc - half), ImVec2(std::max(zero, x), yc + half),
                          rise >= 0 ? IM_COL32(202, 70, 60, 255) : IM_COL32(60, 110, 190, 255));
        std::snprintf(buf, sizeof buf, "%+.2f", rise);
      }
      if (have_attr) {  // the estimate's tick
        const float xe = zero + float(c.attribution.Total(0, l, h) / std::max(1, T - 1) / scale) * bw * 0.5f;
        dl->AddLine(ImVec2(xe, yc - half - 2), ImVec2(xe, yc + half + 2), IM_COL32(20, 20, 20, 255), 2.0f);
      }
      if (ch >= fh * 0.9f) dl->AddText(ImVec2(x0 + bw + 4, yc - fh * 0.5f), text, buf);
      if (hovered_col && mouse.y >= yc - ch * 0.5f && mouse.y < yc + ch * 0.5f) {
        ImGui::BeginTooltip();
        ImGui::Text("%s ablated at every position (exact, %s):", HeadName(l, h).c_str(),
                    c.mode == lm::AblationMode::kMean ? "mean" : "zero");
        if (std::isnan(rise))
          ImGui::TextUnformatted("not measured exactly (only the heads with the largest estimates are)");
        else
          ImGui::Text("the loss rises by %+.4f nats a token (%+.3f nats summed over %d tokens)", rise, rise * (T - 1), T - 1);
        if (have_attr)
          ImGui::Text("attribution patching's estimate (black tick): %+.4f nats a token",
                      c.attribution.Total(0, l, h) / std::max(1, T - 1));
        ImGui::TextDisabled("Right-click to turn it off.");
        ImGui::EndTooltip();
        if (ImGui::IsMouseClicked(ImGuiMouseButton_Right)) *menu = std::make_pair(l, h);
      }
    }
    char lo[32];
    std::snprintf(lo, sizeof lo, "nats a token (max %.2f)", scale);
    dl->AddText(ImVec2(x0, y1 + 4), dim, lo);
    dl->AddText(ImVec2(x0, y1 + 4 + fh), dim, "bar: exact, tick: estimate");
  }

  // The selected cell: estimate against the exact ablation at that position.
  void DrawSelected(const ViewContext& v, const LmView& m, const lm::CausalChecks& c) {
    const int H = c.n_heads, T = int(c.tokens.size());
    if (m_sel.l < 0 || m_sel.l >= c.n_layers || m_sel.h >= H || m_sel.p >= T) {
      ImGui::TextDisabled("Click a cell: the exact ablation of that head at that position, against the estimate.");
      return;
    }
    const float est = c.attribution.effect[0][(size_t(m_sel.l) * H + m_sel.h) * T + m_sel.p];
    const std::string head = HeadName(m_sel.l, m_sel.h);
    ImGui::Text("%s at position %d '%s':", head.c_str(), m_sel.p, m_tokens[size_t(m_sel.p)].c_str());
    ImGui::SameLine();
    ImGui::Text("estimate %+.4f nats,", est);
    ImGui::SameLine();
    if (!m.checks_current) {
      ImGui::TextDisabled("exact: once the checks of this prompt are in");
      return;
    }
    LmPromptKey key = m.analysis_key;
    key.intervention.clear();
    const Result<LmCellAblation> r =
        v.requests->CellAblation(m.model, key, c.tokens, m_sel.l, m_sel.h, m_sel.p, c.mode, m.means);
    if (r.pending) {
      m_status.waiting = true;
      ImGui::TextDisabled("exact: computing...");
    } else if (!r.error.empty()) {
      ImGui::TextColored(ImVec4(0.8f, 0.1f, 0.1f, 1), "exact: %s", r.error.c_str());
    } else if (r.value) {
      const LmCellAblation& e = *r.value;
      ImGui::Text("exact %+.4f nats", e.total);
      if (ImGui::IsItemHovered())
        ImGui::SetTooltip("The loss summed over the prompt, recomputed from layer %d on with %s's output\n"
                          "replaced by %s at position %d only.",
                          m_sel.l, head.c_str(), c.mode == lm::AblationMode::kMean ? "its mean" : "zeros", m_sel.p);
      // Where it acts: the loss entry it changes most.
      int worst = -1;
      for (size_t i = 0; i < e.change.size(); ++i)
        if (worst < 0 || std::fabs(e.change[i]) > std::fabs(e.change[size_t(worst)])) worst = int(i);
      if (worst >= 0 && std::fabs(e.change[size_t(worst)]) > 1e-4) {
        ImGui::SameLine();
        ImGui::TextDisabled("(most on predicting token %d '%s': %+.3f)", worst + 1, m_tokens[size_t(worst) + 1].c_str(),
                            e.change[size_t(worst)]);
      }
    }
    ImGui::TextDisabled("%s ablation (%s). %d heads measured exactly in %.0f ms; attribution in %.0f ms.",
                        c.mode == lm::AblationMode::kMean ? "Mean" : "Zero",
                        c.mode == lm::AblationMode::kMean ? "each head's mean output over natural sentences" : "outputs set to 0",
                        c.measured, c.exact_ms, c.attribution.forward_ms + c.attribution.backward_ms);
  }

  std::shared_ptr<const lm::CausalChecks> m_for;
  std::vector<std::pair<int, int>> m_off_for;
  std::vector<std::string> m_tokens, m_x, m_y;
  std::vector<const char*> m_x_ptrs, m_y_ptrs;
  uint64_t m_version = 0;
  Cell m_sel;
  bool m_user_pick = false;
};

const bool kHeadEffectsPanelRegistered = RegisterPanel({"head_effects", "Head effects: what removing a head changes",
                                                        WorkspaceKind::LanguageModel, "Head effects", 170, 0, 1.0f, true,
                                                        [] { return std::make_unique<HeadEffectsPanel>(); }});

}  // namespace
}  // namespace hs::app
