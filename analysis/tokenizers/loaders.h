// One loader per tokenizer file format; LoadTokenizer (tokenizer.cpp) picks among them by the files
// in a model folder. Each throws hs::io::IoError naming the file and what is wrong with it.
#pragma once

#include <filesystem>
#include <memory>
#include <string>

#include "tokenizers/tokenizer.h"

namespace hs::tok {

// Hugging Face tokenizer.json (byte-level BPE). Reads tokenizer_config.json beside it, if present,
// for the BOS token.
std::unique_ptr<Tokenizer> LoadHfTokenizer(const std::filesystem::path& tokenizer_json);
// GPT-2's vocab.json + merges.txt, with encoder.py's semantics (no special tokens in text).
std::unique_ptr<Tokenizer> LoadGpt2Tokenizer(const std::filesystem::path& vocab_json,
                                             const std::filesystem::path& merges_txt);
// A SentencePiece tokenizer.model.
std::unique_ptr<Tokenizer> LoadSentencePieceTokenizer(const std::filesystem::path& model_file);
// headscope_tokenizer.json: {"type": "bytes", "bos_id": 256}.
std::unique_ptr<Tokenizer> LoadByteTokenizer(const std::filesystem::path& config_json);

// Reads a whole file; throws IoError naming it when it cannot.
std::string ReadWholeFile(const std::filesystem::path& path);

}  // namespace hs::tok
