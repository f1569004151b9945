// The byte-level BPE pipeline shared by tokenizer.json and GPT-2 files (see byte_level_bpe.h).
//
// [SECTION] normalizers (ICU)
// [SECTION] added tokens
// [SECTION] pre-tokenizers
// [SECTION] the Tokenizer interface
#include "tokenizers/byte_level_bpe.h"

#include <unicode/normalizer2.h>
#include <unicode/unistr.h>

#include <algorithm>
#include <array>
#include <stdexcept>

#include "tokenizers/byte_level.h"

namespace hs::tok {

// [SECTION] normalizers (ICU) ---------------------------------------------------------------------

std::string Normalize(std::string_view utf8, const std::vector<UnicodeForm>& forms) {
  std::string text(utf8);
  for (const UnicodeForm form : forms) {
    if (std::all_of(text.begin(), text.end(), [](char c) { return static_cast<unsigned char>(c) < 0x80; })) {
      continue;  // ASCII is invariant under every form
    }
    UErrorCode status = U_ZERO_ERROR;
    const icu::Normalizer2* n = nullptr;
    switch (form) {
      case UnicodeForm::kNfc:
        n = icu::Normalizer2::getNFCInstance(status);
        break;
      case UnicodeForm::kNfd:
        n = icu::Normalizer2::getNFDInstance(status);
        break;
      case UnicodeForm::kNfkc:
        n = icu::Normalizer2::getNFKCInstance(status);
        break;
      case UnicodeForm::kNfkd:
        n = icu::Normalizer2::getNFKDInstance(status);
        break;
    }
    if (U_FAILURE(status)) throw std::runtime_error(std::string("ICU normalizer unavailable: ") + u_errorName(status));
    const icu::UnicodeString in = icu::UnicodeString::fromUTF8(icu::StringPiece(text.data(), text.size()));
    const icu::UnicodeString out = n->normalize(in, status);
    if (U_FAILURE(status)) throw std::runtime_error(std::string("ICU normalization failed: ") + u_errorName(status));
    text.clear();
    out.toUTF8String(text);
  }
  return text;
}

// [SECTION] added tokens ---------------------------------------------------------------------------

namespace {
// The start of the UTF-8 character that ends just before byte `i` (i > 0).
size_t PrevCharStart(std::string_view s, size_t i) {
  do --i;
  while (i > 0 && (static_cast<unsigned char>(s[i]) & 0xC0) == 0x80);
  return i;
}

bool IsWhiteSpaceAt(std::string_view s, size_t i, int* len) {
  char32_t cp;
  *len = DecodeUtf8(s, i, &cp);
  return *len > 0 && IsWhiteSpace(cp);
}

// Rust regex's Unicode \w, which Hugging Face's single_word test uses.
bool IsWordChar(std::string_view one_char) {
  static const UnicodeRegex word(R"(^[\p{Alphabetic}\p{M}\p{Nd}\p{Pc}\x{200C}\x{200D}])");
  return !word.FindAll(one_char).empty();
}
}  // namespace

struct ByteLevelBpeTokenizer::AddedTokenSet {
  std::vector<const AddedToken*> tokens;
  std::vector<std::string> patterns;                   // what is matched (contents, normalized if asked)
  std::array<std::vector<size_t>, 256> by_first_byte;  // indices into patterns, longest first

  void Add(const AddedToken* token, std::string pattern) {
    if (pattern.empty()) return;
    tokens.push_back(token);
    patterns.push_back(std::move(pattern));
  }
  void Index() {
    for (size_t i = 0; i < patterns.size(); ++i) by_first_byte[static_cast<unsigned char>(patterns[i][0])].push_back(i);
    for (auto& list : by_first_byte) {
      std::stable_sort(list.begin(), list.end(),
                       [&](size_t a, size_t b) { return patterns[a].size() > patterns[b].size(); });
    }
  }
  // Leftmost-longest match at or after `from` (Aho-Corasick's MatchKind::LeftmostLongest).
  bool Find(std::string_view text, size_t from, size_t* begin, size_t* which) const {
    for (size_t i = from; i < text.size(); ++i) {
      for (size_t k : by_first_byte[static_cast<unsigned char>(text[i])]) {
        if (text.compare(i, patterns[k].size(), patterns[k]) == 0) {
          *begin = i;
          *which = k;
          return true;
        }
      }
    }
    return false;
  }

  // Hugging Face's AddedVocabulary::find_matches: the pieces of `text`, added tokens marked.
  std::vector<Piece> Split(std::string_view text) const {
    std::vector<Piece> out;
    size_t start_offset = 0, search = 0, b = 0, k = 0;
    while (search < text.size() && Find(text, search, &b, &k)) {
      size_t e = b + patterns[k].size();
      search = e;
      const AddedToken* t = tokens[k];
      if (t->single_word) {
        const bool word_before = b > 0 && IsWordChar(text.substr(PrevCharStart(text, b), b - PrevCharStart(text, b)));
        char32_t cp;
        const int n = e < text.size() ? DecodeUtf8(text, e, &cp) : 0;
        const bool word_after = n > 0 && IsWordChar(text.substr(e, n));
        if (word_before || word_after) continue;
      }
      if (t->lstrip) {
        size_t nb = b;
        int len;
        while (nb > start_offset && IsWhiteSpaceAt(text, PrevCharStart(text, nb), &len)) nb = PrevCharStart(text, nb);
        b = nb;
      }
      if (t->rstrip) {
        int len;
        while (e < text.size() && IsWhiteSpaceAt(text, e, &len)) e += len;
        search = e;
      }
      if (start_offset < b) out.push_back({std::string(text.substr(start_offset, b - start_offset)), nullptr});
      out.push_back({std::string(text.substr(b, e - b)), t});
      start_offset = e;
    }
    if (start_offset < text.size()) out.push_back({std::string(text.substr(start_offset)), nullptr});
    return out;
  }
};

// [SECTION] pre-tokenizers -------------------------------------------------------------------------

std::vector<std::pair<size_t, size_t>> ByteLevelBpeTokenizer::SplitPieces(const PreTokenizerStep& step,
                                                                          std::string_view text) const {
  struct Span {
    size_t begin, end;
    bool is_match;
  };
  // The whole text as alternating matches and gaps (Pattern::find_matches).
  std::vector<Span> spans;
  size_t prev = 0;
  const UnicodeRegex& regex = step.type == PreTokenizerStep::Type::kByteLevel ? *m_gpt2_regex : *step.regex;
  for (const auto& [b, e] : regex.FindAll(text)) {
    if (prev != b) spans.push_back({prev, b, false});
    spans.push_back({b, e, true});
    prev = e;
  }
  if (prev != text.size()) spans.push_back({prev, text.size(), false});
  if (step.invert) {
    for (Span& s : spans) s.is_match = !s.is_match;
  }

  std::vector<std::pair<size_t, size_t>> pieces;  // (begin, end); removed ones never enter
  bool previous_match = false;
  switch (step.type == PreTokenizerStep::Type::kByteLevel ? SplitBehavior::kIsolated : step.behavior) {
    case SplitBehavior::kIsolated:
      for (const Span& s : spans) pieces.emplace_back(s.begin, s.end);
      break;
    case SplitBehavior::kRemoved:
      for (const Span& s : spans) {
        if (!s.is_match) pieces.emplace_back(s.begin, s.end);
      }
      break;
    case SplitBehavior::kContiguous:
      for (const Span& s : spans) {
        if (s.is_match == previous_match && !pieces.empty()) {
          pieces.back().second = s.end;
        } else {
          pieces.emplace_back(s.begin, s.end);
        }
        previous_match = s.is_match;
      }
      break;
    case SplitBehavior::kMergedWithPrevious:
      for (const Span& s : spans) {
        if (s.is_match && !previous_match && !pieces.empty()) {
          pieces.back().second = s.end;
        } else {
          pieces.emplace_back(s.begin, s.end);
        }
        previous_match = s.is_match;
      }
      break;
    case SplitBehavior::kMergedWithNext:
      for (auto it = spans.rbegin(); it != spans.rend(); ++it) {
        if (it->is_match && !previous_match && !pieces.empty()) {
          pieces.back().first = it->begin;
        } else {
          pieces.emplace_back(it->begin, it->end);
        }
        previous_match = it->is_match;
      }
      std::reverse(pieces.begin(), pieces.end());
      break;
  }
  pieces.erase(std::remove_if(pieces.begin(), pieces.end(), [](const auto& p) { return p.first == p.second; }),
               pieces.end());
  return pieces;
}

std::vector<std::string> ByteLevelBpeTokenizer::RunPreTokenizers(std::string text) const {
  std::vector<std::string> pieces{std::move(text)};
  std::vector<std::string> next;
  for (const PreTokenizerStep& step : m_config.pre_tokenizers) {
    next.clear();
    for (std::string& piece : pieces) {
      if (step.type == PreTokenizerStep::Type::kByteLevel) {
        if (step.add_prefix_space && (piece.empty() || piece[0] != ' ')) piece.insert(piece.begin(), ' ');
        if (!step.use_regex) {
          next.push_back(BytesToVocabString(piece));
          continue;
        }
      }
      for (const auto& [b, e] : SplitPieces(step, piece)) {
        const std::string_view part = std::string_view(piece).substr(b, e - b);
        next.push_back(step.type == PreTokenizerStep::Type::kByteLevel ? BytesToVocabString(part) : std::string(part));
      }
    }
    pieces.swap(next);
  }
  pieces.erase(std::remove_if(pieces.begin(), pieces.end(), [](const std::string& p) { return p.empty(); }),
               pieces.end());
  return pieces;
}

std::vector<ByteLevelBpeTokenizer::Piece> ByteLevelBpeTokenizer::SplitAndNormalize(std::string_view utf8) const {
  const size_t bad = FindInvalidUtf8(utf8);
  if (bad != std::string_view::npos) {
    throw std::invalid_argument("text is not valid UTF-8 at byte " + std::to_string(bad));
  }
  std::vector<Piece> out;
  for (Piece& raw : m_raw_added->Split(utf8)) {
    if (raw.added) {
      out.push_back(std::move(raw));
      continue;
    }
    const std::string normalized = Normalize(raw.text, m_config.normalizers);
    for (Piece& piece : m_normalized_added->Split(normalized)) out.push_back(std::move(piece));
  }
  return out;
}

// [SECTION] the Tokenizer interface ---------------------------------------------------------------

ByteLevelBpeTokenizer::ByteLevelBpeTokenizer(ByteLevelBpeConfig config, std::unique_ptr<BpeModel> model)
    : m_config(std::move(config)),
      m_model(std::move(model)),
      m_raw_added(std::make_unique<AddedTokenSet>()),
      m_normalized_added(std::make_unique<AddedTokenSet>()),
      m_gpt2_regex(std::make_unique<UnicodeRegex>(kGpt2Pattern)) {
  int64_t max_id = m_model->MaxId();
  for (const AddedToken& t : m_config.added_tokens) {
    if (t.normalized) {
      m_normalized_added->Add(&t, Normalize(t.content, m_config.normalizers));
    } else {
      m_raw_added->Add(&t, t.content);
    }
    m_added_by_id[t.id] = &t;
    max_id = std::max(max_id, t.id);
  }
  m_raw_added->Index();
  m_normalized_added->Index();
  m_vocab_size = max_id + 1;
}

ByteLevelBpeTokenizer::~ByteLevelBpeTokenizer() = default;

std::vector<std::string> ByteLevelBpeTokenizer::PreTokenize(std::string_view utf8) const {
  std::vector<std::string> out;
  for (Piece& piece : SplitAndNormalize(utf8)) {
    if (piece.added) {
      out.push_back(piece.added->content);
      continue;
    }
    for (std::string& word : RunPreTokenizers(std::move(piece.text))) out.push_back(std::move(word));
  }
  return out;
}

std::vector<int64_t> ByteLevelBpeTokenizer::Encode(std::string_view utf8) const {
  std::vector<int64_t> ids;
  for (Piece& piece : SplitAndNormalize(utf8)) {
    if (piece.added) {
      ids.push_back(piece.added->id);
      continue;
    }
    for (const std::string& word : RunPreTokenizers(std::move(piece.text))) m_model->EncodeWord(word, &ids);
  }
  return ids;
}

std::string ByteLevelBpeTokenizer::Decode(const std::vector<int64_t>& ids) const {
  std::string out;
  for (const int64_t id : ids) {
    if (const auto it = m_added_by_id.find(id); it != m_added_by_id.end()) {
      out += it->second->content;
      continue;
    }
    const std::string* token = m_model->IdToToken(id);
    if (!token) throw std::out_of_range("token id " + std::to_string(id) + " is not in the vocabulary");
    std::string bytes;
    if (VocabStringToBytes(*token, &bytes)) {
      out += bytes;
    } else {
      out += *token;  // not byte-level text (a special token kept in the vocabulary): as written
    }
  }
  return out;
}

std::string ByteLevelBpeTokenizer::TokenText(int64_t id) const {
  if (const auto it = m_added_by_id.find(id); it != m_added_by_id.end()) return it->second->content;
  const std::string* token = m_model->IdToToken(id);
  if (!token) throw std::out_of_range("token id " + std::to_string(id) + " is not in the vocabulary");
  std::string bytes;
  if (VocabStringToBytes(*token, &bytes)) return ReadableBytes(bytes);
  return *token;
}

int64_t ByteLevelBpeTokenizer::VocabSize() const { return m_vocab_size; }

}  // namespace hs::tok
