// Sizes in words for messages and the UI: "3.2 GB", "640 MB", "101 KB"
// (decimal units, as disk tools and the hub show them).
#pragma once

#include <cstdio>
#include <string>

namespace hs::io {

inline std::string ByteSize(double bytes) {
  char buf[32];
  if (bytes >= 1e9)
    std::snprintf(buf, sizeof buf, "%.1f GB", bytes / 1e9);
  else if (bytes >= 1e6)
    std::snprintf(buf, sizeof buf, "%.0f MB", bytes / 1e6);
  else
    std::snprintf(buf, sizeof buf, "%.0f KB", bytes / 1e3);
  return buf;
}

}  // namespace hs::io
