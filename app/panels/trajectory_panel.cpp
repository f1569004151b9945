// The parameter trajectory: every checkpoint's weights (flattened) projected
// on the trajectory's first two principal components, coloured by epoch,
// and each weight matrix's participation ratio (effective dimensionality)
// over training, from artifacts/progress_measures/summary.npz.
#include <imgui.h>

#include <algorithm>
#include <cfloat>
#include <cstdio>

#include "colormap.h"
#include "findings_file.h"
#include "line_plot.h"
#include "panel.h"
#include "analyzers/progress_analyzer.h"

namespace hs::app {
namespace {

class TrajectoryPanel : public StatusPanel {
 public:
  void Draw(const ViewContext& v, PanelOutput& out) override {
    m_status.Reset();
    if (!v.run) return;
    const auto summary = m_summary.Fetch(v, m_status);
    if (!summary) {
      if (m_status.errors.empty())
        SummaryEmptyState(v, m_status, "Analysing; the trajectory appears once every checkpoint is done.",
                          "The trajectory is computed from every checkpoint by `headscope analyze`.", &out.analyze_all);
      return;
    }
    if (m_built != summary) Build(summary);
    const int n = int(m_x.size());
    const float avail_y = ImGui::GetContentRegionAvail().y - ImGui::GetStyle().ItemSpacing.y;
    DrawScatter(v, std::max(160.0f, avail_y * 0.55f), out);
    std::vector<widgets::LineSeries> pr;
    for (size_t m = 0; m < m_pr.size(); ++m) pr.push_back({m_pr_labels[m].c_str(), m_x.data(), m_pr[m].data(), n});
    if (pr.size() > 8) pr[8].color = IM_COL32(0, 0, 0, 255);  // the palette has 8 colours
    widgets::LinePlotSpec spec;
    spec.x_label = "epoch";
    spec.y_label = "participation ratio (effective dimensionality)";
    spec.marker_x = v.epoch >= 0 ? float(v.epoch) : NAN;
    spec.log_y = true;
    spec.size = ImVec2(-1, std::max(120.0f, ImGui::GetContentRegionAvail().y));
    float clicked = NAN;
    if (widgets::LinePlot("##pr", pr.data(), int(pr.size()), spec, &clicked)) out.jump_to_epoch = int(clicked);
  }

 private:
  void Build(const std::shared_ptr<const io::NpzArchive>& from) {
    m_built = from;
    const io::NpzArchive& s = *from;
    m_x = s.at("epochs").ToFloat();
    const auto pca = s.at("pca").ToFloat();
    m_pc1.clear(), m_pc2.clear();
    for (size_t i = 0; i < m_x.size(); ++i) m_pc1.push_back(pca[i * 3]), m_pc2.push_back(pca[i * 3 + 1]);
    m_explained = s.at("pca_explained").ToFloat();
    m_pr.clear(), m_pr_labels.clear();
    for (const auto& m : analyzers::TrackedMatrices()) {
      m_pr.push_back(s.at("pr_" + m).ToFloat());
      m_pr_labels.push_back(m);
    }
  }

  // PC1 against PC2, one dot per checkpoint, joined in epoch order.
  void DrawScatter(const ViewContext& v, float height, PanelOutput& out) {
    const float fh = ImGui::GetFontSize();
    const ImVec2 origin = ImGui::GetCursorScreenPos();
    const ImVec2 size(ImGui::GetContentRegionAvail().x, height);
    ImGui::InvisibleButton("##pca", size);
    const bool hovered = ImGui::IsItemHovered();
    ImDrawList* dl = ImGui::GetWindowDrawList();
    const float left = fh * 1.5f, bottom = fh * 2.4f, top = fh * 1.4f, right = fh * 6.5f;
    const ImVec2 p0(origin.x + left, origin.y + top), p1(origin.x + size.x - right, origin.y + size.y - bottom);
    dl->AddRectFilled(p0, p1, ImGui::GetColorU32(ImGuiCol_FrameBg));
    const ImU32 text = ImGui::GetColorU32(ImGuiCol_Text);
    char buf[128];
    std::snprintf(buf, sizeof buf, "parameter trajectory: PC1 (%.1f%% of variance) vs PC2 (%.1f%%)",
                  100 * (m_explained.size() > 0 ? m_explained[0] : 0), 100 * (m_explained.size() > 1 ? m_explained[1] : 0));
    dl->AddText(ImVec2(origin.x, origin.y), text, buf);
    dl->AddText(ImVec2((p0.x + p1.x) * 0.5f - fh * 1.5f, p1.y + fh * 0.8f), text, "PC1");
    dl->AddText(ImVec2(origin.x + 2, (p0.y + p1.y) * 0.5f), text, "PC2");
    const int n = int(m_x.size());
    if (n == 0) return;
    float x0 = FLT_MAX, x1 = -FLT_MAX, y0 = FLT_MAX, y1 = -FLT_MAX;
    for (int i = 0; i < n; ++i)
      x0 = std::min(x0, m_pc1[i]), x1 = std::max(x1, m_pc1[i]), y0 = std::min(y0, m_pc2[i]), y1 = std::max(y1, m_pc2[i]);
    const float pad_x = std::max(1e-6f, (x1 - x0) * 0.06f), pad_y = std::max(1e-6f, (y1 - y0) * 0.06f);
    x0 -= pad_x, x1 += pad_x, y0 -= pad_y, y1 += pad_y;
    auto P = [&](int i) {
      return ImVec2(p0.x + (m_pc1[i] - x0) / (x1 - x0) * (p1.x - p0.x), p1.y - (m_pc2[i] - y0) / (y1 - y0) * (p1.y - p0.y));
    };
    const float last = std::max(1.0f, m_x.back());
    for (int i = 1; i < n; ++i) dl->AddLine(P(i - 1), P(i), ImGui::GetColorU32(ImGuiCol_Border), 1.0f);
    int nearest = -1;
    float best = fh * fh;
    const ImVec2 mouse = ImGui::GetIO().MousePos;
    for (int i = 0; i < n; ++i) {
      const ImVec2 q = P(i);
      dl->AddCircleFilled(q, 3.5f, widgets::ColormapColor(widgets::Colormap::Viridis, m_x[i] / last));
      const float d = (q.x - mouse.x) * (q.x - mouse.x) + (q.y - mouse.y) * (q.y - mouse.y);
      if (hovered && d < best) best = d, nearest = i;
    }
    // The selected checkpoint, and the ends labelled.
    for (int i = 0; i < n; ++i)
      if (int(m_x[i]) == v.epoch) dl->AddCircle(P(i), 7, IM_COL32(220, 50, 47, 255), 0, 2);
    auto label = [&](int i) {  // beside the dot, on the left when it would run past the plot
      std::snprintf(buf, sizeof buf, "epoch %d", int(m_x[i]));
      const float w = ImGui::CalcTextSize(buf).x;
      const ImVec2 q = P(i);
      dl->AddText(ImVec2(q.x + 8 + w > p1.x ? q.x - 8 - w : q.x + 8, q.y - fh * 0.5f), text, buf);
    };
    label(0);
    label(n - 1);
    // Colour key: epoch 0 .. last, right of the plot.
    const float kx = p1.x + fh * 0.8f, kw = fh * 0.9f;
    for (int i = 0; i < 32; ++i) {
      const float ya = p1.y - (p1.y - p0.y) * i / 32.0f, yb = p1.y - (p1.y - p0.y) * (i + 1) / 32.0f;
      dl->AddRectFilled(ImVec2(kx, yb), ImVec2(kx + kw, ya), widgets::ColormapColor(widgets::Colormap::Viridis, i / 31.0f));
    }
    std::snprintf(buf, sizeof buf, "%d", int(m_x.back()));
    dl->AddText(ImVec2(kx + kw + 3, p0.y), text, buf);
    dl->AddText(ImVec2(kx + kw + 3, p1.y - fh), text, "0");
    dl->AddText(ImVec2(kx, p1.y + fh * 0.2f), text, "epoch");
    if (nearest >= 0) {
      ImGui::SetTooltip("epoch %d\nPC1 %.3g  PC2 %.3g\nclick to show this checkpoint", int(m_x[nearest]), m_pc1[nearest],
                        m_pc2[nearest]);
      if (ImGui::IsItemClicked()) out.jump_to_epoch = int(m_x[nearest]);
    }
  }

  PanelSummary m_summary{"trajectory", "progress_measures"};
  std::shared_ptr<const io::NpzArchive> m_built;
  std::vector<float> m_x, m_pc1, m_pc2, m_explained;
  std::vector<std::vector<float>> m_pr;
  std::vector<std::string> m_pr_labels;
};

const bool kTrajectoryPanelRegistered = RegisterPanel({"trajectory", "Parameter trajectory and effective dimensionality",
                                        WorkspaceKind::Grokking, "Progress", 63, 1, 1.0f, true,
                                        [] { return std::make_unique<TrajectoryPanel>(); }});
}  // namespace
}  // namespace hs::app
