// The attention head grid, a piece two panels draw (the Heads panel, and
// Compare twice): every head's (p, p) pattern for the selected position
// pair, faceted; click a head to open it large with labelled a / b axes.
#pragma once

#include <string>

#include "panel.h"

namespace hs::app {

class AttentionGrid {
 public:
  explicit AttentionGrid(std::string slot) : m_slot(slot), m_patterns(slot, "attention_patterns") {}
  // The grid for v's run, epoch and position pair (the caller draws the pair selector).
  void Draw(const ViewContext& v);
  const PanelStatus& status() const { return m_status; }

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
