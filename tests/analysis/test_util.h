// Shared helpers for the analysis tests: fresh temporary folders.
#pragma once

#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

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
// Runs tests/analysis/hf_reference.py: the fixtures `names` under `dir` (with
// `broken`, also each one's reference_broken.npz); `env` is prepended to the
// command ("HS_FIXTURE_LAYERS=3 "). Its output goes to dir/hf_reference.log.
// Returns the exit status.
inline int WriteHfFixtures(const std::filesystem::path& dir, const std::vector<std::string>& names, bool broken = false,
                           const std::string& env = "") {
  std::string cmd = env + Python() + " " + std::string(HS_SOURCE_DIR) + "/tests/analysis/hf_reference.py " +
                    (broken ? "--broken " : "") + dir.string();
  for (const auto& n : names) cmd += " " + n;
  cmd += " > " + (dir / "hf_reference.log").string() + " 2>&1";
  return std::system(cmd.c_str());
}
// The shipped demo LM.
inline std::filesystem::path DemoLm() { return std::filesystem::path(HS_SOURCE_DIR) / "assets/demo_lm"; }
#endif

}  // namespace hs::test
