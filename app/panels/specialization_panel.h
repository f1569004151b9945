// Specialization trajectory (max variance fraction per head over epochs) and
// dominant frequency per head over epochs, from attention_freq/summary.npz;
// the current and grokking epochs marked. Click to jump to an epoch.
#pragma once

#include "view_context.h"

namespace hs::app {

struct SpecializationPanel {
  // Returns an epoch the user clicked, or -1.
  int Draw(ViewContext& v, bool* request_analysis);

 private:
  jobs::ArtifactPtr m_summary;
  std::vector<float> m_x, m_frac, m_dom;  // [n_epochs], [head][n_epochs]
  const void* m_built_from = nullptr;
};

}  // namespace hs::app
