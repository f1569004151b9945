// FNV-1a (64-bit) over bytes: the cheap, stable fingerprint headscope keys
// files and requests by (WeightsHash, the derived-files folder, prompt keys).
// Not cryptographic.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace hs::io {

inline constexpr uint64_t kFnv1aOffset = 1469598103934665603ull;

// Continues hash `h` over `n` bytes at `data` (start with kFnv1aOffset).
inline uint64_t Fnv1a64(const void* data, size_t n, uint64_t h = kFnv1aOffset) {
  const auto* p = static_cast<const unsigned char*>(data);
  for (size_t i = 0; i < n; ++i) h = (h ^ p[i]) * 1099511628211ull;
  return h;
}
inline uint64_t Fnv1a64(std::string_view s, uint64_t h = kFnv1aOffset) { return Fnv1a64(s.data(), s.size(), h); }

}  // namespace hs::io
