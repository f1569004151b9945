// Coarseness of 2D maps (research notes, 2026-02-02): how large-scale the
// structure of an attention pattern or neuron activation grid is.
#pragma once

#include <torch/types.h>

namespace hs::library {

struct CoarsenessSpec {
  double low_freq_radius = 0.125;  // circular mask radius as a fraction of the spectrum size
  int downsample = 14;             // side of the bilinear down-sampled map
};

// Per map, three numbers:
//   [0] FFT low-frequency energy ratio without DC: power of the fftshifted 2D
//       FFT inside a centred circle (radius low_freq_radius * side), with the
//       DC term zeroed, over the total power without DC;
//   [1] variance preserved after bilinear down-sampling to 14x14 and back:
//       var(up) / var(map);
//   [2] mean gradient magnitude: (mean|dx| + mean|dy|) / 2 of neighbour
//       differences.
// A constant map gives (0, 1, 0).
// maps [n, H, W] -> [n, 3]
torch::Tensor CoarsenessMetrics(const torch::Tensor& maps, const CoarsenessSpec& spec = {});

}  // namespace hs::library
