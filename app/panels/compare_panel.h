// Compare: two variants side by side at the same epoch (for example a
// grokking run and one without weight decay): head patterns and curves.
#pragma once

#include "panels/attention_grid_panel.h"
#include "panels/loss_curves_panel.h"
#include "run_state.h"

namespace hs::app {

struct ComparePanel {
  void Draw(ViewContext& a, const std::vector<std::filesystem::path>& runs);

 private:
  RunState m_b;
  AttentionGridPanel m_grid_a, m_grid_b;
  LossCurvesPanel m_loss_b;
  bool m_init = false;
};

}  // namespace hs::app
