// Head frequency heatmap (frequencies x heads, '=' -> a) with each head's
// dominant frequency annotated, and coarseness badges per head.
#pragma once

#include "view_context.h"

namespace hs::app {

struct HeadFreqPanel {
  void Draw(ViewContext& v);

 private:
  jobs::ArtifactPtr m_freq, m_coarse;
  int m_freq_epoch = -1;
};

// Coarseness label of a head from its FFT low-frequency energy ratio.
const char* CoarsenessLabel(float fft_low_freq);

}  // namespace hs::app
