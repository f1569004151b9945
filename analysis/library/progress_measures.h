// Nanda et al. (2023)'s progress measures on plain arrays (torch-free, so
// tests can feed hand-built grids): restricted and excluded loss of a logit
// grid over all p*p pairs, the Gini coefficient, the participation ratio.
//
// A logit grid holds logits[(a * p + b) * p + c]: the logit of answer c for
// the pair (a, b); the label of (a, b) is (a + b) mod p.
//
// The directions: for frequency k (1-based), w_k = 2*pi*k/p, the vectors
// cos(w_k (a + b)) and sin(w_k (a + b)) over the p*p pairs. For k = 1..(p-1)/2
// they are orthogonal to each other and to the constant, so projecting onto
// them is one dot product per direction and answer c.
#pragma once

#include <vector>

namespace hs::library {

// The components of the columns of `values` [p*p, n_cols] (row a*p + b for
// the pair (a, b)) along the unit directions cos(w_k (a+b)) and sin(w_k (a+b))
// over the pairs, w_k = 2 pi k / p, summed over k in `freqs`: [p*p, n_cols].
// (The key-frequency part the progress measures split the logits into.)
std::vector<double> SumFrequencyPart(const float* values, int p, int n_cols, const std::vector<int>& freqs);

// Restricted logits: per answer c, the mean over the grid plus the
// components along cos/sin(w_k (a+b)) for k in `key_freqs`; everything else
// is removed. -> [p*p*p] in logit-grid order.
std::vector<double> RestrictedLogits(const float* logits, int p, const std::vector<int>& key_freqs);
// Excluded logits: the logits minus those key-frequency components (the mean
// stays). -> [p*p*p]
std::vector<double> ExcludedLogits(const float* logits, int p, const std::vector<int>& key_freqs);

// Both at once (one projection pass): restricted and excluded logits.
void SplitKeyFrequencies(const float* logits, int p, const std::vector<int>& key_freqs, std::vector<double>* restricted,
                         std::vector<double>* excluded);

// Mean cross-entropy (float64 log-softmax over the p answers) over the
// given pairs (indices a*p + b), label (a + b) mod p. Empty pairs: NaN.
double GridCrossEntropy(const double* logits, int p, const std::vector<int>& pairs);
double GridCrossEntropy(const float* logits, int p, const std::vector<int>& pairs);

// Gini coefficient of non-negative values (0: all equal, -> 1: one holds
// everything): sum_i (2i - n - 1) x_(i) / (n sum x) over the sorted x. All
// zero: 0.
double Gini(std::vector<double> values);

// Participation ratio (effective dimensionality) of a matrix from its
// singular values s: (sum s^2)^2 / sum s^4; 1 for rank one, the rank when
// all are equal. All zero: 0.
double ParticipationRatio(const std::vector<double>& singular_values);

}  // namespace hs::library
