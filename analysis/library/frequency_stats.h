// The one definition of the thresholds and rules the analyzers, summaries,
// panels and reports share: when a neuron counts as explained by one
// frequency, which frequencies are "key", when a run has grokked, when a
// head has specialised. Torch-free: the UI uses the same functions.
#pragma once

#include <vector>

namespace hs::library {

// A unit (neuron or head) is explained by one frequency when that frequency
// holds more than this fraction of its variance (Nanda et al. 2023: 0.85).
inline constexpr double kExplainedThreshold = 0.85;
// A frequency is key when at least this fraction of the neurons are
// explained by it.
inline constexpr double kKeyFreqMinNeuronFrac = 0.01;
// A run has grokked at the first epoch whose test accuracy exceeds this.
inline constexpr double kGrokTestAccuracy = 0.9;
// A head is specialised when one frequency holds at least this fraction.
inline constexpr double kHeadSpecializedThreshold = 0.9;

struct DominantFrequency {
  int k = 1;          // 1-based frequency
  float fraction = 0; // its variance fraction
};

// Per unit, the frequency with the largest variance fraction (the first on
// ties). freq_matrix: [n_freq, n_units], row k-1 is frequency k.
std::vector<DominantFrequency> DominantFrequencies(const float* freq_matrix, int n_freq, int n_units);

// Units explained (> kExplainedThreshold) per frequency: [n_freq], entry k-1.
std::vector<int> ExplainedPerFrequency(const std::vector<DominantFrequency>& dominant, int n_freq);

// Whether frequency k (index k-1) is key, given the per-frequency counts of
// explained neurons among n_neurons.
std::vector<bool> KeyFrequencyMask(const std::vector<int>& explained_per_freq, int n_neurons);

// A head's coarseness class from its FFT low-frequency energy ratio (no DC):
// "low-frequency" (>= 0.5: large smooth regions), "high-frequency" (<= 0.1:
// fine stripes), else "mixed".
const char* CoarsenessClass(float fft_low_freq);

// The first epoch whose test accuracy exceeds kGrokTestAccuracy, or -1.
int GrokEpoch(const std::vector<float>& epochs, const std::vector<float>& test_acc);

}  // namespace hs::library
