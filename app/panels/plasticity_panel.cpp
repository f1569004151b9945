// Attention plasticity: a layer x head heatmap of ap_overall
// (1: content can still reorder keys; 0: position decides), and for the
// selected head its query-bucket x key-bucket plasticity and the share of
// positional information per query component; the head's roles beside it,
// and each role's mean plasticity ("are induction heads more plastic?").
// Computed on demand in the background (a progress bar, cancellable), saved
// as the method's three CSVs in MODEL_DIR/plasticity/ and read from there.
#include <imgui.h>

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "heatmap.h"
#include "line_plot.h"
#include "lm_panel_common.h"

namespace hs::app {
namespace {
namespace pl = library::plasticity;

class PlasticityPanel : public Panel {
 public:
  void Draw(const ViewContext& v, PanelOutput& out) override {
    m_waiting = false;
    m_errors.clear();
    m_warnings.clear();
    if (!HasModelToShow(v)) return;
    const LmView& m = *v.lm;
    const auto& cats = m.model->categories;
    if (!m.plasticity_status.empty()) {
      m_waiting = true;
      char text[160];
      std::snprintf(text, sizeof text, "%s (%.0f%%)", m.plasticity_status.c_str(),
                    100.0f * std::max(0.0f, m.plasticity_fraction));
      ImGui::ProgressBar(std::max(0.0f, m.plasticity_fraction), ImVec2(ImGui::GetFontSize() * 24, 0), text);
      ImGui::SameLine();
      if (ImGui::SmallButton("Cancel")) out.cancel_plasticity = true;
      return;
    }
    if (!m.plasticity_error.empty()) {
      m_errors.push_back(m.plasticity_error);
      ErrorText(m.plasticity_error);
    }
    m_warnings.clear();
    if (!m.plasticity_warning.empty()) {
      m_warnings.push_back(m.plasticity_warning);
      WarningText(m.plasticity_warning);
    }
    if (!m.plasticity) {
      EmptyState("Attention plasticity: for each head, how much the content of two keys (rather than their "
                 "positions) can still decide which one its queries prefer. headscope runs the model over a "
                 "corpus (50,000 tokens of /usr/share/common-licenses), records every head's queries and keys "
                 "after rotary, and analyses them (about 15 s for the demo LM, minutes for GPT-2 small).");
      ImGui::SetCursorPosX((ImGui::GetWindowWidth() - ImGui::GetFontSize() * 12) * 0.5f);
      if (ImGui::Button("Compute plasticity")) out.compute_plasticity = true;
      if (ImGui::IsItemHovered())
        ImGui::SetTooltip("Same as `headscope plasticity MODEL_DIR`; writes MODEL_DIR/plasticity/*.csv");
      return;
    }
    const auto& rs = *m.plasticity;
    const int L = cats.n_layers, H = cats.n_heads;
    if (m_for != m.plasticity) Build(rs, L, H), m_for = m.plasticity;
    const float fh = ImGui::GetFontSize();
    const ImVec2 avail = ImGui::GetContentRegionAvail();
    // Left: ap_overall per head.
    ImGui::BeginChild("##ap_grid", ImVec2(avail.x * 0.42f, 0), false);
    widgets::HeatmapSpec spec;
    spec.title = "ap_overall per head";
    spec.x_label = "head";
    spec.y_label = "layer";
    spec.value_label = "plasticity";
    spec.vmin = 0;
    spec.vmax = 1;
    spec.colormap = widgets::Colormap::Viridis;
    spec.version = m_version;
    spec.size = ImVec2(-1, std::min(ImGui::GetContentRegionAvail().y - fh * 9,
                                    ImGui::GetContentRegionAvail().x * float(L) / float(H) + fh * 4));
    widgets::HeatmapState st;
    if (widgets::Heatmap("##ap", m_ap.data(), L, H, spec, &st) && st.row >= 0)
      out.head = std::make_pair(st.row, st.col);
    if (m.layer >= 0 && m.layer < L && m.head >= 0 && m.head < H) {
      const float cw = (st.plot_max.x - st.plot_min.x) / H, ch = (st.plot_max.y - st.plot_min.y) / L;
      const ImVec2 a(st.plot_min.x + m.head * cw + 1, st.plot_min.y + m.layer * ch + 1);
      ImGui::GetWindowDrawList()->AddRect(a, ImVec2(a.x + cw - 2, a.y + ch - 2), IM_COL32(220, 50, 47, 255), 0, 0,
                                          2.5f);
    }
    // Roles against plasticity.
    ImGui::TextUnformatted("Mean ap_overall of each role's top heads:");
    for (const auto& c : cats.categories) {
      double sum = 0;
      int n = 0;
      for (const auto& t : c.top_heads) {
        const float a = m_ap[size_t(t.layer) * H + t.head];
        if (std::isfinite(a)) sum += a, ++n;
      }
      const auto* def = library::FindCategoryDef(c.key);
      if (n)
        ImGui::TextColored(ImGui::ColorConvertU32ToFloat4(CategoryColor(c.key)), "  %-16s %.3f  (%d heads)",
                           def->display_name.c_str(), sum / n, n);
      else
        ImGui::TextDisabled("  %-16s no heads", def->display_name.c_str());
    }
    ImGui::TextDisabled("Model mean %.3f over %d heads.", m_mean, int(rs.size()));
    ImGui::EndChild();
    ImGui::SameLine();
    // Right: the selected head.
    ImGui::BeginChild("##ap_head", ImVec2(0, 0), false);
    const pl::HeadResult* h = nullptr;
    for (const auto& r : rs)
      if (r.layer == m.layer && r.q_head == m.head) h = &r;
    if (!h) {
      EmptyState("Click a head in the grid.");
      ImGui::EndChild();
      return;
    }
    std::string roles;
    for (const auto& k : cats.RolesOf(h->layer, h->q_head))
      roles += (roles.empty() ? "" : ", ") + library::FindCategoryDef(k)->display_name;
    ImGui::Text("L%dH%d (key head %d): ap_overall %.3f; roles: %s", h->layer, h->q_head, h->k_head, h->ap_overall,
                roles.empty() ? "none" : roles.c_str());
    ImGui::TextDisabled("q R^2 on position %.3f, log-position predictable from the projection: R^2 %.3f; %d tokens",
                        h->q_R2_pos, h->q_R2_scalar, h->n_q);
    if (m_cells_for != h) BuildCells(*h), m_cells_for = h, ++m_version;
    widgets::HeatmapSpec bs;
    bs.title = "plasticity per query bucket x key bucket (floor log2 position); gray: none";
    bs.x_label = "key bucket";
    bs.y_label = "q bucket";
    bs.value_label = "plasticity";
    bs.vmin = 0;
    bs.vmax = 1;
    bs.version = m_version;
    bs.size = ImVec2(-1, ImGui::GetContentRegionAvail().y * 0.6f);
    widgets::Heatmap("##cells", m_cells.data(), m_nb, m_nb, bs);
    widgets::LineSeries w{"weight", m_components.data(), m_weights.data(), int(m_weights.size())};
    w.step = true;
    w.markers = true;
    w.color = CategoryColor("previous_token");
    widgets::LinePlotSpec ws;
    ws.x_label = "query component (head dimension)";
    ws.y_label = "share of positional information (R^2 on position, normalised)";
    ws.y_min = 0;
    ws.size = ImVec2(-1, std::max(fh * 6, ImGui::GetContentRegionAvail().y));
    widgets::LinePlot("##weights", &w, 1, ws);
    ImGui::EndChild();
  }
  bool Waiting() const override { return m_waiting; }
  std::vector<std::string> Errors() const override { return m_errors; }
  std::vector<std::string> Warnings() const override { return m_warnings; }

 private:
  void Build(const std::vector<pl::HeadResult>& rs, int L, int H) {
    m_ap.assign(size_t(L) * H, NAN);
    double sum = 0;
    int n = 0;
    for (const auto& r : rs)
      if (r.layer < L && r.q_head < H) {
        m_ap[size_t(r.layer) * H + r.q_head] = float(r.ap_overall);
        if (std::isfinite(r.ap_overall)) sum += r.ap_overall, ++n;
      }
    m_mean = n ? sum / n : NAN;
    m_cells_for = nullptr;
    ++m_version;
  }
  void BuildCells(const pl::HeadResult& h) {
    m_nb = 1;
    for (const auto& c : h.cells) m_nb = std::max(m_nb, c.q_bucket + 1);
    m_cells.assign(size_t(m_nb) * m_nb, NAN);
    for (const auto& c : h.cells) m_cells[size_t(c.q_bucket) * m_nb + c.k_bucket] = float(c.plasticity);
    m_weights.assign(h.component_weight.begin(), h.component_weight.end());
    m_components.clear();
    for (size_t j = 0; j < m_weights.size(); ++j) m_components.push_back(float(j));
  }
  bool m_waiting = false;
  std::vector<std::string> m_errors, m_warnings;
  std::shared_ptr<const std::vector<pl::HeadResult>> m_for;
  const pl::HeadResult* m_cells_for = nullptr;
  std::vector<float> m_ap, m_cells, m_weights, m_components;
  int m_nb = 1;
  double m_mean = 0;
  uint64_t m_version = 0;
};

const bool kPlasticityPanelRegistered = RegisterPanel({"plasticity", "Attention plasticity per head", WorkspaceKind::LanguageModel,
                                        "Plasticity", 160, 0, 1.0f, true,
                                        [] { return std::make_unique<PlasticityPanel>(); }});

}  // namespace
}  // namespace hs::app
