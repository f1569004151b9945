// The BPE merge loops (see bpe_model.h).
#include "tokenizers/bpe_model.h"

#include <queue>
#include <stdexcept>

#include "tokenizers/byte_level.h"

namespace hs::tok {

namespace {
constexpr size_t kCacheCapacity = 50000;  // words
constexpr size_t kCacheMaxWordBytes = 256;
}  // namespace

BpeModel::BpeModel(Vocab vocab, const Merges& merges, const BpeSettings& settings)
    : m_vocab(std::move(vocab)), m_settings(settings) {
  for (const auto& [token, id] : m_vocab) {
    if (id < 0 || id > kMaxTokenId) {
      throw std::invalid_argument("token '" + token + "' has id " + std::to_string(id) + ", outside [0, 2^24)");
    }
    m_max_id = std::max(m_max_id, id);
  }
  m_by_id.assign(static_cast<size_t>(m_max_id + 1), nullptr);
  for (const auto& [token, id] : m_vocab) {
    if (m_by_id[id]) {
      throw std::invalid_argument("tokens '" + *m_by_id[id] + "' and '" + token + "' share id " + std::to_string(id));
    }
    m_by_id[id] = &token;
  }
  m_ranks.reserve(merges.size());
  for (size_t i = 0; i < merges.size(); ++i) {
    const auto& [a, b] = merges[i];
    const auto where = [&] { return "merge " + std::to_string(i + 1) + " ('" + a + "' '" + b + "')"; };
    const auto ia = m_vocab.find(a), ib = m_vocab.find(b), iab = m_vocab.find(a + b);
    if (ia == m_vocab.end())
      throw std::invalid_argument(where() + " names '" + a + "', which is not in the vocabulary");
    if (ib == m_vocab.end())
      throw std::invalid_argument(where() + " names '" + b + "', which is not in the vocabulary");
    if (iab == m_vocab.end()) {
      throw std::invalid_argument(where() + " makes '" + a + b + "', which is not in the vocabulary");
    }
    // A repeated merge takes its last rank, as encoder.py's dict and Hugging Face's HashMap do.
    m_ranks[PairKey(ia->second, ib->second)] = Merge{static_cast<int32_t>(i), iab->second};
  }
}

std::optional<int64_t> BpeModel::TokenToId(std::string_view token) const {
  const auto it = m_vocab.find(std::string(token));
  if (it == m_vocab.end()) return std::nullopt;
  return it->second;
}

const std::string* BpeModel::IdToToken(int64_t id) const {
  if (id < 0 || id > m_max_id) return nullptr;
  return m_by_id[static_cast<size_t>(id)];
}

const BpeModel::Merge* BpeModel::FindMerge(int64_t a, int64_t b) const {
  const auto it = m_ranks.find(PairKey(a, b));
  return it == m_ranks.end() ? nullptr : &it->second;
}

void BpeModel::MergePerPass(std::vector<int64_t>* symbols) const {
  std::vector<int64_t>& s = *symbols;
  std::vector<int64_t> next;
  while (s.size() > 1) {
    const Merge* best = nullptr;
    int64_t left = 0, right = 0;
    for (size_t i = 0; i + 1 < s.size(); ++i) {
      const Merge* m = FindMerge(s[i], s[i + 1]);
      if (m && (!best || m->rank < best->rank)) best = m, left = s[i], right = s[i + 1];
    }
    if (!best) break;
    next.clear();
    for (size_t i = 0; i < s.size();) {
      if (i + 1 < s.size() && s[i] == left && s[i + 1] == right) {
        next.push_back(best->merged_id);
        i += 2;
      } else {
        next.push_back(s[i++]);
      }
    }
    s.swap(next);
  }
}

void BpeModel::MergeLowestRankFirst(std::vector<int64_t>* symbols) const {
  std::vector<int64_t>& s = *symbols;
  const int n = static_cast<int>(s.size());
  if (n < 2) return;
  std::vector<int> prev(n), next(n);
  std::vector<char> alive(n, 1);
  for (int i = 0; i < n; ++i) prev[i] = i - 1, next[i] = i + 1 < n ? i + 1 : -1;

  struct Candidate {
    int32_t rank;
    int pos;  // the left symbol; merged symbols keep their left position, so order is preserved
    int64_t left, right;
    bool operator>(const Candidate& o) const { return rank != o.rank ? rank > o.rank : pos > o.pos; }
  };
  std::priority_queue<Candidate, std::vector<Candidate>, std::greater<Candidate>> queue;
  const auto offer = [&](int pos) {
    if (pos < 0 || next[pos] < 0) return;
    if (const Merge* m = FindMerge(s[pos], s[next[pos]])) queue.push({m->rank, pos, s[pos], s[next[pos]]});
  };
  for (int i = 0; i + 1 < n; ++i) offer(i);
  while (!queue.empty()) {
    const Candidate c = queue.top();
    queue.pop();
    // Stale if either side has changed since it was offered.
    if (!alive[c.pos] || next[c.pos] < 0 || s[c.pos] != c.left || s[next[c.pos]] != c.right) continue;
    const int r = next[c.pos];
    s[c.pos] = FindMerge(c.left, c.right)->merged_id;
    alive[r] = 0;
    next[c.pos] = next[r];
    if (next[r] >= 0) prev[next[r]] = c.pos;
    offer(prev[c.pos]);
    offer(c.pos);
  }
  std::vector<int64_t> out;
  for (int i = 0; i >= 0; i = next[i]) out.push_back(s[i]);
  s.swap(out);
}

void BpeModel::EncodeWord(std::string_view word, std::vector<int64_t>* ids) const {
  if (word.empty()) return;
  if (m_settings.ignore_merges) {
    if (auto id = TokenToId(word)) {
      ids->push_back(*id);
      return;
    }
  }
  const bool cacheable = word.size() <= kCacheMaxWordBytes;
  std::string key;
  if (cacheable) {
    key.assign(word);
    std::lock_guard<std::mutex> lock(m_cache_mutex);
    const auto it = m_cache.find(key);
    if (it != m_cache.end()) {
      ids->insert(ids->end(), it->second.begin(), it->second.end());
      return;
    }
  }
  std::vector<int64_t> symbols;
  for (size_t i = 0; i < word.size();) {
    char32_t cp;
    int n = DecodeUtf8(word, i, &cp);
    if (n == 0) n = 1;  // callers pass valid UTF-8; never loop forever on a stray byte
    const auto id = TokenToId(word.substr(i, n));
    if (id) {
      symbols.push_back(*id);
    } else if (m_settings.unk_id) {
      symbols.push_back(*m_settings.unk_id);
    }
    i += n;
  }
  if (m_settings.order == MergeOrder::kAllOccurrencesPerPass) {
    MergePerPass(&symbols);
  } else {
    MergeLowestRankFirst(&symbols);
  }
  ids->insert(ids->end(), symbols.begin(), symbols.end());
  if (cacheable) {
    std::lock_guard<std::mutex> lock(m_cache_mutex);
    if (m_cache.size() >= kCacheCapacity) m_cache.clear();
    m_cache.emplace(std::move(key), std::move(symbols));
  }
}

}  // namespace hs::tok
