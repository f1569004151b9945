// .npz archives (a zip of .npy files) readable by numpy.load, written with
// libzip. Arrays are little-endian, C order. Writes are atomic.
#pragma once

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "io/array.h"
#include "io/atomic_file.h"

namespace hs::io {

using NpzArchive = std::map<std::string, Array>;  // key (no ".npy") -> array

// .npy v1.0 serialisation of one array and its parser.
std::string SerializeNpy(const Array& a);
Array ParseNpy(const std::string& bytes, const std::string& source);

struct NpzWriteOptions {
  // ZIP_DEFLATED members (numpy.load reads them; np.savez_compressed writes
  // them). CRCs are written either way and checked on read.
  bool deflate = false;
  int level = 1;  // 1 (fastest) .. 9
};

void WriteNpz(const std::filesystem::path& path, const NpzArchive& arrays, const NpzWriteOptions& opt = {});
// A zip of named members (name -> bytes), written atomically (WriteNpz's
// container; `headscope export` bundles).
void WriteZip(const std::filesystem::path& path, const std::vector<std::pair<std::string, std::string>>& members,
              const NpzWriteOptions& opt = {});
// A large array written to its own .npy file piece by piece, in C order, so
// that it never needs to be in memory at once (`heads --patterns-out` streams
// every layer's patterns this way). The file is a temporary: Finish() makes it
// complete for WriteNpz, and the destructor removes it.
class NpyFileWriter {
 public:
  NpyFileWriter(std::filesystem::path path, DType dtype, std::vector<int64_t> shape);  // IoError naming the file
  ~NpyFileWriter();
  NpyFileWriter(const NpyFileWriter&) = delete;
  NpyFileWriter& operator=(const NpyFileWriter&) = delete;
  void Append(const void* data, size_t bytes);  // IoError past the shape's size or on a write error
  void Finish();                                // IoError when the data is short of the shape
  const std::filesystem::path& path() const { return m_path; }

 private:
  std::filesystem::path m_path;
  std::FILE* m_file = nullptr;
  uint64_t m_left = 0;
  bool m_done = false;
};

// WriteNpz plus members stored from finished .npy files (key -> file), copied
// into the archive by libzip without reading them into memory.
void WriteNpz(const std::filesystem::path& path, const NpzArchive& arrays,
              const std::vector<std::pair<std::string, std::filesystem::path>>& npy_files,
              const NpzWriteOptions& opt = {});

// Throws IoError naming the file (and member) when the archive is truncated,
// not a zip, or holds a .npy this reader does not understand.
NpzArchive ReadNpz(const std::filesystem::path& path);

}  // namespace hs::io
