// Attention head grid: every head's (p, p) pattern for the selected position
// pair, faceted; click a head to open it large with labelled a / b axes.
// Public because Compare draws two of them.
#pragma once

#include <string>

#include "panel.h"

namespace hs::app {

class AttentionGridPanel : public Panel {
 public:
  explicit AttentionGridPanel(std::string slot = "heads") : m_slot(slot), m_patterns(slot, "attention_patterns") {}
  void Draw(const ViewContext& v, PanelOutput& out) override;
  // Without the pair selector (Compare draws one selector for both grids).
  void DrawGrid(const ViewContext& v);
  bool Waiting() const override { return m_status.waiting; }
  std::vector<std::string> Errors() const override { return m_status.errors; }

 private:
  std::string m_slot;
  PanelArtifact m_patterns;
  int m_enlarged = -1;  // head unit shown large, -1: none
  PanelStatus m_status;
};

// The position-pair selector (every causal pair, last-position pairs first).
// Returns true and sets *q, *k when the user picks another pair.
bool PairSelector(const families::RunInfo& run, int* q, int* k);

}  // namespace hs::app
