// Conversions between torch tensors and io::Array, and TL-named checkpoints.
#pragma once

#include <torch/types.h>

#include <filesystem>
#include <map>
#include <string>

#include "io/array.h"
#include "io/safetensors.h"

namespace hs::model {

io::Array ToArray(const torch::Tensor& t);         // contiguous CPU copy
torch::Tensor FromArray(const io::Array& a);        // owns its memory

class HookedTransformerImpl;

// Writes the model's TL-named weights (float32) plus `metadata` atomically.
void SaveCheckpoint(const std::filesystem::path& path, const HookedTransformerImpl& model,
                    const std::map<std::string, std::string>& metadata = {});
// Loads a checkpoint into `model`; IoError naming the file on any problem
// (truncated, malformed, a missing tensor, a wrong shape).
std::map<std::string, std::string> LoadCheckpoint(const std::filesystem::path& path, HookedTransformerImpl& model);

}  // namespace hs::model
