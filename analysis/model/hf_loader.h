// Hugging Face causal LM folders -> HookedTransformer.
//
// Reads `config.json` and `model.safetensors` (or the shards listed in
// `model.safetensors.index.json`) as they come from the hub, for model_type
// gpt2, llama, qwen2, qwen3, gpt_neox and opt. Hugging Face names and layouts
// are mapped to TransformerLens names once, at load: every file is mapped
// read-only and each tensor is converted (F32/F16/BF16 -> float32) straight
// into its parameter, so loading needs the model's float32 size plus one
// tensor, not a second copy of the checkpoint.
//
// Every problem a folder can have (missing or unreadable file, bad JSON, an
// unknown architecture, an unsupported config value, a missing, unexpected or
// wrongly shaped tensor, a truncated shard, pytorch_model.bin only) is an
// io::IoError naming the file, the tensor, what was expected and what was
// found.
//
// This header is torch-free so that the UI can show a folder's config:
//
//   model::HFModelInfo info = model::ReadHFModelInfo(dir);   // cheap, no weights
//   model::LoadedModel m = model::LoadHFModel(dir);           // weights too
//   model::HookedTransformer net(m.model);                    // (torch side)
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "model/transformer_config.h"

namespace hs::model {

class HookedTransformerImpl;

// What the UI shows about a model folder.
struct HFModelInfo {
  std::filesystem::path dir;
  std::string model_type;                           // config.json "model_type"
  std::vector<std::string> architectures;           // config.json "architectures"
  std::vector<std::filesystem::path> weight_files;  // the safetensors files read
  std::string dtype_on_disk;                        // "BF16", "F16", "F32", or "mixed (BF16, F32)"
  int64_t n_params = 0;                             // parameters of the loaded model (tied embeddings counted once)
  uint64_t bytes_on_disk = 0;                       // sum of the weight files' sizes
  std::optional<int64_t> bos_token_id;
  std::vector<int64_t> eos_token_ids;  // config.json eos_token_id (an int or a list)
  std::optional<int64_t> pad_token_id;
};

struct LoadedModel {
  TransformerConfig cfg;
  std::shared_ptr<HookedTransformerImpl> model;  // eval mode, float32, CPU
  HFModelInfo info;
};

// The model types LoadHFModel understands.
const std::vector<std::string>& SupportedHFModelTypes();

// config.json -> TransformerConfig (no weights are read). IoError on a
// missing or malformed config, an unknown model_type or an unsupported value.
TransformerConfig ReadHFConfig(const std::filesystem::path& dir);

// The config plus the weight files' headers (dtype, sizes; no weights read).
HFModelInfo ReadHFModelInfo(const std::filesystem::path& dir);

// Builds the model and loads every weight. IoError as described above.
LoadedModel LoadHFModel(const std::filesystem::path& dir);

}  // namespace hs::model
