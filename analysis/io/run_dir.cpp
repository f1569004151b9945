// Run directory helpers (see run_dir.h).
#include "io/run_dir.h"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "io/atomic_file.h"

namespace hs::io {
namespace fs = std::filesystem;

std::string EpochStem(int epoch) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "epoch_%05d", epoch);
  return buf;
}

std::vector<int> ListCheckpointEpochs(const fs::path& run_dir) {
  std::vector<int> epochs;
  const fs::path dir = run_dir / "checkpoints";
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return epochs;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    const std::string name = e.path().filename().string();
    int epoch = 0;
    char tail[32] = {0};
    if (name.rfind("epoch_", 0) == 0 && std::sscanf(name.c_str(), "epoch_%d%31s", &epoch, tail) == 2 &&
        std::string(tail) == ".safetensors")
      epochs.push_back(epoch);
  }
  std::sort(epochs.begin(), epochs.end());
  return epochs;
}

std::vector<fs::path> ListRuns(const fs::path& runs_root) {
  std::vector<fs::path> runs;
  std::error_code ec;
  if (!fs::is_directory(runs_root, ec)) return runs;
  for (const auto& fam : fs::directory_iterator(runs_root, ec)) {
    if (!fam.is_directory()) continue;
    for (const auto& var : fs::directory_iterator(fam.path(), ec))
      if (var.is_directory() && fs::exists(var.path() / "config.json")) runs.push_back(var.path());
  }
  std::sort(runs.begin(), runs.end());
  return runs;
}

std::string FormatMetricsCsv(const std::vector<MetricsRow>& rows) {
  std::string out = "epoch,train_loss,test_loss,train_acc,test_acc,test_epoch\n";
  char buf[192];
  for (const auto& r : rows) {
    std::snprintf(buf, sizeof buf, "%d,%.9g,%.9g,%.6f,%.6f,%d\n", r.epoch, r.train_loss, r.test_loss, r.train_acc,
                  r.test_acc, r.test_epoch);
    out += buf;
  }
  return out;
}

std::vector<MetricsRow> ReadMetricsCsv(const fs::path& path) {
  std::vector<MetricsRow> rows;
  if (!fs::exists(path)) return rows;
  std::istringstream in(ReadFile(path));
  std::string line;
  int line_no = 0;
  int columns = 0;
  while (std::getline(in, line)) {
    ++line_no;
    if (line_no == 1) {  // header
      if (line.rfind("epoch,train_loss,test_loss,train_acc,test_acc", 0) != 0)
        throw IoError(path.string() + ":1: not a metrics.csv header: '" + line +
                      "' (expected epoch,train_loss,test_loss,train_acc,test_acc[,test_epoch])");
      columns = line.find(",test_epoch") != std::string::npos ? 6 : 5;
      continue;
    }
    if (line.empty()) continue;
    MetricsRow r;
    char extra = 0;
    const int got = std::sscanf(line.c_str(), "%d,%lf,%lf,%lf,%lf,%d%c", &r.epoch, &r.train_loss, &r.test_loss,
                                &r.train_acc, &r.test_acc, &r.test_epoch, &extra);
    if (got != columns)
      throw IoError(path.string() + ":" + std::to_string(line_no) + ": expected " + std::to_string(columns) +
                    " comma-separated numbers, got '" + line + "'");
    if (columns == 5) r.test_epoch = r.epoch;
    if (r.test_epoch > r.epoch || r.test_epoch < 0)
      throw IoError(path.string() + ":" + std::to_string(line_no) + ": test_epoch " + std::to_string(r.test_epoch) +
                    " is not an epoch at or before " + std::to_string(r.epoch));
    rows.push_back(r);
  }
  return rows;
}

}  // namespace hs::io
