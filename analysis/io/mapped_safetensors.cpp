// Read-only mapped safetensors files (see mapped_safetensors.h).
#include "io/mapped_safetensors.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <memory>
#include <string_view>

#include "io/safetensors.h"

namespace hs::io {
namespace {

// IEEE half -> float, exact for every bit pattern: subnormals are normalised,
// infinities and NaNs keep their sign and payload.
float HalfBitsToFloat(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  uint32_t exp = (h >> 10) & 0x1fu, mant = h & 0x3ffu, bits;
  if (exp == 0x1f) {
    bits = sign | 0x7f800000u | (mant << 13);
  } else if (exp != 0) {
    bits = sign | ((exp + 127 - 15) << 23) | (mant << 13);
  } else if (mant == 0) {
    bits = sign;
  } else {  // subnormal: value mant * 2^-24; shift the leading one into place
    int e = 127 - 15 + 1;
    while (!(mant & 0x400u)) {
      mant <<= 1;
      --e;
    }
    bits = sign | (static_cast<uint32_t>(e) << 23) | ((mant & 0x3ffu) << 13);
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

// All 65536 halves, built once (256 KiB): a table lookup per value keeps
// converting a few hundred million F16 weights well under a second.
const float* HalfTable() {
  static const std::unique_ptr<float[]> table = [] {
    std::unique_ptr<float[]> t(new float[65536]);
    for (uint32_t i = 0; i < 65536; ++i) t[i] = HalfBitsToFloat(static_cast<uint16_t>(i));
    return t;
  }();
  return table.get();
}

template <class T>
void ConvertInts(const uint8_t* src, size_t count, float* dst) {
  for (size_t i = 0; i < count; ++i) {
    T v;
    std::memcpy(&v, src + i * sizeof(T), sizeof(T));
    dst[i] = static_cast<float>(v);
  }
}

}  // namespace

void ConvertToFloat32(DType dtype, const uint8_t* src, size_t count, float* dst) {
  switch (dtype) {
    case DType::F32:
      std::memcpy(dst, src, count * 4);
      return;
    case DType::BF16:
      for (size_t i = 0; i < count; ++i) {
        uint16_t h;
        std::memcpy(&h, src + 2 * i, 2);
        const uint32_t bits = static_cast<uint32_t>(h) << 16;  // bfloat16 is float32's top half
        std::memcpy(dst + i, &bits, 4);
      }
      return;
    case DType::F16: {
      const float* table = HalfTable();
      for (size_t i = 0; i < count; ++i) {
        uint16_t h;
        std::memcpy(&h, src + 2 * i, 2);
        dst[i] = table[h];
      }
      return;
    }
    case DType::F64:
      ConvertInts<double>(src, count, dst);
      return;
    case DType::I64:
      ConvertInts<int64_t>(src, count, dst);
      return;
    case DType::I32:
      ConvertInts<int32_t>(src, count, dst);
      return;
    case DType::I16:
      ConvertInts<int16_t>(src, count, dst);
      return;
    case DType::I8:
      ConvertInts<int8_t>(src, count, dst);
      return;
    case DType::U8:
    case DType::Bool:
      ConvertInts<uint8_t>(src, count, dst);
      return;
  }
}

MappedSafetensors::MappedSafetensors(const std::filesystem::path& path) : m_path(path) {
  const std::string source = path.string();
  const int fd = ::open(source.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw IoError(source + ": cannot open (" + ErrnoText() + ")");
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const std::string why = ErrnoText();
    ::close(fd);
    throw IoError(source + ": cannot stat (" + why + ")");
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    throw IoError(source + ": not a regular file");
  }
  m_size = static_cast<uint64_t>(st.st_size);
  if (m_size > 0) {
    void* p = ::mmap(nullptr, m_size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) {
      const std::string why = ErrnoText();
      ::close(fd);
      throw IoError(source + ": cannot map " + std::to_string(m_size) + " bytes (" + why + ")");
    }
    m_base = static_cast<const uint8_t*>(p);
  }
  ::close(fd);  // the mapping keeps the file open
  try {
    const std::string_view bytes(reinterpret_cast<const char*>(m_base), m_size);
    SafetensorsHeader h = ParseSafetensorsHeader(bytes, source);
    m_metadata = std::move(h.metadata);
    for (auto& [name, e] : h.tensors) {
      MappedTensor t;
      t.name = name;
      t.dtype = e.dtype;
      t.shape = std::move(e.shape);
      t.file_offset = h.data_start + e.begin;
      t.data = m_base + t.file_offset;
      t.nbytes = e.end - e.begin;
      m_tensors.emplace(name, std::move(t));
    }
  } catch (...) {
    Release();
    throw;
  }
}

MappedSafetensors::~MappedSafetensors() { Release(); }

MappedSafetensors::MappedSafetensors(MappedSafetensors&& other) noexcept { *this = std::move(other); }

MappedSafetensors& MappedSafetensors::operator=(MappedSafetensors&& other) noexcept {
  if (this != &other) {
    Release();
    m_path = std::move(other.m_path);
    m_base = other.m_base;
    m_size = other.m_size;
    m_tensors = std::move(other.m_tensors);
    m_metadata = std::move(other.m_metadata);
    other.m_base = nullptr;
    other.m_size = 0;
  }
  return *this;
}

void MappedSafetensors::Release() noexcept {
  if (m_base) ::munmap(const_cast<uint8_t*>(m_base), m_size);
  m_base = nullptr;
  m_size = 0;
  m_tensors.clear();
}

const MappedTensor* MappedSafetensors::Find(const std::string& name) const {
  auto it = m_tensors.find(name);
  return it == m_tensors.end() ? nullptr : &it->second;
}

const MappedTensor& MappedSafetensors::At(const std::string& name) const {
  const MappedTensor* t = Find(name);
  if (!t) throw IoError(m_path.string() + ": no tensor '" + name + "'");
  return *t;
}

void MappedSafetensors::ToFloat32(const MappedTensor& t, float* out, size_t out_count) const {
  if (static_cast<int64_t>(out_count) != t.numel())
    throw IoError(m_path.string() + ": tensor '" + t.name + "' of shape " + ShapeString(t.shape) + " has " +
                  std::to_string(t.numel()) + " values, but the destination holds " + std::to_string(out_count));
  ConvertToFloat32(t.dtype, t.data, out_count, out);
}

void MappedSafetensors::Prefetch(const MappedTensor& t) const {
#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22
#endif
  if (!m_base || t.nbytes == 0) return;
  const uintptr_t page = uintptr_t(sysconf(_SC_PAGESIZE));
  const uintptr_t begin = uintptr_t(t.data) & ~(page - 1), end = uintptr_t(t.data) + t.nbytes;
  ::madvise(reinterpret_cast<void*>(begin), end - begin, MADV_POPULATE_READ);
}

void MappedSafetensors::DropPages(const MappedTensor& t) const {
  if (!m_base || t.nbytes == 0) return;
  // Whole pages around the tensor: a neighbour that shares a boundary page
  // merely faults it in again from the page cache (the mapping is read-only
  // and private, so nothing is lost).
  const uint64_t page = static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
  const uint64_t begin = t.file_offset / page * page;
  const uint64_t end = std::min<uint64_t>((t.file_offset + t.nbytes + page - 1) / page * page, m_size);
  if (end > begin) ::madvise(const_cast<uint8_t*>(m_base) + begin, end - begin, MADV_DONTNEED);
}

}  // namespace hs::io
