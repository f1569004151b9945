// Head frequency panel (see head_freq_panel.h).
#include "panels/head_freq_panel.h"

#include <imgui.h>

#include <cstdio>

#include "badge.h"
#include "heatmap.h"
#include "line_plot.h"

namespace hs::app {

const char* CoarsenessLabel(float f) { return f >= 0.5f ? "low-frequency" : f <= 0.1f ? "high-frequency" : "mixed"; }

void HeadFreqPanel::Draw(ViewContext& v) {
  const RunShape& s = v.shape;
  if (v.epoch < 0) {
    EmptyState("No checkpoints yet.");
    return;
  }
  if (auto a = v.source->Request("head_freq", v.run, "attention_freq", v.epoch)) m_freq = a, m_freq_epoch = v.epoch;
  if (auto c = v.source->Request("head_coarseness", v.run, "coarseness", v.epoch)) m_coarse = c;
  const float* fm = m_freq ? FloatData(*m_freq, "freq_matrix", int64_t(s.n_freq) * s.n_heads) : nullptr;
  if (!fm) {
    const std::string err = v.source->Error(v.run, "attention_freq", v.epoch);
    EmptyState(err.empty() ? "Computing the heads' Fourier decomposition..." : err.c_str());
    return;
  }
  // Badges first (one line per head), then the heatmap in the rest.
  const float* low = m_coarse ? FloatData(*m_coarse, "head_fft_low_freq", s.n_heads) : nullptr;
  const float* grad = m_coarse ? FloatData(*m_coarse, "head_gradient", s.n_heads) : nullptr;
  ImGui::TextDisabled("Head labels (coarseness of '=' -> a):");
  for (int h = 0; h < s.n_heads; ++h) {
    int best = 0;
    for (int k = 1; k < s.n_freq; ++k)
      if (fm[k * s.n_heads + h] > fm[best * s.n_heads + h]) best = k;
    char label[96];
    if (low) {
      std::snprintf(label, sizeof label, "Head %d: %s, k=%d", h, CoarsenessLabel(low[h]), best + 1);
      char tip[256];
      std::snprintf(tip, sizeof tip,
                    "FFT low-frequency energy (no DC): %.3f\nmean gradient magnitude: %.3f\n"
                    "dominant frequency k=%d explains %.0f%% of the pattern's variance\n"
                    "low-frequency >= 0.5 > mixed > 0.1 >= high-frequency",
                    low[h], grad ? grad[h] : 0.0f, best + 1, 100 * fm[best * s.n_heads + h]);
      widgets::BadgeSpec b;
      b.color = widgets::PaletteColor(h);
      b.tooltip = tip;
      b.bar_width = ImGui::GetFontSize() * 5;
      widgets::RoleBadge(label, fm[best * s.n_heads + h] >= 0.9f, low[h], b);
    } else {
      ImGui::Text("Head %d: k=%d", h, best + 1);
    }
    if (h % 2 == 0 && h + 1 < s.n_heads) ImGui::SameLine(ImGui::GetContentRegionAvail().x * 0.5f);
  }
  ImGui::Spacing();
  const widgets::HeatmapSpec hs =
      FrequencyHeatmapSpec("Variance fraction per frequency, '=' attending to a", "head", m_freq_epoch, v.epoch);
  widgets::HeatmapState st;
  widgets::Heatmap("##freq", fm, s.n_freq, s.n_heads, hs, &st);
  // Annotate each head's dominant frequency on its column.
  ImDrawList* dl = ImGui::GetWindowDrawList();
  const float cw = (st.plot_max.x - st.plot_min.x) / s.n_heads, ch = (st.plot_max.y - st.plot_min.y) / s.n_freq;
  for (int h = 0; h < s.n_heads; ++h) {
    int best = 0;
    for (int k = 1; k < s.n_freq; ++k)
      if (fm[k * s.n_heads + h] > fm[best * s.n_heads + h]) best = k;
    const ImVec2 c0(st.plot_min.x + h * cw, st.plot_min.y + best * ch);
    dl->AddRect(c0, ImVec2(c0.x + cw, c0.y + std::max(ch, 2.0f)), IM_COL32(220, 50, 47, 255), 0, 0, 2.0f);
    char buf[32];
    std::snprintf(buf, sizeof buf, "k=%d (%.2f)", best + 1, fm[best * s.n_heads + h]);
    const float tw = ImGui::CalcTextSize(buf).x;
    const float ty = best * ch < (st.plot_max.y - st.plot_min.y) * 0.5f ? c0.y + ch + 2 : c0.y - ImGui::GetFontSize() - 2;
    dl->AddRectFilled(ImVec2(c0.x + (cw - tw) * 0.5f - 2, ty), ImVec2(c0.x + (cw + tw) * 0.5f + 2, ty + ImGui::GetFontSize()),
                      IM_COL32(255, 255, 255, 210));
    dl->AddText(ImVec2(c0.x + (cw - tw) * 0.5f, ty), IM_COL32(20, 20, 20, 255), buf);
  }
}

}  // namespace hs::app
