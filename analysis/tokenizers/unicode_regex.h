// The Unicode regexes of pre-tokenizers, run with PCRE2 (8-bit, PCRE2_UTF | PCRE2_UCP, JIT when
// available).
//
// Patterns come from GPT-2's encoder.py (Python `regex`) and from tokenizer.json files (Hugging
// Face runs them with Oniguruma). Both give \s the Unicode White_Space set; PCRE2's UCP \s also
// matches U+180E MONGOLIAN VOWEL SEPARATOR (a space before Unicode 6.3), so \s and \S are rewritten
// to the exact White_Space class before compiling (WhitespaceExactPattern).
//
// Usage:
//   UnicodeRegex re(R"('s|'t| ?\p{L}+|\s+(?!\S)|\s+)");
//   for (auto [begin, end] : re.FindAll(text)) ...   // byte offsets into text
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

struct pcre2_real_code_8;

namespace hs::tok {

// Unicode White_Space, which is what Oniguruma, Python's `regex` and Rust's `regex` call \s:
// U+0009-000D, U+0020, U+0085, U+00A0, U+1680, U+2000-200A, U+2028, U+2029, U+202F, U+205F, U+3000.
bool IsWhiteSpace(char32_t cp);

// `pattern` with every \s and \S outside a character class, and every \s inside one, spelled as
// the White_Space class. Throws std::invalid_argument for \S inside a character class.
std::string WhitespaceExactPattern(std::string_view pattern);

class UnicodeRegex {
 public:
  enum class Syntax {
    kRegex,    // a regular expression (\s rewritten, see above)
    kLiteral,  // a plain string to find (tokenizer.json's {"String": ...} patterns)
  };
  // Throws std::invalid_argument with PCRE2's message and the offset in the pattern.
  explicit UnicodeRegex(std::string_view pattern, Syntax syntax = Syntax::kRegex);
  ~UnicodeRegex();
  UnicodeRegex(const UnicodeRegex&) = delete;
  UnicodeRegex& operator=(const UnicodeRegex&) = delete;

  // The successive non-overlapping leftmost matches in `text` as [begin, end) byte offsets, as
  // Oniguruma's find_iter reports them: an empty match is reported and the search then moves on by
  // one character. `text` must be valid UTF-8 (throws std::invalid_argument otherwise). Thread-safe.
  std::vector<std::pair<size_t, size_t>> FindAll(std::string_view text) const;

  const std::string& pattern() const { return m_pattern; }

 private:
  std::string m_pattern;  // as given
  pcre2_real_code_8* m_code = nullptr;
};

}  // namespace hs::tok
