// safetensors read/write (https://github.com/huggingface/safetensors format):
// u64 little-endian header length, JSON header, then the byte buffer.
// Every field of the header is bounds-checked; a malformed file throws
// IoError naming the file and what is wrong with it.
#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "io/array.h"
#include "io/atomic_file.h"

namespace hs::io {

// One tensor's entry in a validated header: dtype, shape and where its bytes
// lie in the data buffer (which starts at SafetensorsHeader::data_start).
struct SafetensorsEntry {
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  uint64_t begin = 0, end = 0;  // byte range within the data buffer
};

struct SafetensorsHeader {
  uint64_t data_start = 0;  // file offset of the data buffer: 8 + header length
  std::map<std::string, SafetensorsEntry> tensors;
  std::map<std::string, std::string> metadata;  // the "__metadata__" entry
};

// Validates the header of a whole file's `bytes` (which may be a read-only
// mapping: nothing is copied): header length within the file, every entry's
// dtype, shape and offsets, byte counts equal to numel * dtype size, ranges
// inside the buffer and not overlapping. `source` names the file in errors.
SafetensorsHeader ParseSafetensorsHeader(std::string_view bytes, const std::string& source);

struct SafetensorsFile {
  std::map<std::string, Array> tensors;
  std::map<std::string, std::string> metadata;  // the "__metadata__" entry
};

// Parses a whole file's bytes. `source` names the file in error messages.
SafetensorsFile ParseSafetensors(std::string_view bytes, const std::string& source);
SafetensorsFile ReadSafetensors(const std::filesystem::path& path);

std::string SerializeSafetensors(const SafetensorsFile& file);
// Atomic: temp file, fsync, rename.
void WriteSafetensors(const std::filesystem::path& path, const SafetensorsFile& file);

}  // namespace hs::io
