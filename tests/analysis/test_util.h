// Shared helpers for the analysis tests: fresh temporary folders.
#pragma once

#include <filesystem>
#include <random>
#include <string>

namespace hs::test {

// A new empty folder under the build tree, removed at scope exit.
struct TempDir {
  std::filesystem::path path;
  explicit TempDir(const std::string& name) {
    std::random_device rd;
    path = std::filesystem::path(HS_BINARY_DIR) / "test_tmp" / (name + "_" + std::to_string(rd()));
    std::filesystem::remove_all(path);
    std::filesystem::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
};

// The python3 with numpy and torch (Debian's), for the reference scripts.
inline std::string Python() { return std::filesystem::exists("/usr/bin/python3") ? "/usr/bin/python3" : "python3"; }
#ifdef HS_SOURCE_DIR
// The shipped demo LM.
inline std::filesystem::path DemoLm() { return std::filesystem::path(HS_SOURCE_DIR) / "assets/demo_lm"; }
#endif

}  // namespace hs::test
