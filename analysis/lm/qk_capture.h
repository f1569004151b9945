// Queries and keys of every head over a text corpus, after rotary
// (TransformerLens hook_q / hook_k), with their token positions and example
// ids: the input of the attention-plasticity analysis (seed 003).
//
// The corpus (a text file or a folder of them) is tokenised document by
// document and cut into examples of `seq_len` tokens (BOS first when the
// model uses one). Examples are taken in a random order drawn from `seed`
// until `max_tokens` tokens are collected (the last one cut short), so every
// head sees the same tokens and keys can be paired within an example.
//
//   lm::QKCaptureOptions o;  o.corpus = "/usr/share/common-licenses";
//   lm::QKSample s = lm::CaptureQK(*model, o);
//   const float* q = s.Q(layer, head);   // [s.n(), s.d_head]
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "library/plasticity.h"
#include "lm/language_model.h"

namespace hs::lm {

struct QKCaptureOptions {
  std::string corpus = "/usr/share/common-licenses";  // file or folder (the demo LM's corpus)
  int max_tokens = 50000;  // per head (all heads see the same tokens)
  int seq_len = 0;         // tokens per example; 0: min(n_ctx, 1024)
  uint64_t seed = 0;
  int bos = -1;            // 1 / 0: prepend BOS or not; -1: LanguageModel::DefaultBos()
};

struct QKSample {
  int n_layers = 0, n_q_heads = 0, n_k_heads = 0, d_head = 0;
  std::vector<int32_t> position;  // [n] token position in its example (0 = first)
  std::vector<int32_t> example;   // [n] example id
  std::vector<std::vector<float>> q;  // [layer * n_q_heads + head] -> [n, d_head]
  std::vector<std::vector<float>> k;  // [layer * n_k_heads + head] -> [n, d_head]
  int n() const { return int(position.size()); }
  const float* Q(int layer, int head) const { return q[size_t(layer) * n_q_heads + head].data(); }
  const float* K(int layer, int head) const { return k[size_t(layer) * n_k_heads + head].data(); }
};

// floor(log2(position)), position 0 in bucket 0.
inline int PositionBucket(int position) {
  int b = 0;
  while (position > 1) position >>= 1, ++b;
  return b;
}

// The key head a query head reads under grouped-query attention:
// floor(q_head / (n_q_heads / n_k_heads)).
inline int KeyHeadOf(int q_head, int n_q_heads, int n_k_heads) { return q_head / (n_q_heads / n_k_heads); }

// Called after each example with tokens collected so far; false cancels
// (jobs::Cancelled, categorize.h).
using CaptureProgress = std::function<bool(int tokens, int total)>;

// io::IoError naming the corpus when it is missing, empty or yields no
// example of two tokens or more.
QKSample CaptureQK(const LanguageModel& lm, const QKCaptureOptions& opt, const CaptureProgress& progress = {});

// One plasticity input per (layer, query head), layer-major: the query head's
// vectors and its key head's (KeyHeadOf) over the sample's tokens. Pointers
// into `s`, which must outlive them.
std::vector<library::plasticity::HeadInput> PlasticityInputs(const QKSample& s);

// The whole attention-plasticity method on one model: capture queries and
// keys over `corpus` (cfg's token budget and seed), then analyse every head.
// progress(phase, done, total) after each example (phase 0: tokens
// captured) and each head (phase 1: heads analysed); false cancels
// (jobs::Cancelled). The CLI and the explorer's Plasticity tab run this.
struct PlasticityRun {
  std::vector<library::plasticity::HeadResult> results;
  int tokens = 0, examples = 0;
  double capture_seconds = 0, analysis_seconds = 0;
};
using PlasticityProgress = std::function<bool(int phase, int done, int total)>;
PlasticityRun ComputePlasticity(const LanguageModel& lm, const library::plasticity::Config& cfg,
                                const std::string& corpus, const PlasticityProgress& progress = {});

}  // namespace hs::lm
