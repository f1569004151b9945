// Loss and accuracy curves of one run (train/test, log-scale loss), with the
// current epoch and the grokking epoch (test accuracy first > 0.9) marked.
#pragma once

#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

#include "io/run_dir.h"

namespace hs::app {

struct LossCurvesPanel {
  // Re-reads metrics.csv when it changed on disk (cheap to call every frame).
  void Refresh(const std::filesystem::path& run_dir);
  void Draw(float current_epoch = NAN);

  int GrokEpoch() const { return m_grok_epoch; }
  int LastEpoch() const { return m_epoch.empty() ? -1 : int(m_epoch.back()); }
  const std::string& error() const { return m_error; }

 private:
  std::filesystem::path m_run_dir;
  std::filesystem::file_time_type m_mtime{};
  std::vector<float> m_epoch, m_train_loss, m_test_loss, m_train_acc, m_test_acc;
  int m_grok_epoch = -1;
  std::string m_error;
};

}  // namespace hs::app
