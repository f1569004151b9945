// The grokking workspace: one run folder, an epoch slider shared by every
// panel (play, step, arrow keys, follow a live run), a position pair, the
// run picker, training and "Analyze all" in the top bar, and the registered
// Grokking panels in tabs.
#pragma once

#include <chrono>
#include <cstdlib>
#include <map>
#include <memory>
#include <string>

#include "background_tasks.h"
#include "run_state.h"
#include "workspace.h"

namespace hs::app {

struct GrokkingOptions {
  std::string runs = "runs";            // the folder of runs (run picker; reports go beside it)
  std::vector<std::string> compare;     // runs the Variants panel and Report compare with the open one
};

class GrokkingWorkspace : public Workspace {
 public:
  GrokkingWorkspace(GrokkingOptions opt, Requests& requests);
  ~GrokkingWorkspace() override { Stop(); }

  // Opens a run; `epoch` >= 0 selects the nearest checkpoint at or after it,
  // else the latest (following new ones).
  void Open(const std::filesystem::path& run_dir, int epoch = -1);
  // Sets the position pair; false when the run has no such causal pair.
  bool SetPair(int query_pos, int key_pos);
  // Starts training the run in the background (a new run when cfg is given).
  void StartTraining(const train::TrainConfig* cfg = nullptr);
  // The open run, when it is unfinished, trains in the background: resumed,
  // or started with the default recipe when its folder has no config yet.
  void TrainIfIncomplete();

  const char* name() const override { return "Grokking"; }
  void Update() override;
  nlohmann::json SaveState() const override;
  int SelectEpoch(int epoch) override;
  int SelectedEpoch() const override;
  void Stop() override;

  const RunState& run() const { return m_run; }
  // The epoch slider is playing (the window keeps drawing).
  bool Animating() const { return m_playing; }
  const BackgroundTrainer& trainer() const { return m_trainer; }

 protected:
  void DrawBars() override;
  ViewContext Context() const override;
  void Apply(const PanelOutput& out) override;
  void AppendErrors(std::vector<std::string>& out) const override;

 private:
  void DrawTopBar();
  void DrawEpochBar();

  const GrokkingOptions m_opt;
  Requests& m_requests;
  RunState m_run;
  std::vector<std::filesystem::path> m_all_runs;
  int m_epoch_index = -1, m_wanted_epoch = -1;
  int m_query_pos = -1, m_key_pos = -1;
  bool m_playing = false, m_follow_latest = true;
  std::chrono::steady_clock::time_point m_last_play{}, m_last_move{}, m_last_follow{};
  bool m_was_training = false;  // the trainer ran this run at the last Update
  bool m_fill_in = false;       // training stopped: a full pass once the live one has ended
  // Analyse the newest checkpoint while training (off: HEADSCOPE_LIVE=0, for benchmarks).
  bool m_live_trajectories = [] {
    const char* e = std::getenv("HEADSCOPE_LIVE");
    return !(e && std::string(e) == "0");
  }();
  bool m_prefetched = false;
  MetricsResult m_metrics;
  BackgroundTrainer m_trainer;
  BackgroundAnalysis m_analysis;
  BackgroundReport m_report;
  void StartReport(const std::vector<std::filesystem::path>& runs);
};

}  // namespace hs::app
