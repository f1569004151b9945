// The BPE model: a vocabulary, ranked merges, and the merge loop over one pre-token.
//
// Two merge loops, one per reference implementation. They agree whenever every merge ranks after
// the merges that build its two halves (true of every trained vocabulary); a hand-made merges list
// can tell them apart (see MergeOrder).
#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace hs::tok {

// The largest token id a file may give. Ids index dense tables (BpeModel's id -> token), so one
// absurd id would allocate for every id below it (2^31 - 1 asked for 16 GiB). Real vocabularies stay
// far below 2^24 (the largest are ~260k).
inline constexpr int64_t kMaxTokenId = (int64_t{1} << 24) - 1;

enum class MergeOrder {
  // OpenAI's encoder.py: find the lowest-ranked pair present, merge every occurrence of it left to
  // right, repeat.
  kAllOccurrencesPerPass,
  // Hugging Face tokenizers (Word::merge_all): always merge the lowest-ranked pair next, leftmost
  // first, including pairs that earlier merges just created.
  kLowestRankFirst,
};

struct BpeSettings {
  MergeOrder order = MergeOrder::kLowestRankFirst;
  // Llama 3's ignore_merges: a pre-token that is itself in the vocabulary is emitted as it is.
  bool ignore_merges = false;
  // Id for characters missing from the vocabulary; without one they are dropped (Hugging Face).
  std::optional<int64_t> unk_id;
};

class BpeModel {
 public:
  using Vocab = std::unordered_map<std::string, int64_t>;
  using Merges = std::vector<std::pair<std::string, std::string>>;

  // Throws std::invalid_argument naming the merge (1-based) and the token when a merge names a
  // token, or makes one, that is not in the vocabulary, or when two tokens share an id.
  BpeModel(Vocab vocab, const Merges& merges, const BpeSettings& settings);

  // Appends the ids of one pre-token, given in vocabulary characters (byte-level: "Ġthe").
  void EncodeWord(std::string_view word, std::vector<int64_t>* ids) const;

  std::optional<int64_t> TokenToId(std::string_view token) const;
  // nullptr if no token has this id.
  const std::string* IdToToken(int64_t id) const;
  int64_t MaxId() const { return m_max_id; }
  size_t MergeCount() const { return m_ranks.size(); }

 private:
  struct Merge {
    int32_t rank;
    int64_t merged_id;
  };
  static uint64_t PairKey(int64_t a, int64_t b) { return (static_cast<uint64_t>(a) << 32) | static_cast<uint32_t>(b); }
  const Merge* FindMerge(int64_t a, int64_t b) const;
  void MergePerPass(std::vector<int64_t>* symbols) const;
  void MergeLowestRankFirst(std::vector<int64_t>* symbols) const;

  Vocab m_vocab;
  std::vector<const std::string*> m_by_id;  // id -> token in m_vocab (nullptr for gaps)
  int64_t m_max_id = -1;
  std::unordered_map<uint64_t, Merge> m_ranks;  // (left id, right id) -> rank and merged id
  BpeSettings m_settings;

  // Words seen before (encoding text repeats words a lot). Cleared when full.
  mutable std::mutex m_cache_mutex;
  mutable std::unordered_map<std::string, std::vector<int64_t>> m_cache;
};

}  // namespace hs::tok
