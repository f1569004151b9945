// A language model as the explorer and the CLI use it: a Hugging Face folder
// (or the shipped demo LM) loaded with its tokenizer, run on a prompt.
// Torch-free interface; results come back as io::Array.
//
//   auto lm = lm::LanguageModel::Open("assets/demo_lm");
//   auto ids = lm->Encode("The cat sat. The cat", lm->DefaultBos());
//   io::Array patterns = lm->Patterns(ids);   // [n_layers, n_heads, T, T] float32
//
// Long prompts on big models stream instead (StreamPatterns): each layer's
// patterns go to a callback a chunk of heads at a time and are not kept; a
// PromptCache keeps the keys and values of the prompt run last, so the next
// run recomputes only from its first changed token.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "io/array.h"
#include "model/hf_loader.h"
#include "tokenizers/tokenizer.h"

namespace hs::model { class MappedModel; }

namespace hs::lm {

// Attention probabilities of heads [head0, head0 + n_heads) of one layer for
// query rows [row0, T): data is [n_heads, T - row0, T] float32, row-major,
// zero above the diagonal (and left of the window on sliding-window layers).
// Valid during the callback only.
struct PatternBlock {
  int layer = 0, head0 = 0, n_heads = 0;
  int64_t row0 = 0, T = 0;
  const float* data = nullptr;
  const float* Row(int head_in_block, int64_t row) const {
    return data + (size_t(head_in_block) * size_t(T - row0) + size_t(row - row0)) * size_t(T);
  }
};

// The keys, values and queries of the prompt a caller ran last (one caller
// at a time; it locks itself).
class PromptCache;
std::shared_ptr<PromptCache> NewPromptCache();

struct Intervention;  // interventions.h

struct StreamOptions {
  int last_layer = -1;        // the last layer whose patterns are needed; -1: the last one
  PromptCache* cache = nullptr;
  int64_t reuse_align = 1;    // rows reused from the cache: a multiple of this
  int64_t reuse_max = INT64_MAX;  // and at most this many
  // After each layer: layers done, of total; false cancels.
  std::function<bool(int done, int total)> progress;
  // Heads and neurons ablated in this run (null or empty: none). The cache
  // is then neither used nor changed.
  const Intervention* intervention = nullptr;
  // After each layer's patterns: its heads' outputs before W_O (hook_z, after
  // the intervention), z [n_heads, T - row0, d_head] row-major, for rows
  // row0..T-1 (the rows run). Also at the last layer.
  std::function<void(int layer, const float* z, int n_heads, int64_t row0, int64_t T, int d_head)> on_z;
};

class LanguageModel {
 public:
  // Maps the weights and loads the tokenizer; io::IoError naming the file on
  // any problem, model::DoesNotFit (one line) for a model too big for memory.
  // A folder without tokenizer files gets tok::IdsOnlyTokenizer: prompts are
  // token ids and tokens are labelled "#id".
  static std::unique_ptr<LanguageModel> Open(const std::filesystem::path& dir);
  ~LanguageModel();

  const model::HFModelInfo& info() const;
  const model::TransformerConfig& cfg() const;
  const tok::Tokenizer& tokenizer() const;

  // Whether a BOS is prepended unless the user says otherwise: yes when the
  // tokenizer defines one (as TransformerLens does, and the demo LM was
  // trained with it), except Qwen, whose models are used without.
  bool DefaultBos() const;
  std::vector<int64_t> Encode(const std::string& text, bool bos) const;

  // Attention patterns of every head, [n_layers, n_heads, T, T] float32.
  // Throws std::invalid_argument for an empty, too long or out-of-vocabulary
  // token list (the message says which).
  io::Array Patterns(const std::vector<int64_t>& tokens) const;

  // Every layer's patterns up to options.last_layer, streamed to `sink` in
  // chunks (rows from the first one not reused from options.cache). Same
  // checks as Patterns; a prompt whose working memory does not fit is an
  // error saying what it needs. False when cancelled.
  bool StreamPatterns(const std::vector<int64_t>& tokens, const std::function<void(const PatternBlock&)>& sink,
                      const StreamOptions& options = {}) const;

  // One head's [T, T] pattern for `tokens`: from `cache` when it holds these
  // tokens (a matrix product), else by running the model to that layer
  // (with `intervention`'s heads and neurons turned off, when given: the
  // cache is then not used).
  std::vector<float> HeadPattern(const std::vector<int64_t>& tokens, int layer, int head,
                                 PromptCache* cache = nullptr, const Intervention* intervention = nullptr) const;

  // The streamed model itself (interventions.cpp runs it with hooks).
  model::MappedModel& Mapped() const;

  // Layers kept in float32 once converted; the rest stream through one slot.
  int ResidentLayers() const;

  // Queries and keys of every layer after rotary (TransformerLens hook_q,
  // hook_k): q[l] is [T, n_heads, d_head], k[l] is [T, n_kv_heads, d_head],
  // float32. Same checks as Patterns.
  void QueriesKeys(const std::vector<int64_t>& tokens, std::vector<io::Array>* q, std::vector<io::Array>* k) const;

 private:
  LanguageModel();
  struct Impl;
  std::unique_ptr<Impl> m;
};

// The demo LM shipped under assets/ (source tree or next to the binary);
// empty when not found.
std::filesystem::path DemoLmDir();

// Why `dir` cannot be opened as a language model, from its config.json and
// file names only (cheap: for listing many folders); "" when it looks
// loadable. Says e.g. "model_type \"t5\" is not supported (supported: ...)".
std::string ModelFolderProblem(const std::filesystem::path& dir);

}  // namespace hs::lm
