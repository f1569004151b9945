// Loss and accuracy curves of the run (train/test, log-scale loss) with the
// current epoch and the grokking epoch marked. metrics.csv is parsed on the
// pool by Requests; this panel only draws.
#include <imgui.h>

#include <cmath>
#include <cstdio>

#include "library/frequency_stats.h"
#include "line_plot.h"
#include "panel.h"

namespace hs::app {
namespace {

class LossCurvesPanel : public Panel {
 public:
  void Draw(const ViewContext& v, PanelOutput& out) override {
    m_error = v.metrics_error;
    if (!m_error.empty()) ErrorText(m_error);
    const MetricsData empty;
    const MetricsData& m = v.metrics ? *v.metrics : empty;
    const int n = int(m.epoch.size()), nt = int(m.test_epoch.size());
    if (n == 0) ImGui::TextDisabled("No metrics yet: metrics.csv appears once training has run its first epoch.");
    char grok_label[64];
    std::snprintf(grok_label, sizeof grok_label, "grokked (test acc > %.1f) @ %d", library::kGrokTestAccuracy,
                  m.grok_epoch);
    const float half = (ImGui::GetContentRegionAvail().y - ImGui::GetStyle().ItemSpacing.y) * 0.5f;
    widgets::LineSeries loss[] = {{"train loss", m.epoch.data(), m.train_loss.data(), n},
                                  {"test loss", m.test_epoch.data(), m.test_loss.data(), nt}};
    widgets::LinePlotSpec spec;
    spec.log_y = true;
    spec.x_label = "epoch";
    spec.y_label = "cross-entropy loss (log scale)";
    spec.marker_x = v.epoch >= 0 ? float(v.epoch) : NAN;
    spec.marker2_x = m.grok_epoch >= 0 ? float(m.grok_epoch) : NAN;
    spec.marker2_label = grok_label;
    spec.size = ImVec2(-1, std::max(120.0f, half));
    float clicked = NAN;
    if (widgets::LinePlot("##loss", loss, 2, spec, &clicked)) out.jump_to_epoch = int(clicked);
    widgets::LineSeries acc[] = {{"train accuracy", m.epoch.data(), m.train_acc.data(), n},
                                 {"test accuracy", m.test_epoch.data(), m.test_acc.data(), nt}};
    spec.log_y = false;
    spec.y_label = "accuracy";
    spec.y_min = 0;
    spec.y_max = 1;
    if (widgets::LinePlot("##acc", acc, 2, spec, &clicked)) out.jump_to_epoch = int(clicked);
  }
  std::vector<std::string> Errors() const override {
    return m_error.empty() ? std::vector<std::string>{} : std::vector<std::string>{m_error};
  }

 private:
  std::string m_error;
};

const bool kLossCurvesPanelRegistered = RegisterPanel({"loss", "Loss and accuracy", WorkspaceKind::Grokking, "Training curves", 60, 0,
                                        1.0f, true, [] { return std::make_unique<LossCurvesPanel>(); }});
}  // namespace
}  // namespace hs::app
