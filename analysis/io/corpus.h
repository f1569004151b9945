// A text corpus given as one file or a folder of text files (the demo LM's
// training text, the plasticity capture's sentences).
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace hs::io {

// The files of `path`: the file itself, or a folder's regular files sorted by
// name. Throws IoError naming `path` when it does not exist.
std::vector<std::filesystem::path> CorpusFiles(const std::string& path);

}  // namespace hs::io
