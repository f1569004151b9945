// Byte-level BPE tokenizers: Hugging Face's tokenizer.json pipeline, of which GPT-2's
// vocab.json + merges.txt is the special case with one ByteLevel pre-tokenizer and no added tokens.
//
// Encode, as Hugging Face's TokenizerImpl::encode_single_sequence does it:
//   1. split the text on added tokens with normalized=false (leftmost-longest; single_word, lstrip,
//      rstrip as AddedVocabulary::find_matches);
//   2. normalize each remaining piece (NFC for Qwen), split it on added tokens with normalized=true;
//   3. run the pre-tokenizers in order over the remaining pieces (Split regexes, Digits, ByteLevel:
//      prefix space, GPT-2 regex, bytes -> vocabulary characters);
//   4. BPE each pre-token.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "tokenizers/bpe_model.h"
#include "tokenizers/tokenizer.h"
#include "tokenizers/unicode_regex.h"

namespace hs::tok {

// GPT-2's pre-tokenizer regex (encoder.py; also Hugging Face's ByteLevel with use_regex).
inline constexpr const char* kGpt2Pattern =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

enum class UnicodeForm { kNfc, kNfd, kNfkc, kNfkd };

// tokenizer.json's SplitDelimiterBehavior.
enum class SplitBehavior { kRemoved, kIsolated, kMergedWithPrevious, kMergedWithNext, kContiguous };

struct PreTokenizerStep {
  enum class Type { kSplit, kByteLevel };
  Type type = Type::kSplit;
  // kSplit (Split, and Digits as a Split on \p{N}): pieces are the matches and the gaps between them.
  std::shared_ptr<const UnicodeRegex> regex;
  SplitBehavior behavior = SplitBehavior::kIsolated;
  bool invert = false;  // the gaps are the "matches"
  // kByteLevel: optional leading space, optional GPT-2 regex split, then bytes -> vocabulary chars.
  bool add_prefix_space = false;
  bool use_regex = true;
};

struct AddedToken {
  std::string content;
  int64_t id = 0;
  bool single_word = false;  // only when not inside a word
  bool lstrip = false;       // swallows the whitespace on its left
  bool rstrip = false;       // swallows the whitespace on its right
  bool normalized = false;   // matched in the normalized text (else in the raw text)
  bool special = false;      // a control token (<|im_start|>); does not change how text splits
};

struct ByteLevelBpeConfig {
  std::string kind;  // Tokenizer::Kind()
  std::vector<UnicodeForm> normalizers;
  std::vector<PreTokenizerStep> pre_tokenizers;
  std::vector<AddedToken> added_tokens;
  std::optional<int64_t> bos_id;
};

class ByteLevelBpeTokenizer final : public Tokenizer {
 public:
  ByteLevelBpeTokenizer(ByteLevelBpeConfig config, std::unique_ptr<BpeModel> model);
  ~ByteLevelBpeTokenizer() override;

  std::vector<int64_t> Encode(std::string_view utf8) const override;
  std::string Decode(const std::vector<int64_t>& ids) const override;
  std::string TokenText(int64_t id) const override;
  int64_t VocabSize() const override;
  std::optional<int64_t> BosId() const override { return m_config.bos_id; }
  std::string Kind() const override { return m_config.kind; }

  // The pre-tokens of `utf8` after steps 1-3 above, in vocabulary characters; added tokens appear
  // as their content. For tests and for showing how a text splits.
  std::vector<std::string> PreTokenize(std::string_view utf8) const;

 private:
  struct AddedTokenSet;
  struct Piece {
    std::string text;
    const AddedToken* added = nullptr;  // set: this piece is an added token
  };
  std::vector<Piece> SplitAndNormalize(std::string_view utf8) const;
  std::vector<std::pair<size_t, size_t>> SplitPieces(const PreTokenizerStep& step, std::string_view text) const;
  std::vector<std::string> RunPreTokenizers(std::string text) const;

  ByteLevelBpeConfig m_config;
  std::unique_ptr<BpeModel> m_model;
  std::unique_ptr<AddedTokenSet> m_raw_added;         // normalized == false
  std::unique_ptr<AddedTokenSet> m_normalized_added;  // normalized == true (contents normalized)
  std::unique_ptr<UnicodeRegex> m_gpt2_regex;
  std::unordered_map<int64_t, const AddedToken*> m_added_by_id;
  int64_t m_vocab_size = 0;
};

// Applies the normalizers in order (ICU). Text must be valid UTF-8.
std::string Normalize(std::string_view utf8, const std::vector<UnicodeForm>& forms);

}  // namespace hs::tok
