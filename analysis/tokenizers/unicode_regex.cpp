// PCRE2-backed Unicode regexes for pre-tokenizers (see unicode_regex.h).
#define PCRE2_CODE_UNIT_WIDTH 8
#include "tokenizers/unicode_regex.h"

#include <pcre2.h>

#include <stdexcept>

#include "tokenizers/byte_level.h"

namespace hs::tok {

namespace {
// The White_Space set as the inside of a PCRE2 character class.
constexpr const char* kWhiteSpaceClass =
    "\\x{9}-\\x{D}\\x{20}\\x{85}\\x{A0}\\x{1680}\\x{2000}-\\x{200A}\\x{2028}\\x{2029}\\x{202F}\\x{205F}\\x{3000}";

std::string Pcre2Message(int code) {
  PCRE2_UCHAR buf[256];
  if (pcre2_get_error_message(code, buf, sizeof buf) < 0) return "PCRE2 error " + std::to_string(code);
  return reinterpret_cast<const char*>(buf);
}

// Per-thread match context with a JIT stack large enough for long runs of whitespace.
struct MatchResources {
  pcre2_match_context* context = nullptr;
  pcre2_jit_stack* jit_stack = nullptr;
  MatchResources() {
    context = pcre2_match_context_create(nullptr);
    jit_stack = pcre2_jit_stack_create(32 * 1024, 8 * 1024 * 1024, nullptr);
    if (context && jit_stack) pcre2_jit_stack_assign(context, nullptr, jit_stack);
  }
  ~MatchResources() {
    pcre2_jit_stack_free(jit_stack);
    pcre2_match_context_free(context);
  }
};

MatchResources& ThreadMatchResources() {
  thread_local MatchResources resources;
  return resources;
}
}  // namespace

bool IsWhiteSpace(char32_t cp) {
  return (cp >= 0x9 && cp <= 0xD) || cp == 0x20 || cp == 0x85 || cp == 0xA0 || cp == 0x1680 ||
         (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 || cp == 0x202F || cp == 0x205F || cp == 0x3000;
}

std::string WhitespaceExactPattern(std::string_view p) {
  std::string out;
  bool in_class = false;
  size_t i = 0;
  while (i < p.size()) {
    const char c = p[i];
    if (c == '\\' && i + 1 < p.size()) {
      const char d = p[i + 1];
      if (d == 's') {
        out += in_class ? std::string(kWhiteSpaceClass) : "[" + std::string(kWhiteSpaceClass) + "]";
      } else if (d == 'S') {
        if (in_class) throw std::invalid_argument("\\S inside a character class is not supported");
        out += "[^" + std::string(kWhiteSpaceClass) + "]";
      } else if (d == 'Q') {  // \Q...\E quotes everything up to \E
        const size_t end = p.find("\\E", i + 2);
        const size_t stop = end == std::string_view::npos ? p.size() : end + 2;
        out.append(p.substr(i, stop - i));
        i = stop;
        continue;
      } else {
        out += c;
        out += d;
      }
      i += 2;
      continue;
    }
    if (!in_class && c == '[') {
      in_class = true;
      out += c;
      ++i;
      if (i < p.size() && p[i] == '^') out += p[i++];
      if (i < p.size() && p[i] == ']') out += p[i++];  // a leading ']' is a literal
      continue;
    }
    if (in_class && c == '[' && i + 1 < p.size() && p[i + 1] == ':') {  // POSIX class [:name:]
      const size_t end = p.find(":]", i + 2);
      const size_t stop = end == std::string_view::npos ? i + 1 : end + 2;
      out.append(p.substr(i, stop - i));
      i = stop;
      continue;
    }
    if (in_class && c == ']') in_class = false;
    out += c;
    ++i;
  }
  return out;
}

UnicodeRegex::UnicodeRegex(std::string_view pattern, Syntax syntax) : m_pattern(pattern) {
  const std::string compiled = syntax == Syntax::kRegex ? WhitespaceExactPattern(pattern) : std::string(pattern);
  uint32_t options = PCRE2_UTF | PCRE2_UCP;
  if (syntax == Syntax::kLiteral) options = PCRE2_UTF | PCRE2_LITERAL;
  int error = 0;
  PCRE2_SIZE offset = 0;
  m_code =
      pcre2_compile(reinterpret_cast<PCRE2_SPTR>(compiled.data()), compiled.size(), options, &error, &offset, nullptr);
  if (!m_code) {
    throw std::invalid_argument("regex " + std::string(pattern) + " does not compile: " + Pcre2Message(error) +
                                " (at offset " + std::to_string(offset) + " of " + compiled + ")");
  }
  pcre2_jit_compile(m_code, PCRE2_JIT_COMPLETE);  // falls back to the interpreter if JIT is unavailable
}

UnicodeRegex::~UnicodeRegex() { pcre2_code_free(m_code); }

std::vector<std::pair<size_t, size_t>> UnicodeRegex::FindAll(std::string_view text) const {
  std::vector<std::pair<size_t, size_t>> matches;
  pcre2_match_data* md = pcre2_match_data_create_from_pattern(m_code, nullptr);
  if (!md) throw std::bad_alloc();
  MatchResources& res = ThreadMatchResources();
  const auto* subject = reinterpret_cast<PCRE2_SPTR>(text.data());
  uint32_t options = 0;  // the first call checks the whole subject is valid UTF-8; later ones skip it
  size_t start = 0;
  while (start <= text.size()) {
    const int rc = pcre2_match(m_code, subject, text.size(), start, options, md, res.context);
    if (rc == PCRE2_ERROR_NOMATCH) break;
    if (rc < 0) {
      const PCRE2_SIZE at = pcre2_get_ovector_pointer(md)[0];
      pcre2_match_data_free(md);
      if (rc <= PCRE2_ERROR_UTF8_ERR1 && rc >= PCRE2_ERROR_UTF8_ERR21) {
        throw std::invalid_argument("text is not valid UTF-8 at byte " + std::to_string(at));
      }
      throw std::runtime_error("regex " + m_pattern + " failed: " + Pcre2Message(rc));
    }
    options = PCRE2_NO_UTF_CHECK;
    const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md);
    matches.emplace_back(ov[0], ov[1]);
    if (ov[1] > ov[0]) {
      start = ov[1];
    } else {  // empty match: move on by one character
      if (ov[1] >= text.size()) break;
      char32_t cp;
      const int n = DecodeUtf8(text, ov[1], &cp);
      start = ov[1] + (n > 0 ? n : 1);
    }
  }
  pcre2_match_data_free(md);
  return matches;
}

}  // namespace hs::tok
