// LRU artifact cache (see artifact_store.h).
#include "jobs/artifact_store.h"

namespace hs::jobs {

size_t ArtifactStore::SizeOf(const io::NpzArchive& a) {
  size_t n = 0;
  for (const auto& kv : a) n += kv.second.bytes.size() + kv.first.size() + 64;
  return n;
}

ArtifactPtr ArtifactStore::Get(const std::string& key) {
  std::lock_guard<std::mutex> lock(m_mu);
  auto it = m_map.find(key);
  if (it == m_map.end()) return nullptr;
  m_lru.splice(m_lru.begin(), m_lru, it->second.pos);
  return it->second.value;
}

void ArtifactStore::Put(const std::string& key, ArtifactPtr value) {
  if (!value) return;
  const size_t bytes = SizeOf(*value);
  std::lock_guard<std::mutex> lock(m_mu);
  auto it = m_map.find(key);
  if (it != m_map.end()) {
    m_bytes -= it->second.bytes;
    m_lru.erase(it->second.pos);
    m_map.erase(it);
  }
  m_lru.push_front(key);
  m_map[key] = Entry{std::move(value), bytes, m_lru.begin()};
  m_bytes += bytes;
  while (m_bytes > m_max_bytes && m_lru.size() > 1) {  // never evict what was just added
    auto& victim = m_map.at(m_lru.back());
    m_bytes -= victim.bytes;
    m_map.erase(m_lru.back());
    m_lru.pop_back();
  }
}

void ArtifactStore::Erase(const std::string& key) {
  std::lock_guard<std::mutex> lock(m_mu);
  auto it = m_map.find(key);
  if (it == m_map.end()) return;
  m_bytes -= it->second.bytes;
  m_lru.erase(it->second.pos);
  m_map.erase(it);
}

size_t ArtifactStore::bytes() const {
  std::lock_guard<std::mutex> lock(m_mu);
  return m_bytes;
}
size_t ArtifactStore::size() const {
  std::lock_guard<std::mutex> lock(m_mu);
  return m_map.size();
}

}  // namespace hs::jobs
