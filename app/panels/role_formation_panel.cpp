// Watch roles form: for a model with training checkpoints (the demo LM),
// each role's best head score at every checkpoint, beside the loss on the
// second copy of repeated text and the training loss. The induction head
// appears in a phase change together with the drop of the repeat loss
// (Olsson et al. 2022). The selected step is marked; click to select one.
#include <imgui.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <cstdio>

#include "line_plot.h"
#include "lm_panel_common.h"

namespace hs::app {
namespace {

class RoleFormationPanel : public Panel {
 public:
  std::string Title(const ViewContext& v) const override {
    if (v.lm && v.lm->model && !v.lm->model->formation && v.lm->model->formation_error.empty())
      return "Roles along your prompt (this model has no training checkpoints)";
    return {};
  }
  void Draw(const ViewContext& v, PanelOutput& out) override {
    if (!HasModelToShow(v)) return;
    const LmView& m = *v.lm;
    if (!m.model->formation_error.empty()) {
      ErrorText(m.model->formation_error);
      return;
    }
    const auto f = m.model->formation;
    if (!f) {  // no checkpoints: the space shows where along the prompt each role acts
      DrawAlongPrompt(m, out);
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
  // Each role's top head, token by token along the prompt: the quantity its
  // activation score averages (attention on the previous token, on the
  // token after an earlier copy, ...), smoothed over a window for long prompts.
  void DrawAlongPrompt(const LmView& m, PanelOutput& out) {
    ImGui::TextDisabled("Where along your prompt each role's top head acts. (The demo LM ships training checkpoints: "
                        "open it to watch the roles form.)");
    if (!m.analysis || !m.analysis->ok() || !m.model) {
      EmptyState("Waiting for the prompt's analysis...");
      return;
    }
    const auto& a = *m.analysis;
    if (m_along_for != m.analysis) {
      m_along_for = m.analysis;
      m_x.clear(), m_y.clear(), m_along_names.clear(), m_colors.clear(), m_heads.clear();
      const int T = a.T(), window = std::max(1, T / 64);
      for (int t = 0; t < T; ++t) m_x.push_back(float(t));
      const std::pair<const char*, int> roles[] = {{"previous_token", lm::PromptAnalysis::kRowPrev},
                                                   {"induction", lm::PromptAnalysis::kRowInduction},
                                                   {"duplicate_token", lm::PromptAnalysis::kRowDuplicate},
                                                   {"first_token", lm::PromptAnalysis::kRowFirst},
                                                   {"diffuse", lm::PromptAnalysis::kRowDiffuse}};
      std::vector<bool> repeated(T, false);
      {
        std::map<int64_t, int> seen;
        for (int t = 0; t < T; ++t) repeated[t] = seen[a.tokens[t]]++ > 0;
      }
      for (const auto& [key, k] : roles) {
        const auto* cat = m.model->categories.Find(key);
        if (!cat || cat->top_heads.empty()) continue;
        const auto& top = cat->top_heads.front();
        const double* rows = a.Rows(top.layer, top.head);
        if (!rows) continue;
        const bool needs_repeat = k == lm::PromptAnalysis::kRowInduction || k == lm::PromptAnalysis::kRowDuplicate;
        std::vector<float> y(T, NAN);
        for (int t = 1; t < T; ++t) {  // mean over the window's rows that count
          double s = 0;
          int n = 0;
          for (int u = std::max(1, t - window + 1); u <= t; ++u)
            if (!needs_repeat || repeated[u]) s += rows[size_t(u) * lm::PromptAnalysis::kRowStats + k], ++n;
          if (n) y[t] = float(s / n);
        }
        m_y.push_back(std::move(y));
        m_along_names.push_back(library::FindCategoryDef(key)->display_name + " (" + HeadName(top.layer, top.head) + ")");
        m_colors.push_back(CategoryColor(key));
        m_heads.emplace_back(top.layer, top.head);
      }
      m_window = window;
    }
    std::vector<widgets::LineSeries> series;
    for (size_t i = 0; i < m_y.size(); ++i) {
      widgets::LineSeries s{m_along_names[i].c_str(), m_x.data(), m_y[i].data(), int(m_x.size())};
      s.color = m_colors[i];
      series.push_back(s);
    }
    widgets::LinePlotSpec spec;
    spec.x_label = "token position in your prompt (query)";
    spec.y_label = m_window > 1 ? "role measure (mean over a window)" : "role measure";
    spec.y_min = 0;
    spec.y_max = 1;
    spec.size = ImVec2(-1, std::max(ImGui::GetContentRegionAvail().y - ImGui::GetTextLineHeightWithSpacing() * 2, 80.0f));
    float x = 0;
    widgets::LinePlot("##roles_along_prompt", series.data(), int(series.size()), spec, &x);
    ImGui::TextDisabled("Per query token: attention on the previous token, on the token after an earlier copy "
                        "(induction), on earlier copies (duplicate), on the first token, and row entropy (diffuse)%s.",
                        m_window > 1 ? (", averaged over " + std::to_string(m_window) + " tokens").c_str() : "");
    (void)out;
  }

  std::shared_ptr<const lm::PromptAnalysis> m_along_for;
  std::vector<float> m_x;
  std::vector<std::vector<float>> m_y;
  std::vector<ImU32> m_colors;
  std::vector<std::pair<int, int>> m_heads;
  std::vector<std::string> m_along_names;
  int m_window = 1;

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
