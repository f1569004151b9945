// A safetensors file mapped read-only instead of read: the header is parsed
// and validated (ParseSafetensorsHeader), tensors are views into the mapping,
// and ToFloat32 converts one tensor at a time into a caller's buffer, so a
// multi-GB checkpoint never needs a second full copy in memory. Torch-free.
//
//   io::MappedSafetensors f(dir / "model.safetensors");
//   const io::MappedTensor& t = f.At("wte.weight");       // IoError if absent
//   std::vector<float> w(t.numel());
//   f.ToFloat32(t, w.data(), w.size());                    // F16/BF16 exact
//   f.DropPages(t);                                        // give the pages back
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "io/array.h"
#include "io/atomic_file.h"

namespace hs::io {

struct MappedTensor {
  std::string name;
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  const uint8_t* data = nullptr;  // into the mapping; valid while the file object lives
  size_t nbytes = 0;              // numel * DTypeSize(dtype)
  uint64_t file_offset = 0;       // where `data` starts in the file

  int64_t numel() const {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    return n;
  }
  bool IsFloat() const {
    return dtype == DType::F32 || dtype == DType::F16 || dtype == DType::BF16 || dtype == DType::F64;
  }
};

class MappedSafetensors {
 public:
  // Maps and validates; IoError naming the file when it is missing,
  // unreadable, truncated or its header is malformed.
  explicit MappedSafetensors(const std::filesystem::path& path);
  ~MappedSafetensors();
  MappedSafetensors(const MappedSafetensors&) = delete;
  MappedSafetensors& operator=(const MappedSafetensors&) = delete;
  MappedSafetensors(MappedSafetensors&& other) noexcept;
  MappedSafetensors& operator=(MappedSafetensors&& other) noexcept;

  const std::filesystem::path& path() const { return m_path; }
  uint64_t file_size() const { return m_size; }
  const std::map<std::string, MappedTensor>& tensors() const { return m_tensors; }
  const std::map<std::string, std::string>& metadata() const { return m_metadata; }

  const MappedTensor* Find(const std::string& name) const;
  // IoError "<file>: no tensor '<name>'" when absent.
  const MappedTensor& At(const std::string& name) const;

  // Writes the tensor's numel() values as float32 to out[0, numel()). F32, F16
  // and BF16 convert exactly (subnormals, infinities and NaNs included); F64
  // rounds to nearest; integer and bool types become their values. IoError
  // naming the file and tensor when `out_count` differs from numel().
  void ToFloat32(const MappedTensor& t, float* out, size_t out_count) const;

  // Tells the kernel this process no longer needs the tensor's pages
  // (madvise MADV_DONTNEED on the pages that lie inside it), so converting a
  // large file tensor by tensor keeps only the tensor at hand resident. The
  // data stays readable: a later access maps the pages in again.
  void DropPages(const MappedTensor& t) const;
  // Faults the tensor's pages in with one call (MADV_POPULATE_READ) before a
  // pass over it, instead of one fault per page; a hint, errors ignored.
  void Prefetch(const MappedTensor& t) const;

 private:
  void Release() noexcept;
  std::filesystem::path m_path;
  const uint8_t* m_base = nullptr;
  uint64_t m_size = 0;
  std::map<std::string, MappedTensor> m_tensors;
  std::map<std::string, std::string> m_metadata;
};

// `count` values of `dtype` at `src` (little-endian, any alignment) as float32.
void ConvertToFloat32(DType dtype, const uint8_t* src, size_t count, float* dst);

}  // namespace hs::io
