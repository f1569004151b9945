// Specialization panel (see specialization_panel.h).
#include "panels/specialization_panel.h"

#include <imgui.h>

#include <cstdio>

#include "line_plot.h"

namespace hs::app {

int SpecializationPanel::Draw(ViewContext& v, bool* request_analysis) {
  const RunShape& s = v.shape;
  if (auto a = v.source->RequestSummary("specialization", v.run, "attention_freq")) m_summary = a;
  if (!m_summary) {
    EmptyState("The cross-epoch summary is computed by analysing every checkpoint.");
    ImGui::SetCursorPosX((ImGui::GetWindowWidth() - ImGui::GetFontSize() * 14) * 0.5f);
    if (ImGui::Button("Analyze all checkpoints") && request_analysis) *request_analysis = true;
    if (ImGui::IsItemHovered()) ImGui::SetTooltip("Same as `headscope analyze RUN`; runs in the background.");
    return -1;
  }
  if (m_built_from != m_summary.get()) {
    m_built_from = m_summary.get();
    const auto& ep = m_summary->at("epochs");
    const auto& mf = m_summary->at("max_frac_per_head");
    const auto& df = m_summary->at("dominant_freq_per_head");
    const int64_t n = ep.numel(), H = n ? mf.numel() / n : 0;
    m_x.assign(n, 0);
    m_frac.assign(size_t(H * n), 0);
    m_dom.assign(size_t(H * n), 0);
    const auto e = ep.ToFloat(), f = mf.ToFloat(), d = df.ToFloat();
    for (int64_t i = 0; i < n; ++i) {
      m_x[i] = e[i];
      for (int64_t h = 0; h < H; ++h) m_frac[h * n + i] = f[i * H + h], m_dom[h * n + i] = d[i * H + h];
    }
  }
  const int n = int(m_x.size());
  const int H = n ? int(m_frac.size() / n) : 0;
  std::vector<std::string> labels(H);
  std::vector<widgets::LineSeries> frac(H), dom(H);
  for (int h = 0; h < H; ++h) {
    labels[h] = "head " + std::to_string(h);
    frac[h] = {labels[h].c_str(), m_x.data(), m_frac.data() + size_t(h) * n, n};
    dom[h] = {labels[h].c_str(), m_x.data(), m_dom.data() + size_t(h) * n, n};
    dom[h].markers = true;
    dom[h].step = true;
  }
  char grok[64];
  std::snprintf(grok, sizeof grok, "grokked @ %d", v.grok_epoch);
  widgets::LinePlotSpec spec;
  spec.x_label = "epoch";
  spec.y_label = "specialization: max variance fraction (one frequency)";
  spec.y_min = 0;
  spec.y_max = 1;
  spec.marker_x = v.epoch >= 0 ? float(v.epoch) : NAN;
  spec.marker2_x = v.grok_epoch >= 0 ? float(v.grok_epoch) : NAN;
  spec.marker2_label = grok;
  const float half = (ImGui::GetContentRegionAvail().y - ImGui::GetStyle().ItemSpacing.y) * 0.5f;
  spec.size = ImVec2(-1, std::max(100.0f, half));
  float clicked = NAN;
  int jump = -1;
  if (widgets::LinePlot("##spec", frac.data(), H, spec, &clicked)) jump = int(clicked);
  spec.y_label = "dominant frequency k per head";
  spec.y_min = 0;
  spec.y_max = float(s.n_freq + 1);
  if (widgets::LinePlot("##dom", dom.data(), H, spec, &clicked)) jump = int(clicked);
  return jump;
}

}  // namespace hs::app
