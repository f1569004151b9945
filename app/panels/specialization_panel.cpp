// Specialization panel: each head's max variance fraction in one frequency
// over training and its dominant frequency over training, from
// attention_freq/summary.npz (validated where it is read); the current and
// grokking epochs marked. Click a plot to jump to that epoch.
#include <imgui.h>

#include <cstdio>

#include "library/frequency_stats.h"
#include "line_plot.h"
#include "panel.h"

namespace hs::app {
namespace {

class SpecializationPanel : public StatusPanel {
 public:
  void Draw(const ViewContext& v, PanelOutput& out) override {
    m_status.Reset();
    if (!v.run) return;
    if (m_run != v.run->dir.string()) m_x.clear(), m_built_from.reset(), m_run = v.run->dir.string();
    m_summary = m_fetch.Fetch(v, m_status);
    if (!m_summary) {
      if (m_status.errors.empty())
        SummaryEmptyState(v, m_status, "Analysing every checkpoint; the trajectories appear when the summary is written.",
                          "The cross-epoch summary is computed by analysing every checkpoint.", &out.analyze_all);
      return;
    }
    if (m_built_from != m_summary) Build(m_summary);
    const int n = int(m_x.size());
    const int H = n ? int(m_frac.size() / n) : 0;
    std::vector<std::string> labels(H);
    std::vector<widgets::LineSeries> frac(H), dom(H);
    for (int h = 0; h < H; ++h) {
      labels[h] = v.run->HeadLabel(h);
      frac[h] = {labels[h].c_str(), m_x.data(), m_frac.data() + size_t(h) * n, n};
      dom[h] = {labels[h].c_str(), m_x.data(), m_dom.data() + size_t(h) * n, n};
      dom[h].markers = true;
      dom[h].step = true;
    }
    char grok[64];
    std::snprintf(grok, sizeof grok, "grokked @ %d", v.grok_epoch);
    widgets::LinePlotSpec spec;
    spec.x_label = "epoch";
    spec.y_label = "max variance fraction in one frequency";
    spec.y_min = 0;
    spec.y_max = 1;
    spec.marker_x = v.epoch >= 0 ? float(v.epoch) : NAN;
    spec.marker2_x = v.grok_epoch >= 0 ? float(v.grok_epoch) : NAN;
    spec.marker2_label = grok;
    const float half = (ImGui::GetContentRegionAvail().y - ImGui::GetStyle().ItemSpacing.y) * 0.5f;
    spec.size = ImVec2(-1, std::max(100.0f, half));
    float clicked = NAN;
    if (widgets::LinePlot("##spec", frac.data(), H, spec, &clicked)) out.jump_to_epoch = int(clicked);
    spec.y_label = "dominant frequency k";
    spec.y_min = 0;
    spec.y_max = float(v.run->n_freq()) * 1.2f;  // headroom: the plot title sits at the top
    if (widgets::LinePlot("##dom", dom.data(), H, spec, &clicked)) out.jump_to_epoch = int(clicked);
  }

 private:
  // Per-head series from the summary (shapes were validated when it was read).
  void Build(const std::shared_ptr<const io::NpzArchive>& from) {
    m_built_from = from;  // held, so a freed archive's address can never match
    const io::NpzArchive& s = *from;
    const auto& ep = s.at("epochs");
    const auto& mf = s.at("max_frac_per_head");
    const auto& df = s.at("dominant_freq_per_head");
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
  std::string m_run;
  std::shared_ptr<const io::NpzArchive> m_summary;
  std::vector<float> m_x, m_frac, m_dom;  // [n_epochs], [head][n_epochs]
  std::shared_ptr<const io::NpzArchive> m_built_from;
  PanelSummary m_fetch{"specialization", "attention_freq"};
};

const bool kSpecializationPanelRegistered =
    RegisterPanel({"specialization", "Head specialization over training", WorkspaceKind::Grokking, "Heads", 30, 1, 0.5f,
                   true, [] { return std::make_unique<SpecializationPanel>(); }});
}  // namespace
}  // namespace hs::app
