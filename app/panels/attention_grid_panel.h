// Attention head grid: every head's (p, p) pattern for one position pair,
// faceted; click a head to open it large with labelled a / b axes.
#pragma once

#include <string>

#include "view_context.h"

namespace hs::app {

struct AttentionGridPanel {
  int query_pos = -1;  // -1: the last position ('=')
  int key_pos = 0;     // 'a'
  int enlarged = -1;   // head shown large, -1: none
  std::string slot = "attention_grid";  // job slot: one per panel instance

  void Draw(ViewContext& v);
  // Readable label for a pair: "= attending to a".
  static std::string PairLabel(const RunShape& s, int q, int k);
  bool stale() const { return m_stale; }

 private:
  jobs::ArtifactPtr m_shown;
  int m_shown_epoch = -1;
  bool m_stale = false;
};

}  // namespace hs::app
