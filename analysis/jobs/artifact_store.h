// An in-memory cache of artifacts shared across threads: immutable
// shared_ptr<const NpzArchive> values, least-recently-used eviction bounded
// by bytes.
#pragma once

#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "io/npz.h"

namespace hs::jobs {

using ArtifactPtr = std::shared_ptr<const io::NpzArchive>;

class ArtifactStore {
 public:
  explicit ArtifactStore(size_t max_bytes = size_t(512) << 20) : m_max_bytes(max_bytes) {}

  ArtifactPtr Get(const std::string& key);  // nullptr on a miss; a hit becomes most recent
  void Put(const std::string& key, ArtifactPtr value);
  void Erase(const std::string& key);
  size_t bytes() const;
  size_t size() const;

  static size_t SizeOf(const io::NpzArchive& a);

 private:
  struct Entry {
    ArtifactPtr value;
    size_t bytes;
    std::list<std::string>::iterator pos;
  };
  mutable std::mutex m_mu;
  size_t m_max_bytes, m_bytes = 0;
  std::list<std::string> m_lru;  // front = most recent
  std::unordered_map<std::string, Entry> m_map;
};

}  // namespace hs::jobs
