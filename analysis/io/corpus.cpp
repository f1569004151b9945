// Corpus listing (see corpus.h).
#include "io/corpus.h"

#include <algorithm>

#include "io/atomic_file.h"

namespace hs::io {
namespace fs = std::filesystem;

std::vector<fs::path> CorpusFiles(const std::string& path) {
  std::error_code ec;
  std::vector<fs::path> files;
  if (fs::is_directory(path, ec)) {
    for (const auto& e : fs::directory_iterator(path, ec))
      if (e.is_regular_file()) files.push_back(e.path());
    std::sort(files.begin(), files.end());
  } else if (fs::exists(path, ec)) {
    files.push_back(path);
  } else {
    throw io::IoError(path + ": corpus not found (a text file or a folder of them)");
  }
  return files;
}

}  // namespace hs::io
