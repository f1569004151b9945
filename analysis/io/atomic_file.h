// Atomic file writes: write to a temporary file in the same folder, fsync,
// rename over the target, fsync the folder. A reader never sees half a file.
#pragma once

#include <filesystem>
#include <stdexcept>
#include <string>
#include <string_view>

namespace hs::io {

// Every error a user can cause with a file (missing, truncated, malformed)
// is reported as an IoError whose message names the file and the problem.
struct IoError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Writes `bytes` to `path` atomically. Creates no parent folders.
void WriteFileAtomic(const std::filesystem::path& path, std::string_view bytes);

// A temporary path beside `path` that is unique to this process and thread.
std::filesystem::path TempPathFor(const std::filesystem::path& path);

// fsyncs an existing file, then renames it over `path` and fsyncs the folder.
void CommitTempFile(const std::filesystem::path& tmp, const std::filesystem::path& path);

// strerror(errno) of the call that just failed, for messages that name a file.
std::string ErrnoText();

// Reads a whole file; throws IoError naming the file when it cannot.
std::string ReadFile(const std::filesystem::path& path);

}  // namespace hs::io
