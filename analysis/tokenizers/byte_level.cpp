// GPT-2's byte alphabet and UTF-8 helpers (see byte_level.h).
#include "tokenizers/byte_level.h"

#include <cstdio>

namespace hs::tok {

namespace {
bool StandsForItself(int b) { return (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF); }

struct ByteTables {
  std::array<char32_t, 256> to_unicode{};
  std::array<std::string, 256> to_utf8;
  std::array<int, 0x144> from_unicode{};  // code point -> byte, -1 if none; 0x143 is the last image
};

const ByteTables& Tables() {
  static const ByteTables tables = [] {
    ByteTables t;
    t.from_unicode.fill(-1);
    char32_t next = 256;
    for (int b = 0; b < 256; ++b) {
      t.to_unicode[b] = StandsForItself(b) ? static_cast<char32_t>(b) : next++;
      AppendUtf8(t.to_unicode[b], &t.to_utf8[b]);
      t.from_unicode[t.to_unicode[b]] = b;
    }
    return t;
  }();
  return tables;
}

void AppendHexByte(unsigned char b, std::string* out) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "\\x%02X", b);
  out->append(buf);
}
}  // namespace

const std::array<char32_t, 256>& BytesToUnicode() { return Tables().to_unicode; }

std::string BytesToVocabString(std::string_view bytes) {
  const auto& t = Tables();
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char b : bytes) out += t.to_utf8[b];
  return out;
}

bool VocabStringToBytes(std::string_view vocab, std::string* bytes) {
  const auto& t = Tables();
  for (size_t i = 0; i < vocab.size();) {
    char32_t cp;
    int n = DecodeUtf8(vocab, i, &cp);
    if (n == 0 || cp >= t.from_unicode.size() || t.from_unicode[cp] < 0) return false;
    bytes->push_back(static_cast<char>(t.from_unicode[cp]));
    i += n;
  }
  return true;
}

std::string ReadableBytes(std::string_view bytes) {
  std::string out;
  for (size_t i = 0; i < bytes.size();) {
    const auto b = static_cast<unsigned char>(bytes[i]);
    if (b == '\n') {
      out += "\\n";
    } else if (b == '\t') {
      out += "\\t";
    } else if (b == '\r') {
      out += "\\r";
    } else if (b < 0x20 || b == 0x7F) {
      AppendHexByte(b, &out);
    } else if (b < 0x80) {
      out.push_back(static_cast<char>(b));
    } else {
      char32_t cp;
      const int n = DecodeUtf8(bytes, i, &cp);
      if (n == 0 || cp < 0xA0) {  // cut or invalid sequence, or a C1 control: one byte at a time
        AppendHexByte(b, &out);
      } else {
        out.append(bytes.substr(i, n));
        i += n;
        continue;
      }
    }
    ++i;
  }
  return out;
}

void AppendUtf8(char32_t cp, std::string* out) {
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

int DecodeUtf8(std::string_view s, size_t i, char32_t* cp) {
  const auto at = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char b0 = at(i);
  int n;
  char32_t v, min;
  if (b0 < 0x80) {
    *cp = b0;
    return 1;
  } else if ((b0 & 0xE0) == 0xC0) {
    n = 2, v = b0 & 0x1F, min = 0x80;
  } else if ((b0 & 0xF0) == 0xE0) {
    n = 3, v = b0 & 0x0F, min = 0x800;
  } else if ((b0 & 0xF8) == 0xF0) {
    n = 4, v = b0 & 0x07, min = 0x10000;
  } else {
    return 0;
  }
  if (i + n > s.size()) return 0;
  for (int k = 1; k < n; ++k) {
    if ((at(i + k) & 0xC0) != 0x80) return 0;
    v = (v << 6) | (at(i + k) & 0x3F);
  }
  if (v < min || v > 0x10FFFF || (v >= 0xD800 && v < 0xE000)) return 0;
  *cp = v;
  return n;
}

size_t FindInvalidUtf8(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    char32_t cp;
    const int n = DecodeUtf8(s, i, &cp);
    if (n == 0) return i;
    i += n;
  }
  return std::string_view::npos;
}

}  // namespace hs::tok
