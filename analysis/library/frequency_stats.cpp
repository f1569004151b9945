// Frequency statistics and thresholds (see frequency_stats.h).
#include "library/frequency_stats.h"

#include <algorithm>

namespace hs::library {

std::vector<DominantFrequency> DominantFrequencies(const float* fm, int n_freq, int n_units) {
  std::vector<DominantFrequency> out(std::max(0, n_units));
  for (int u = 0; u < n_units; ++u) {
    int best = 0;
    for (int k = 1; k < n_freq; ++k)
      if (fm[size_t(k) * n_units + u] > fm[size_t(best) * n_units + u]) best = k;
    out[u] = {best + 1, n_freq > 0 ? fm[size_t(best) * n_units + u] : 0.0f};
  }
  return out;
}

std::vector<int> ExplainedPerFrequency(const std::vector<DominantFrequency>& dominant, int n_freq) {
  std::vector<int> counts(std::max(0, n_freq), 0);
  for (const auto& d : dominant)
    if (d.fraction > kExplainedThreshold && d.k >= 1 && d.k <= n_freq) ++counts[d.k - 1];
  return counts;
}

std::vector<bool> KeyFrequencyMask(const std::vector<int>& explained_per_freq, int n_neurons) {
  std::vector<bool> mask(explained_per_freq.size());
  for (size_t i = 0; i < mask.size(); ++i)
    mask[i] = explained_per_freq[i] > 0 && explained_per_freq[i] >= kKeyFreqMinNeuronFrac * n_neurons;
  return mask;
}

const char* CoarsenessClass(float f) { return f >= 0.5f ? "low-frequency" : f <= 0.1f ? "high-frequency" : "mixed"; }

int GrokEpoch(const std::vector<float>& epochs, const std::vector<float>& test_acc) {
  for (size_t i = 0; i < std::min(epochs.size(), test_acc.size()); ++i)
    if (test_acc[i] > kGrokTestAccuracy) return int(epochs[i]);
  return -1;
}

}  // namespace hs::library
