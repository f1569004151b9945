// Head frequency panel: the frequencies x heads heatmap of variance fractions
// for the family's position pair ('=' attending to a), each head's dominant
// frequency annotated, and a badge per head: filled when one frequency holds
// at least kHeadSpecializedThreshold of the pattern's variance, the bar that
// fraction on a 0-1 scale, the coarseness class in words.
#include <imgui.h>

#include <cstdio>

#include "badge.h"
#include "heatmap.h"
#include "line_plot.h"
#include "library/frequency_stats.h"
#include "panel.h"

namespace hs::app {
namespace {

class HeadFreqPanel : public StatusPanel {
 public:
  void Draw(const ViewContext& v, PanelOutput&) override {
    if (!BeginEpoch(v)) return;
    const families::RunInfo& run = *v.run;
    const io::NpzArchive* freq = m_freq.Fetch(v, m_status);
    const io::NpzArchive* coarse = m_coarse.Fetch(v, m_status);
    const int units = run.n_head_units(), n_freq = run.n_freq();
    const float* fm = freq ? FloatData(*freq, "freq_matrix", int64_t(n_freq) * units) : nullptr;
    if (!fm) {
      if (!m_freq.failed()) EmptyState("Computing the heads' Fourier decomposition...");
      return;
    }
    const auto dom = library::DominantFrequencies(fm, n_freq, units);
    const float* low = coarse ? FloatData(*coarse, "head_fft_low_freq", units) : nullptr;
    const float* grad = coarse ? FloatData(*coarse, "head_gradient", units) : nullptr;
    // Legend for the badges, then one badge per head (two per row).
    ImGui::TextDisabled("filled: one frequency holds >= %.0f%% of the variance; bar: that fraction (0 to 1)",
                        100 * library::kHeadSpecializedThreshold);
    for (int h = 0; h < units; ++h) {
      char label[96], tip[320];
      std::snprintf(label, sizeof label, "%s: k=%d%s%s", run.HeadLabel(h).c_str(), dom[h].k, low ? ", " : "",
                    low ? library::CoarsenessClass(low[h]) : "");
      std::snprintf(tip, sizeof tip,
                    "dominant frequency k=%d holds %.1f%% of this head's pattern variance\n"
                    "(specialised at >= %.0f%%)\n"
                    "coarseness: FFT low-frequency energy (no DC) %.3f, mean gradient %.3f\n"
                    "low-frequency >= 0.5 > mixed > 0.1 >= high-frequency",
                    dom[h].k, 100 * dom[h].fraction, 100 * library::kHeadSpecializedThreshold, low ? low[h] : NAN,
                    grad ? grad[h] : NAN);
      widgets::BadgeSpec b;
      b.color = widgets::PaletteColor(h);
      b.tooltip = tip;
      b.bar_width = ImGui::GetFontSize() * 4;
      widgets::RoleBadge(label, dom[h].fraction >= library::kHeadSpecializedThreshold, dom[h].fraction, b);
      if (h % 2 == 0 && h + 1 < units) ImGui::SameLine(ImGui::GetContentRegionAvail().x * 0.5f);
    }
    ImGui::Spacing();
    // The pair the artifact was computed for (its own record, not re-parsed parameters).
    std::string pair = "the family's position pair";
    auto pp = freq->find("position_pair");
    if (pp != freq->end() && pp->second.dtype == io::DType::I64 && pp->second.numel() == 2) {
      const int64_t* qk = pp->second.data<int64_t>();
      if (run.ValidPair(int(qk[0]), int(qk[1]))) pair = run.PairLabel(int(qk[0]), int(qk[1]));
    }
    const std::string title = "Variance fraction per frequency, " + pair;
    const widgets::HeatmapSpec hs = FrequencyHeatmapSpec(title.c_str(), "head", m_freq.epoch(), v.epoch);
    widgets::HeatmapState st;
    widgets::Heatmap("##freq", fm, n_freq, units, hs, &st);
    // Annotate each head's dominant frequency on its column.
    ImDrawList* dl = ImGui::GetWindowDrawList();
    const float cw = (st.plot_max.x - st.plot_min.x) / units, ch = (st.plot_max.y - st.plot_min.y) / n_freq;
    for (int h = 0; h < units; ++h) {
      const int best = dom[h].k - 1;
      const ImVec2 c0(st.plot_min.x + h * cw, st.plot_min.y + best * ch);
      dl->AddRect(c0, ImVec2(c0.x + cw, c0.y + std::max(ch, 2.0f)), IM_COL32(220, 50, 47, 255), 0, 0, 2.0f);
      char buf[32];
      std::snprintf(buf, sizeof buf, "k=%d (%.2f)", dom[h].k, dom[h].fraction);
      const float tw = ImGui::CalcTextSize(buf).x;
      const float ty =
          best * ch < (st.plot_max.y - st.plot_min.y) * 0.5f ? c0.y + ch + 2 : c0.y - ImGui::GetFontSize() - 2;
      dl->AddRectFilled(ImVec2(c0.x + (cw - tw) * 0.5f - 2, ty),
                        ImVec2(c0.x + (cw + tw) * 0.5f + 2, ty + ImGui::GetFontSize()), IM_COL32(255, 255, 255, 210));
      dl->AddText(ImVec2(c0.x + (cw - tw) * 0.5f, ty), IM_COL32(20, 20, 20, 255), buf);
    }
  }

 private:
  PanelArtifact m_freq{"head_freq", "attention_freq"}, m_coarse{"head_coarseness", "coarseness"};
};

const bool kHeadFreqPanelRegistered = RegisterPanel({"head_freq", "Fourier frequencies of each head", WorkspaceKind::Grokking,
                                        "Heads", 20, 1, 0.5f, true, [] { return std::make_unique<HeadFreqPanel>(); }});
}  // namespace
}  // namespace hs::app
