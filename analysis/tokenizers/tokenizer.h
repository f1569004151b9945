// Tokenizers: text <-> token ids for the language models headscope loads.
// One interface, four formats, picked by the files in a model folder:
//   tokenizer.json               Hugging Face byte-level BPE (Qwen2/3, Llama 3, SmolLM2, GPT-NeoX, GPT-2)
//   vocab.json + merges.txt      GPT-2 byte-level BPE, exactly as OpenAI's encoder.py
//   tokenizer.model              SentencePiece (Llama-2-style models), through libsentencepiece
//   headscope_tokenizer.json     the demo LM's byte tokenizer: {"type":"bytes","bos_id":256}
// No torch here: this library builds and tests on its own.
//
// Usage:
//   auto tok = hs::tok::LoadTokenizer("assets/demo_lm");
//   std::vector<int64_t> ids = tok->Encode("Hello world");             // never adds BOS
//   hs::tok::EncodeOptions opt;
//   opt.add_bos = true;                                                // explicit, recorded setting
//   auto with_bos = hs::tok::EncodeText(*tok, "Hello", opt);
//   std::string label = tok->TokenText(ids[1]);                        // " world"
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace hs::tok {

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;

  // Token ids of `utf8`, with no BOS and no other added framing (no post-processor).
  // Throws std::invalid_argument if a BPE tokenizer is given text that is not valid UTF-8.
  virtual std::vector<int64_t> Encode(std::string_view utf8) const = 0;
  // The bytes the ids stand for (special tokens as their text; BOS of the byte tokenizer as nothing).
  // May be invalid UTF-8 when the ids cut a character. Throws std::out_of_range for an unknown id.
  virtual std::string Decode(const std::vector<int64_t>& ids) const = 0;
  // A readable piece for axis labels: byte-level "Ġthe" is " the", SentencePiece "▁the" is " the",
  // newline and tab are "\n" and "\t", other control bytes and cut characters are "\xNN".
  // Throws std::out_of_range for an unknown id.
  virtual std::string TokenText(int64_t id) const = 0;
  // One more than the largest id (added tokens included).
  virtual int64_t VocabSize() const = 0;
  // The token a BOS would be, if the format defines one. It is only prepended when asked for
  // (EncodeOptions::add_bos): GPT-2 files add none, TransformerLens adds one, Qwen has none.
  virtual std::optional<int64_t> BosId() const = 0;
  // "hf_bpe", "gpt2_bpe", "sentencepiece", "bytes" or "ids" (IdsOnlyTokenizer).
  virtual std::string Kind() const = 0;
};

// Loads the tokenizer of a model folder, preferring tokenizer.json, then vocab.json + merges.txt,
// then tokenizer.model, then headscope_tokenizer.json. A tokenizer.json headscope does not
// implement (SentencePiece-style BPE: Mistral, Gemma, Phi-3) falls back to tokenizer.model when
// the folder has it. Throws hs::io::IoError naming the file and
// what is wrong (missing, malformed JSON, a merge naming an unknown token, an unsupported model
// type or pre-tokenizer, ...).
std::unique_ptr<Tokenizer> LoadTokenizer(const std::filesystem::path& model_dir);

// True when `model_dir` holds files LoadTokenizer reads.
bool HasTokenizerFiles(const std::filesystem::path& model_dir);

// For a model folder with only config.json and weights: "text" is token ids
// separated by spaces or commas ("464 3290 318"), each below vocab_size;
// anything else throws std::invalid_argument saying the folder has no
// tokenizer. Tokens are labelled by id ("#464"). Kind() is "ids".
std::unique_ptr<Tokenizer> IdsOnlyTokenizer(int64_t vocab_size, const std::filesystem::path& model_dir);

// The BOS setting, recorded explicitly wherever token ids are made (never implied by the format).
struct EncodeOptions {
  bool add_bos = false;  // prepend BosId(); throws std::invalid_argument if the tokenizer has none
};

// Encode with options: tok.Encode(utf8), with BosId() in front when opt.add_bos.
std::vector<int64_t> EncodeText(const Tokenizer& tok, std::string_view utf8, const EncodeOptions& opt = {});

}  // namespace hs::tok
