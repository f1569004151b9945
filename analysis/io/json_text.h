// JSON from files, parsed the one safe way. nlohmann parses any nesting depth
// without recursion, but copying, comparing or dumping a value recurses once
// per level: a file of 100000 nested brackets parses fine and then overflows
// the stack wherever the value is copied or printed in an error message. So
// every reader parses file text through ParseJson, which refuses nesting
// deeper than kMaxJsonDepth (real configs and tokenizers nest < 10 levels).
// Header-only: the torch-free tokenizer library uses it too.
//
//   nlohmann::json j = io::ParseJson(text, path.string());  // IoError "<path>: not valid JSON (...)"
//   std::string shown = io::BriefJson(j["n_layer"]);         // for messages: at most ~80 characters
#pragma once

#include <cstddef>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "io/atomic_file.h"

namespace hs::io {

inline constexpr int kMaxJsonDepth = 256;

// True when `text` nests arrays/objects deeper than `limit` (brackets inside
// strings do not count). Linear, no allocation; malformed text is left to the parser.
inline bool JsonNestsDeeperThan(std::string_view text, int limit) {
  int depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;  // skip the escaped character (an escaped quote does not end the string)
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > limit) return true;
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return false;
}

// Parses JSON text read from `source`; IoError "<source>: not valid JSON (...)"
// on a syntax error (invalid UTF-8 included) or nesting deeper than kMaxJsonDepth.
inline nlohmann::json ParseJson(std::string_view text, const std::string& source) {
  if (JsonNestsDeeperThan(text, kMaxJsonDepth))
    throw IoError(source + ": not valid JSON (nested deeper than " + std::to_string(kMaxJsonDepth) + " levels)");
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    throw IoError(source + ": not valid JSON (" + e.what() + ")");
  }
}

// A value as it appears in an error message: its JSON, cut to about `max_chars`.
inline std::string BriefJson(const nlohmann::json& j, size_t max_chars = 80) {
  std::string s = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  if (s.size() > max_chars) {
    while (max_chars > 0 && (static_cast<unsigned char>(s[max_chars]) & 0xC0) == 0x80) --max_chars;  // whole characters
    s = s.substr(0, max_chars) + "...";
  }
  return s;
}

}  // namespace hs::io
