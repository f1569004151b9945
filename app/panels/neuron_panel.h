// Neurons: the frequency x neuron heatmap (variance fraction), and small
// multiples of neuron activation maps with paging and a filter by dominant
// frequency.
#pragma once

#include "view_context.h"

namespace hs::app {

struct NeuronPanel {
  int page = 0;
  int per_page = 16;
  int filter_k = 0;  // 0: all neurons, else only neurons whose dominant frequency is k

  void Draw(ViewContext& v);

 private:
  jobs::ArtifactPtr m_freq, m_acts;
  int m_freq_epoch = -1, m_acts_epoch = -1;
};

}  // namespace hs::app
