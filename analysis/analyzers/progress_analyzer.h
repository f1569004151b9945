// The run-level analyzer `progress_measures`: Nanda et al. (2023)'s progress
// measures over every checkpoint of a run, written as
// artifacts/progress_measures/summary.npz (no per-epoch files):
//   restricted_loss  logits kept only along the key frequencies' cos/sin(w_k(a+b))
//                    directions plus each answer's mean, cross-entropy over all p*p pairs
//   excluded_loss    logits with those directions removed, cross-entropy over the training pairs
//   full_loss, train_loss, test_loss   the model's own logits (same forward, float64 loss)
//   gini_W_E, gini_W_L   Gini coefficient of the norms of the p Fourier components of
//                    W_E (over tokens) and of W_L = W_out W_U (over answers)
//   weight_norm      L2 norm of all parameters
//   pca [n, 3], pca_explained [3]   the parameter trajectory (every weight, flattened)
//                    projected on its top 3 principal components, and their variance shares
//   pr_<matrix>      participation ratio (effective dimensionality) of layer 0's matrices
//   key_freq_mask [n_freq]   the key frequencies used (1 at k-1)
// Key frequencies (stated rule): those neuron_freq_norm marks key at the
// run's last analysed checkpoint (>= 1% of neurons explained > 85% by that
// frequency), so the measures need that summary first; `analyze` runs them
// after the per-checkpoint analyzers. Torch-free interface.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "analyzers/pipeline.h"

namespace hs::analyzers {

class Analyzer;

inline constexpr const char* kProgressMeasures = "progress_measures";

// Layer 0's weight matrices whose participation ratio is tracked ("pr_" + name).
const std::vector<std::string>& TrackedMatrices();

std::unique_ptr<Analyzer> MakeProgressMeasuresAnalyzer();

// The key frequencies (1-based) of the run's final analysed checkpoint, from
// artifacts/neuron_freq_norm/summary.npz (validated). Throws io::IoError
// naming the file when it is missing or invalid.
std::vector<int> FinalKeyFrequencies(const families::RunInfo& run);

// Computes the summary over `epochs` (checkpoints that exist) on `threads`
// threads; `on_done(done, total, epoch)` after each checkpoint. Throws
// io::IoError naming a checkpoint that cannot be read, Cancelled on stop.
io::NpzArchive ComputeProgressMeasures(const families::RunInfo& run, const std::vector<int>& epochs,
                                       const std::vector<int>& key_freqs, int threads,
                                       const std::function<void(int, int, int)>& on_done = {},
                                       const StopFn& should_stop = {});

}  // namespace hs::analyzers
