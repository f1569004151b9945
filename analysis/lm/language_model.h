// A language model as the explorer and the CLI use it: a Hugging Face folder
// (or the shipped demo LM) loaded with its tokenizer, run on a prompt.
// Torch-free interface; results come back as io::Array.
//
//   auto lm = lm::LanguageModel::Open("assets/demo_lm");
//   auto ids = lm->Encode("The cat sat. The cat", lm->DefaultBos());
//   io::Array patterns = lm->Patterns(ids);   // [n_layers, n_heads, T, T] float32
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "io/array.h"
#include "model/hf_loader.h"
#include "tokenizers/tokenizer.h"

namespace hs::lm {

class LanguageModel {
 public:
  // Loads weights and tokenizer; io::IoError naming the file on any problem.
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

}  // namespace hs::lm
