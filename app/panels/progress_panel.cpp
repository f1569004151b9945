// Progress measures (Nanda et al. 2023) over training, from
// artifacts/progress_measures/summary.npz: restricted loss (only the key
// frequencies kept), excluded loss (key frequencies removed, training pairs),
// train and test loss; the Gini coefficients of W_E's and W_L's Fourier
// norms. The phases of summary.json are shaded. Click to jump to an epoch.
#include <imgui.h>

#include <cstdio>

#include "findings_file.h"
#include "line_plot.h"
#include "panel.h"

namespace hs::app {
namespace {

class ProgressPanel : public StatusPanel {
 public:
  void Draw(const ViewContext& v, PanelOutput& out) override {
    m_status.Reset();
    if (!v.run) return;
    const auto summary = m_summary.Fetch(v, m_status);
    const nlohmann::json* f = m_findings.Get(v.run->dir);
    if (!summary) {
      if (m_status.errors.empty())
        SummaryEmptyState(v, m_status, "Analysing; the progress measures are computed after every checkpoint's analyzers.",
                          "Progress measures are computed from every checkpoint by `headscope analyze`.", &out.analyze_all);
      return;
    }
    const io::NpzArchive& s = *summary;
    if (m_built != summary) {
      m_built = summary;
      for (const char* k : {"epochs", "restricted_loss", "excluded_loss", "train_loss", "test_loss", "gini_W_E", "gini_W_L"})
        m_col[k] = s.at(k).ToFloat();
      m_keys.clear();
      const auto mask = s.at("key_freq_mask").ToFloat();
      for (size_t i = 0; i < mask.size(); ++i)
        if (mask[i] > 0.5f) m_keys += (m_keys.empty() ? "" : ", ") + std::to_string(i + 1);
    }
    const int n = int(m_col["epochs"].size());
    const float* x = m_col["epochs"].data();
    auto bands = PhaseBands(f, m_band_labels);
    if (m_keys.empty())
      ImGui::TextDisabled("no key frequencies at the final checkpoint: the restricted loss keeps only each answer's mean, "
                          "and the excluded loss equals the train loss (drawn under it)");
    else
      ImGui::TextDisabled("key frequencies (final checkpoint's neurons): %s", m_keys.c_str());
    if (ImGui::IsItemHovered())
      ImGui::SetTooltip("Restricted loss keeps only the cos/sin(w_k(a+b)) directions of the logits for these k\n"
                        "(plus each answer's mean), over all p*p pairs. Excluded loss removes them and is\n"
                        "measured on the training pairs. Nanda et al.: restricted loss falls before test loss;\n"
                        "excluded loss rises while the circuit forms.");
    const float half = (ImGui::GetContentRegionAvail().y - ImGui::GetStyle().ItemSpacing.y) * 0.5f;
    widgets::LineSeries loss[] = {{"restricted loss (key freqs only)", x, m_col["restricted_loss"].data(), n},
                                  {"excluded loss (key freqs removed, train)", x, m_col["excluded_loss"].data(), n},
                                  {"train loss", x, m_col["train_loss"].data(), n},
                                  {"test loss", x, m_col["test_loss"].data(), n}};
    widgets::LinePlotSpec spec;
    spec.log_y = true;
    spec.x_label = "epoch";
    spec.y_label = "cross-entropy loss (log scale)";
    spec.marker_x = v.epoch >= 0 ? float(v.epoch) : NAN;
    spec.bands = bands.data();
    spec.n_bands = int(bands.size());
    spec.size = ImVec2(-1, std::max(120.0f, half));
    float clicked = NAN;
    if (widgets::LinePlot("##pm_loss", loss, 4, spec, &clicked)) out.jump_to_epoch = int(clicked);
    widgets::LineSeries gini[] = {{"Gini of W_E's Fourier norms", x, m_col["gini_W_E"].data(), n},
                                  {"Gini of W_L = W_out W_U's Fourier norms", x, m_col["gini_W_L"].data(), n}};
    spec.log_y = false;
    spec.y_label = "Gini coefficient (sparsity in the Fourier basis)";
    spec.y_min = 0;
    spec.y_max = 1;
    if (widgets::LinePlot("##pm_gini", gini, 2, spec, &clicked)) out.jump_to_epoch = int(clicked);
  }
  std::vector<std::string> Errors() const override {
    std::vector<std::string> e = m_status.errors;
    if (!m_findings.error().empty()) e.push_back(m_findings.error());
    return e;
  }

 private:
  PanelSummary m_summary{"progress", "progress_measures"};
  std::shared_ptr<const io::NpzArchive> m_built;
  std::map<std::string, std::vector<float>> m_col;
  std::string m_keys;
  FindingsFile m_findings;
  std::vector<std::string> m_band_labels;
};

const bool kProgressPanelRegistered = RegisterPanel({"progress", "Progress measures", WorkspaceKind::Grokking, "Progress", 62, 0, 1.0f,
                                        true, [] { return std::make_unique<ProgressPanel>(); }});
}  // namespace
}  // namespace hs::app
