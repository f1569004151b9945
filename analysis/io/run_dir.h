// The run directory contract (DESIGN.md):
//   runs/<family>/<variant>/config.json
//   runs/<family>/<variant>/metrics.csv   epoch,train_loss,test_loss,train_acc,test_acc,test_epoch
//   runs/<family>/<variant>/checkpoints/epoch_NNNNN.safetensors
//   runs/<family>/<variant>/artifacts/<analyzer>/epoch_NNNNN.npz
// plus train_state.safetensors (weights + optimizer state) for resuming.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace hs::io {

std::string EpochStem(int epoch);  // "epoch_00042"

struct RunPaths {
  std::filesystem::path dir;
  std::filesystem::path Config() const { return dir / "config.json"; }
  std::filesystem::path Metrics() const { return dir / "metrics.csv"; }
  std::filesystem::path TrainState() const { return dir / "train_state.safetensors"; }
  std::filesystem::path CheckpointsDir() const { return dir / "checkpoints"; }
  std::filesystem::path Checkpoint(int epoch) const { return CheckpointsDir() / (EpochStem(epoch) + ".safetensors"); }
  std::filesystem::path ArtifactsDir(const std::string& analyzer) const { return dir / "artifacts" / analyzer; }
  std::filesystem::path Artifact(const std::string& analyzer, int epoch) const {
    return ArtifactsDir(analyzer) / (EpochStem(epoch) + ".npz");
  }
};

// Epochs of the checkpoints present, ascending. Temporary files are ignored.
std::vector<int> ListCheckpointEpochs(const std::filesystem::path& run_dir);

// Every variant folder (one holding config.json) under `runs_root`, as
// runs_root/<family>/<variant>, sorted.
std::vector<std::filesystem::path> ListRuns(const std::filesystem::path& runs_root);

struct MetricsRow {
  int epoch = 0;
  double train_loss = 0, test_loss = 0, train_acc = 0, test_acc = 0;
  // The epoch whose weights gave test_loss/test_acc: the test set is
  // evaluated every few epochs, rows in between repeat the last evaluation.
  // test_epoch == epoch marks the evaluated rows. Files written before this
  // column existed evaluated every epoch (read as test_epoch = epoch).
  int test_epoch = 0;
};

std::string FormatMetricsCsv(const std::vector<MetricsRow>& rows);
// Parses metrics.csv (with or without the test_epoch column); a malformed
// line throws IoError naming file and line.
// A missing file gives no rows.
std::vector<MetricsRow> ReadMetricsCsv(const std::filesystem::path& path);

}  // namespace hs::io
