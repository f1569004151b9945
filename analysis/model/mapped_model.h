// A Hugging Face causal LM for inference at workstation scale (0.5B-8B
// parameters, prompts of thousands of tokens), streamed layer by layer.
//
// Weights stay as they are in the file: the safetensors files are mapped,
// never widened as a whole. Each layer is converted to float32 when the
// forward reaches it, into
//   - its own buffers, kept, while the float32 layers fit the weights budget
//     (by default 60% of the memory available when the model is opened;
//     HEADSCOPE_WEIGHTS_BUDGET_GB overrides), so the next prompt computes
//     straight from them, and
//   - one reused slot for the layers beyond the budget (a Llama-3-8B-shaped
//     BF16 folder on a 24 GB machine), refilled as each is reached.
// The embedding and unembedding stay mapped: the forward converts the rows
// of the prompt's tokens, and logits go through the vocabulary in chunks.
// Arithmetic is float32 throughout (BF16 GEMMs are faster on CPUs with
// AVX512-BF16 but round every activation to 8 bits of mantissa; see
// bench/README.md).
//
// The forward streams: a callback receives each layer's attention pattern
// (in chunks of heads, a bounded number of bytes at a time) and nothing is
// kept that the caller does not keep. A PrefixCache holds the keys, values
// and queries of the tokens already run, so a prompt that shares a prefix
// with the previous one recomputes from its first changed token.
//
//   auto m = model::OpenHFModelMapped(dir);
//   model::MappedModel::RunSpec spec;
//   spec.on_pattern = [&](const model::PatternChunk& c) { ... };  // [heads, rows, T]
//   m->Run(tokens, spec, &cache);
#pragma once

#include <torch/types.h>

#include <filesystem>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "model/hf_loader.h"
#include "model/transformer_config.h"

namespace hs::model {

// A model or a prompt that does not fit in memory: one line saying what it
// needs against what is available.
class DoesNotFit : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Attention probabilities of heads [head0, head0 + n_heads) of one layer for
// query rows [row0, T): pattern is [n_heads, T - row0, T] float32, contiguous,
// zero above the diagonal (and left of the window on sliding-window layers).
// Valid during the callback only.
struct PatternChunk {
  int layer = 0, head0 = 0, n_heads = 0;
  int64_t row0 = 0, T = 0;
  torch::Tensor pattern;
};

// Memory in bytes: what the system says is available (MemAvailable, and the
// address-space limit when one is set).
int64_t AvailableMemoryBytes();
std::string GiB(double bytes);  // "3.2 GB" (io::ByteSize)

class MappedModel {
 public:
  // What the loader hands over (see OpenHFModelMapped).
  struct Parts;
  explicit MappedModel(std::unique_ptr<Parts> parts);
  ~MappedModel();

  const TransformerConfig& cfg() const;
  const HFModelInfo& info() const;
  int64_t LayerBytes() const;      // one layer in float32
  int ResidentLayers() const;      // layers kept in float32 once converted
  bool Streams() const { return ResidentLayers() < cfg().n_layers; }

  // Keys, values and queries of every layer for `tokens` (post-rotary):
  // k, v [T, n_kv_heads, d_head], q [T, n_heads, d_head] per layer.
  struct PrefixCache {
    std::vector<int64_t> tokens;
    std::vector<torch::Tensor> q, k, v;
    int layers = 0;  // layers covered (a run stopped early covers fewer)
    void Clear() { tokens.clear(), q.clear(), k.clear(), v.clear(), layers = 0; }
  };

  struct RunSpec {
    int last_layer = -1;   // the last layer to run (its attention only); -1: every layer and the logits
    int64_t chunk_bytes = int64_t(128) << 20;  // attention computed this many bytes of pattern at a time
    std::function<void(const PatternChunk&)> on_pattern;
    // Post-rotary queries and keys of the rows run: [rows, n_heads, d_head], [rows, n_kv_heads, d_head].
    std::function<void(int layer, const torch::Tensor& q, const torch::Tensor& k)> on_qk;
    // After each layer; false cancels (Run returns false).
    std::function<bool(int layers_done, int layers_total)> on_progress;
    bool keep_queries = true;  // PrefixCache::q (for HeadPattern)
    // Interventions at TransformerLens hooks, on the rows run (TransformerLens
    // semantics); each may change its tensor in place (or replace it). Not
    // with a PrefixCache (the cache holds clean keys and values).
    //   hook_z         blocks.{l}.attn.hook_z, the heads' outputs before W_O: [n_heads, rows, d_head]
    //   hook_post      blocks.{l}.mlp.hook_post, the MLP neurons: [rows, d_mlp]
    //   hook_resid_pre blocks.{l}.hook_resid_pre: [rows, d_model]
    std::function<void(int layer, torch::Tensor& z)> hook_z;
    std::function<void(int layer, torch::Tensor& post)> hook_post;
    std::function<void(int layer, torch::Tensor& resid)> hook_resid_pre;
    // Observes each layer's z [n_heads, rows, d_head] (after hook_z) without
    // changing it: allowed with the cache; with it a partial run also
    // computes the last layer's z.
    std::function<void(int layer, const torch::Tensor& z)> on_z;
    // The residual stream after the last layer (blocks.{L-1}.hook_resid_post), every row run; full runs only.
    std::function<void(const torch::Tensor& resid)> on_resid_final;
    // Start at layer start_layer from its resid_pre for every row (a clean
    // run's, kept by hook_resid_pre): layers before it are not run. Not with
    // a PrefixCache.
    int start_layer = 0;
    torch::Tensor start_resid;
    // Record the autograd graph from layer 0's hook_z on (hook_z sees tensors
    // that require grad; backward from the logits gives the gradient at each
    // layer's z). Refused for a model that streams its layers (the slot is
    // refilled) and, with DoesNotFit, when the graph would not fit.
    bool track_grad = false;
    // Logits of the last this many rows only (-1: every row run).
    int64_t logit_rows = -1;
    int64_t reuse_align = 1;   // rows reused from the cache: a multiple of this ...
    int64_t reuse_max = INT64_MAX;  // ... and at most this many
  };

  // Runs `tokens` (checked: non-empty, within the context and vocabulary,
  // std::invalid_argument otherwise). With a cache: rows of the longest
  // prefix shared with cache->tokens are taken from it (patterns are then
  // reported from the first new row), and the cache is updated. `logits`,
  // when given and last_layer is -1: [T - row0, d_vocab_out] (or the last
  // spec.logit_rows rows). DoesNotFit
  // before allocating when the prompt's working memory exceeds what is
  // available. Returns false when on_progress cancelled.
  bool Run(const std::vector<int64_t>& tokens, const RunSpec& spec, PrefixCache* cache = nullptr,
           torch::Tensor* logits = nullptr);

  // One head's full [T, T] pattern from a cache that covers `layer`
  // (queries kept); undefined when it does not.
  torch::Tensor HeadPattern(const PrefixCache& cache, int layer, int head) const;

  // A float32 copy of one layer's weight, by its TransformerLens name within
  // a block ("attn.W_O" as [n_heads, d_head, d_model], "attn.b_O",
  // "mlp.W_out", "mlp.b_out", ...); undefined when the config has none.
  torch::Tensor LayerWeight(int layer, const std::string& name);
  // One head's W_O, [d_head, d_model] (a float32 copy).
  torch::Tensor HeadOutputWeight(int layer, int head);
  // The unembedding's columns for `ids`, [d_model, n] (W_U[:, ids]), and a
  // global weight ("ln_final.w", "ln_final.b", "unembed.b_U"; undefined when absent).
  torch::Tensor UnembedColumns(const std::vector<int64_t>& ids);
  // Rows of the token embedding for `ids`, [n, d_model] (without Gemma's sqrt(d_model) scale).
  torch::Tensor EmbedRows(const std::vector<int64_t>& ids);
  torch::Tensor GlobalWeight(const std::string& name) const;
  // Logits [n, d_vocab_out] of residual-stream rows [n, d_model] through the
  // final norm (each row its own scale), the unembedding and its bias (the
  // logit lens; Run ends with it).
  torch::Tensor Logits(const torch::Tensor& resid);
  // x W_U alone ([rows, d_model] -> [rows, d_vocab_out]): no final norm, no bias, no soft cap.
  torch::Tensor Unembed(const torch::Tensor& x);

  // Working memory a T-token run needs beyond the weights, in bytes.
  int64_t WorkingBytes(int64_t T) const;

 private:
  torch::Tensor LogitsLocked(torch::Tensor resid, bool norm_and_bias = true);
  struct Impl;
  std::unique_ptr<Impl> m;
};

struct MappedOptions {
  // Bytes of float32 layers kept; < 0: HEADSCOPE_WEIGHTS_BUDGET_GB, else 60%
  // of AvailableMemoryBytes() at open.
  double weights_budget_bytes = -1;
};

// Maps and validates a model folder exactly as LoadHFModel does (same
// errors), converting only the small global weights (positions, final norm).
// DoesNotFit when even one layer and the working memory of a short prompt do
// not fit.
std::unique_ptr<MappedModel> OpenHFModelMapped(const std::filesystem::path& dir, const MappedOptions& options = {});

}  // namespace hs::model

// ---- between the loader and the model (not for callers) ---------------------
namespace hs::model {

// One layer's float32 weights. params holds TransformerLens names within a
// block ("ln1.w", "attn.W_Q", "mlp.W_in", ...); W_Q, W_K, W_V (and their
// biases) are views into qkv_w [d_model, (n_heads + 2 n_kv) d_head] (qkv_b),
// so filling them packs the projection for one GEMM. Every tensor is a view
// into `block`.
struct LayerStore {
  torch::Tensor block;  // all of the layer's floats, one allocation
  torch::Tensor qkv_w, qkv_b;
  std::map<std::string, torch::Tensor> params;
  torch::Tensor P(const std::string& name) const;  // undefined when the config has no such weight
  int64_t Bytes() const;
};
// Allocates (does not touch) one layer's buffers.
LayerStore MakeLayerStore(const TransformerConfig& c);

struct MappedModel::Parts {
  TransformerConfig cfg;
  HFModelInfo info;
  std::shared_ptr<void> files;         // the mapped checkpoint, alive as long as the model
  int resident_layers = 0;             // layers [0, resident_layers) have their own store
  std::vector<LayerStore> stores;      // per layer; the ones past resident_layers share one slot
  std::vector<std::vector<std::function<void()>>> fill;  // per layer: convert its file tensors into its store
  // [n, d_model] float32 rows of the embedding for `ids`; rows [row0, row0 + n) of the unembedding as [n, d_model].
  std::function<void(const int64_t* ids, int64_t n, float* out)> embed_rows;
  std::function<void(int64_t row0, int64_t n, float* out)> unembed_rows;
  std::map<std::string, torch::Tensor> globals;  // pos_embed.W_pos, ln_final.w/b, unembed.b_U (float32, resident)
};

}  // namespace hs::model
