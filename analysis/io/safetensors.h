// safetensors read/write (https://github.com/huggingface/safetensors format):
// u64 little-endian header length, JSON header, then the byte buffer.
// Every field of the header is bounds-checked; a malformed file throws
// IoError naming the file and what is wrong with it.
#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <string_view>

#include "io/array.h"
#include "io/atomic_file.h"

namespace hs::io {

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
