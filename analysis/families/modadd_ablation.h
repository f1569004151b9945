// Ablation of the modular-addition model at a checkpoint: train and test loss
// and accuracy, clean and with interventions (issue 22, grokking side).
// Torch-free interface.
//
// Interventions, TransformerLens semantics, several at once:
//   heads    blocks.0.attn.hook_z[:, :, h] = 0 (the head's output before W_O,
//            at every position): the head adds nothing (b_O, if any, stays);
//   neurons  blocks.0.mlp.hook_post[:, :, n] = 0;
//   freqs    frequency k removed from the neuron activations at the last
//            position, post [p*p, d_mlp] (row a*p + b): each neuron's column
//            loses its components along the two unit directions over the p*p
//            pairs cos(w_k (a+b)) and sin(w_k (a+b)), w_k = 2*pi*k/p, exactly
//            the directions library/progress_measures.h removes from the
//            logits for the excluded loss (there per answer c, here per
//            neuron). They are orthogonal to each other, to the constant and
//            across k, so removing several is removing each. The paper's 2D
//            Fourier terms (cos a cos b - sin a sin b)/sqrt2 and
//            (sin a cos b + cos a sin b)/sqrt2 are the same unit vectors.
// Order: heads first (they change the MLP's input), then the neuron zeros,
// then the frequencies (a zeroed neuron stays zero).
//
// The numbers are the task's: the logits at the last position over the
// d_vocab_out answers, mean cross-entropy with a float64 log-softmax (natural
// log), accuracy = argmax equals (a + b) mod p; the train and test pairs are
// the trainer's split (MakeModAddData with config.json's train_frac and
// data_seed). The forward is layer 0 at the last position only (the 1-layer
// family; queries and keys per (token, position) as in modadd_forward.h).
#pragma once

#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "families/run_info.h"

namespace hs::model {
class HookedTransformerImpl;
}

namespace hs::families {

struct ModAddAblation {
  std::vector<int> heads;    // layer-0 heads, 0..n_heads-1
  std::vector<int> neurons;  // MLP neurons, 0..d_mlp-1
  std::vector<int> freqs;    // frequencies k, 1..(p-1)/2
  bool empty() const { return heads.empty() && neurons.empty() && freqs.empty(); }
  // "heads 0, 3; neurons 12, 400; frequencies 14" ("nothing" when empty).
  std::string Describe() const;
  // Sorted, duplicates dropped: equal interventions have equal keys.
  ModAddAblation Normalised() const;
  std::string Key() const;  // "h0,3|n12|f14", from Normalised()
};

struct ModAddScores {
  double train_loss = NAN, test_loss = NAN;  // nats
  double train_acc = NAN, test_acc = NAN;    // fraction of pairs
};

struct ModAddAblationResult {
  int epoch = -1;
  ModAddScores clean, ablated;
};

// Whether the run is a model this forward covers (1 layer, no norms, a
// standard MLP and learned positions); false with *why otherwise.
bool ModAddAblationApplies(const RunInfo& run, std::string* why = nullptr);
// Throws std::invalid_argument naming the first index out of range ("head 4:
// this model has heads 0-3"), or why the run is not covered.
void CheckAblation(const RunInfo& run, const ModAddAblation& a);

// One checkpoint (checkpoints/epoch_NNNNN.safetensors). Throws
// std::invalid_argument for a bad ablation, io::IoError naming the file when
// the checkpoint is missing or unreadable.
ModAddAblationResult AblateCheckpoint(const RunInfo& run, int epoch, const ModAddAblation& a);

struct ModAddAblationCurve {
  std::vector<int> epochs;                // as asked, ascending
  std::vector<ModAddScores> clean, ablated;  // one per epoch
};
// `report(done, total, epoch)` after each checkpoint; returning false stops
// the work with jobs::Cancelled. The same numbers as AblateCheckpoint, one
// model loaded once. `with_clean` false: only the ablated forward runs past
// the attention (the clean scores, which depend only on the checkpoint, are
// NaN; a caller that has them saves up to half the work).
using AblationProgress = std::function<bool(int done, int total, int epoch)>;
ModAddAblationCurve AblateOverTraining(const RunInfo& run, const ModAddAblation& a, const std::vector<int>& epochs,
                                       const AblationProgress& report = {}, bool with_clean = true);

// --- the pieces, for tests ---------------------------------------------------

// The same, for a model in memory (epoch -1).
ModAddAblationResult AblateModel(const model::HookedTransformerImpl& model, const RunInfo& run,
                                 const ModAddAblation& a);
// The logits at the last position with `a` applied: [p*p * d_vocab_out]
// float32, row a*p + b (library/progress_measures.h's grid when d_vocab_out == p).
std::vector<float> ModAddAblatedLogits(const model::HookedTransformerImpl& model, const RunInfo& run,
                                       const ModAddAblation& a);
// Removes from each column of values [p*p, n_cols] (row a*p + b) its
// components along unit cos(w_k (a+b)) and sin(w_k (a+b)) for k in `freqs`
// (accumulated in float64). Throws std::invalid_argument for k outside
// 1..(p-1)/2.
void RemoveSumFrequencies(float* values, int p, int n_cols, const std::vector<int>& freqs);
// The trainer's split of the p*p pairs (indices a*p + b).
void ModAddSplit(const RunInfo& run, std::vector<int>* train, std::vector<int>* test);

}  // namespace hs::families
