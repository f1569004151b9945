// Watch roles form: for a model with training checkpoints (the demo LM),
// each role's best head score at every checkpoint, beside the loss on the
// second copy of repeated text and the training loss. The induction head
// appears in a phase change together with the drop of the repeat loss
// (Olsson et al. 2022). The selected step is marked; click to select one.
#include <imgui.h>

#include <cmath>
#include <cstdio>

#include "line_plot.h"
#include "lm_panel_common.h"

namespace hs::app {
namespace {

class RoleFormationPanel : public Panel {
 public:
  void Draw(const ViewContext& v, PanelOutput& out) override {
    if (!HasModelToShow(v)) return;
    const LmView& m = *v.lm;
    if (!m.model->formation_error.empty()) {
      ErrorText(m.model->formation_error);
      return;
    }
    const auto f = m.model->formation;
    if (!f) {
      EmptyState("This model has no training checkpoints. The demo LM (assets/demo_lm) ships its checkpoints: "
                 "open it to watch previous-token and induction heads form during training.");
      return;
    }
    if (m_for != f) Build(*f), m_for = f;
    const int n = int(m_steps.size());
    const auto& defs = library::HeadCategoryDefs();
    std::vector<widgets::LineSeries> series;
    for (size_t r = 0; r < m_best.size(); ++r) {
      widgets::LineSeries s{m_names[r].c_str(), m_steps.data(), m_best[r].data(), n};
      s.color = CategoryColor(defs[r].key);
      s.markers = true;
      series.push_back(s);
    }
    const float avail = ImGui::GetContentRegionAvail().y;
    widgets::LinePlotSpec spec;
    spec.x_label = "training step";
    spec.y_label = "best head's score";
    spec.y_min = 0;
    spec.y_max = 1;
    spec.marker_x = float(m.step >= 0 ? m.step : m_steps.back());
    spec.size = ImVec2(-1, avail * 0.55f);
    float x = 0;
    if (widgets::LinePlot("##roles_over_training", series.data(), int(series.size()), spec, &x)) Select(x, out);
    if (m_repeat.size() == size_t(n) && m_train.size() == size_t(n)) {
      widgets::LineSeries loss[2] = {{"loss on the repeated copy", m_steps.data(), m_repeat.data(), n},
                                     {"training loss", m_steps.data(), m_train.data(), n}};
      loss[0].markers = loss[1].markers = true;
      loss[0].color = CategoryColor("induction");
      loss[1].color = IM_COL32(90, 90, 90, 255);
      widgets::LinePlotSpec ls;
      ls.x_label = "training step";
      ls.y_label = "loss (nats per byte)";
      ls.y_min = 0;
      ls.marker_x = spec.marker_x;
      ls.size = ImVec2(-1, -1);
      if (widgets::LinePlot("##loss_over_training", loss, 2, ls, &x)) Select(x, out);
    }
    ImGui::TextDisabled("Scores: the detectors of head_categories.json at each checkpoint. Click a step, or use the "
                        "slider above, to run your prompt through that checkpoint.");
  }

 private:
  void Build(const lm::RoleFormation& f) {
    m_steps.assign(f.steps.begin(), f.steps.end());
    m_best.clear();
    m_names.clear();
    for (const auto& def : library::HeadCategoryDefs()) {
      if (!def.role) continue;
      std::vector<float> b;
      for (int i = 0; i < int(f.steps.size()); ++i) b.push_back(float(f.Best(i, *def.role)));
      m_best.push_back(std::move(b));
      m_names.push_back(def.display_name);
    }
    m_repeat.assign(f.repeat_loss.begin(), f.repeat_loss.end());
    m_train.assign(f.train_loss.begin(), f.train_loss.end());
  }
  void Select(float x, PanelOutput& out) const {
    int best = 0;
    for (int i = 0; i < int(m_steps.size()); ++i)
      if (std::abs(m_steps[i] - x) < std::abs(m_steps[best] - x)) best = i;
    out.step = int(m_steps[best]);
  }
  std::shared_ptr<const lm::RoleFormation> m_for;
  std::vector<float> m_steps, m_repeat, m_train;
  std::vector<std::vector<float>> m_best;
  std::vector<std::string> m_names;
};

const bool kRoleFormationPanelRegistered = RegisterPanel({"role_formation", "Roles forming during training",
                                        WorkspaceKind::LanguageModel, "Head roles", 115, 0, 0.45f, true,
                                        [] { return std::make_unique<RoleFormationPanel>(); }});

}  // namespace
}  // namespace hs::app
