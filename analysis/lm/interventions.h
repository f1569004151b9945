// Does a head matter? Interventions on a language model's forward, with
// TransformerLens semantics, and the measurements built on them. Torch-free.
//
// Hooks: a head's output blocks.{l}.attn.hook_z[:, h] (before W_O), a
// neuron blocks.{l}.mlp.hook_post[:, n], and blocks.{l}.hook_resid_pre.
// Ablation replaces a head's (or neuron's) activation by
//   zero      0;
//   mean      its mean over every token of the natural sentences categorize
//             uses (ActivationMeans, computed once per model and cached in
//             DerivedDir beside the categories);
//   resample  its activation on a second prompt at the same position.
//
//   auto runner = lm::CleanRun(lm, tokens);               // one forward, kept
//   lm::Intervention iv;  iv.heads = {{1, 1}};  iv.mode = lm::AblationMode::kMean;  iv.means = means;
//   std::vector<double> loss = runner.Losses(iv);         // from layer 1 on only
//
// Losses: entry i is -log p(token i+1 | tokens <= i) in nats (float64
// log-softmax of the float32 logits), i = 0..T-2.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "lm/language_model.h"

namespace hs::lm {

// [SECTION] mean activations
struct ActivationMeans {
  int n_layers = 0, n_heads = 0, d_head = 0, d_mlp = 0;
  std::vector<float> z;     // [n_layers, n_heads, d_head]: mean hook_z over every token
  std::vector<float> post;  // [n_layers, d_mlp]: mean hook_post
  int64_t tokens = 0;       // tokens averaged over
  int prompts = 0;
  std::string prompts_label;  // where the prompts came from ("natural_sentences.txt")
  std::string weights_hash;   // WeightsHash of the model folder ("" when not from a folder)
  std::string weights_signature;  // WeightsSignature then (names, sizes, times: skips re-hashing)
};
// Over `prompts` (each run once). progress(done, total) false cancels (jobs::Cancelled).
ActivationMeans ComputeMeans(const LanguageModel& lm, const std::vector<std::vector<int64_t>>& prompts,
                             const std::function<bool(int, int)>& progress = {});
std::filesystem::path MeansPath(const std::filesystem::path& model_dir);  // DerivedDir/activation_means.npz
// .npz (numpy.load reads it): z, post, tokens, prompts, and the hash and
// label as uint8 arrays. Atomic.
void WriteMeans(const std::filesystem::path& path, const ActivationMeans& means);
// io::IoError naming the file and what is wrong (missing member, shape that
// is not the model's, non-finite value).
ActivationMeans ReadMeans(const std::filesystem::path& path, const model::TransformerConfig& cfg);
// MeansPath(dir) when valid and from these weights, else computed over
// NaturalPrompts and written there (*note says which; a folder that cannot
// be written keeps them for this session and says so).
std::shared_ptr<const ActivationMeans> LoadOrComputeMeans(const LanguageModel& lm, const std::filesystem::path& dir,
                                                          std::string* note = nullptr,
                                                          const std::function<bool(int, int)>& progress = {});

// [SECTION] interventions
enum class AblationMode { kZero, kMean, kResample };
const char* ModeName(AblationMode mode);  // "zero", "mean", "resample"

struct Intervention {
  AblationMode mode = AblationMode::kZero;
  std::vector<std::pair<int, int>> heads;    // {layer, head}
  std::vector<std::pair<int, int>> neurons;  // {layer, neuron}
  std::vector<int> positions;                // only these token positions; empty: every one
  std::shared_ptr<const ActivationMeans> means;  // kMean
  std::vector<int64_t> source;               // kResample: the second prompt, at least as many tokens
  bool empty() const { return heads.empty() && neurons.empty(); }
  int FirstLayer() const;  // the first layer it changes (n_layers: none)
};
// std::invalid_argument naming the head, neuron or position the model or a
// T-token prompt does not have, or a missing source/means.
void CheckIntervention(const Intervention& iv, const model::TransformerConfig& cfg, size_t T);
// "L0H1 (zero)", "L0H1, L1N40 (mean)".
std::string Describe(const Intervention& iv);

// Per-token losses of `tokens` with `iv` applied (the whole forward).
std::vector<double> TokenLosses(const LanguageModel& lm, const std::vector<int64_t>& tokens,
                                const Intervention& iv = {});
// One prompt's clean forward, kept (the residual stream entering every
// layer), so that an intervention recomputes only from its first layer.
class CleanRun {
 public:
  CleanRun(const LanguageModel& lm, std::vector<int64_t> tokens);
  ~CleanRun();
  CleanRun(CleanRun&&) noexcept;
  const std::vector<int64_t>& tokens() const;
  const std::vector<double>& losses() const;  // clean, [T-1]
  std::vector<double> Losses(const Intervention& iv) const;
  // Logits of the last position, [d_vocab_out] (float32), with `iv`.
  std::vector<float> LastLogits(const Intervention& iv = {}) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> m;
};

// [SECTION] attribution patching
// The first-order estimate of ablating each head at each position: the
// gradient of a summed loss with respect to hook_z, times the change
// ablation makes there (z_ablated - z). One forward and one backward per
// loss mask. The model must keep every layer in memory (model::DoesNotFit
// otherwise, also when the graph does not fit).
struct HeadAttribution {
  int n_layers = 0, n_heads = 0, T = 0;
  AblationMode mode = AblationMode::kZero;
  std::vector<double> loss_clean;           // [T-1]
  // Per loss mask: [n_layers, n_heads, T], the estimated change of the mask's
  // summed loss from ablating that head at that position; summing over
  // positions estimates ablating the head everywhere.
  std::vector<std::vector<float>> effect;
  double forward_ms = 0, backward_ms = 0;
  double Total(size_t mask, int layer, int head) const;  // summed over positions
};
// loss_masks: per mask, T-1 flags (which loss entries count); empty: one mask of every entry.
HeadAttribution AttributeHeads(const LanguageModel& lm, const std::vector<int64_t>& tokens, AblationMode mode,
                               const std::shared_ptr<const ActivationMeans>& means,
                               std::vector<std::vector<char>> loss_masks = {});

// [SECTION] activation patching
// From the clean prompt into the corrupt one (same number of tokens), each
// head's hook_z and each layer's resid_pre at one position at a time; the
// metric is logit(answer) - logit(wrong) at the last position, normalised
// so 0 = the corrupt run and 1 = the clean run.
struct PatchResult {
  std::vector<int64_t> clean, corrupt;
  int64_t answer = 0, wrong = 0;
  double ld_clean = 0, ld_corrupt = 0;  // logit differences of the two runs
  int n_layers = 0, n_heads = 0, T = 0;
  std::vector<float> z;      // [n_layers, n_heads, T]
  std::vector<float> resid;  // [n_layers, T]
  double ms = 0;
};
// progress(done, total) false cancels (jobs::Cancelled). std::invalid_argument
// for prompts of different lengths, equal answer and wrong tokens, or clean
// and corrupt runs whose logit differences are equal (nothing to restore).
PatchResult PatchActivations(const LanguageModel& lm, const std::vector<int64_t>& clean,
                             const std::vector<int64_t>& corrupt, int64_t answer, int64_t wrong,
                             const std::function<bool(int, int)>& progress = {});

}  // namespace hs::lm
