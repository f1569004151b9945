// Loss curves panel (see loss_curves_panel.h).
#include "panels/loss_curves_panel.h"

#include <imgui.h>

#include <cmath>

#include "io/atomic_file.h"
#include "line_plot.h"

namespace hs::app {
namespace fs = std::filesystem;

void LossCurvesPanel::Refresh(const fs::path& run_dir) {
  std::error_code ec;
  const fs::path csv = run_dir / "metrics.csv";
  const auto mtime = fs::last_write_time(csv, ec);
  if (run_dir == m_run_dir && (ec || mtime == m_mtime)) return;
  if (run_dir != m_run_dir) {
    m_epoch.clear(); m_train_loss.clear(); m_test_loss.clear(); m_train_acc.clear(); m_test_acc.clear();
    m_grok_epoch = -1;
  }
  m_run_dir = run_dir;
  if (ec) return;
  m_mtime = mtime;
  try {
    const auto rows = io::ReadMetricsCsv(csv);
    m_epoch.clear(); m_train_loss.clear(); m_test_loss.clear(); m_train_acc.clear(); m_test_acc.clear();
    m_grok_epoch = -1;
    for (const auto& r : rows) {
      m_epoch.push_back(float(r.epoch));
      m_train_loss.push_back(float(r.train_loss));
      m_test_loss.push_back(float(r.test_loss));
      m_train_acc.push_back(float(r.train_acc));
      m_test_acc.push_back(float(r.test_acc));
      if (m_grok_epoch < 0 && r.test_acc > 0.9) m_grok_epoch = r.epoch;
    }
    m_error.clear();
  } catch (const io::IoError& e) {
    m_error = e.what();
  }
}

void LossCurvesPanel::Draw(float current_epoch) {
  if (!m_error.empty()) ImGui::TextColored(ImVec4(1, 0.4f, 0.3f, 1), "%s", m_error.c_str());
  const int n = int(m_epoch.size());
  if (n == 0) {
    ImGui::TextDisabled("No metrics yet: metrics.csv appears once training has run its first epoch.");
  }
  char grok_label[64];
  std::snprintf(grok_label, sizeof grok_label, "grokked (test acc > 0.9) @ %d", m_grok_epoch);
  const float half = (ImGui::GetContentRegionAvail().y - ImGui::GetStyle().ItemSpacing.y) * 0.5f;
  widgets::LineSeries loss[] = {{"train loss", m_epoch.data(), m_train_loss.data(), n},
                                {"test loss", m_epoch.data(), m_test_loss.data(), n}};
  widgets::LinePlotSpec spec;
  spec.log_y = true;
  spec.x_label = "epoch";
  spec.y_label = "cross-entropy loss (log scale)";
  spec.marker_x = current_epoch;
  spec.marker2_x = m_grok_epoch >= 0 ? float(m_grok_epoch) : NAN;
  spec.marker2_label = grok_label;
  spec.size = ImVec2(-1, std::max(120.0f, half));
  widgets::LinePlot("##loss", loss, 2, spec);
  widgets::LineSeries acc[] = {{"train accuracy", m_epoch.data(), m_train_acc.data(), n},
                               {"test accuracy", m_epoch.data(), m_test_acc.data(), n}};
  spec.log_y = false;
  spec.y_label = "accuracy";
  spec.y_min = 0;
  spec.y_max = 1;
  spec.size = ImVec2(-1, std::max(120.0f, half));
  widgets::LinePlot("##acc", acc, 2, spec);
}

}  // namespace hs::app
