// Long work the explorer runs beside the UI, each on its own thread at low
// priority so that interactive requests never wait behind it: training a run
// and "Analyze all". Both report progress and stop on request (training
// saves its state at the current epoch, so it resumes exactly there).
#pragma once

#include <atomic>
#include <chrono>
#include <vector>
#include <filesystem>
#include <mutex>
#include <string>
#include <thread>

#include "analyzers/pipeline.h"
#include "train/trainer.h"

namespace hs::app {

class BackgroundTrainer {
 public:
  ~BackgroundTrainer() { Stop(); }
  // Trains (or resumes) the run described by run_dir/config.json, or `cfg`
  // when given (a new run).
  void Start(const std::filesystem::path& run_dir, const train::TrainConfig* cfg = nullptr);
  void RequestStop() { m_stop = true; }  // never blocks: the UI thread calls it
  void Stop();                            // requests a stop and joins (state saved)
  bool running() const { return m_running; }
  bool stopping() const { return m_stop && m_running; }
  // Evaluate the test set after every epoch instead of every eval_every.
  void SetTestEveryEpoch(bool on) { m_test_every_epoch = on; }
  bool test_every_epoch() const { return m_test_every_epoch; }
  std::filesystem::path run_dir() const;
  train::TrainProgress progress() const;
  std::string error() const;

 private:
  std::thread m_thread;
  std::atomic<bool> m_stop{false}, m_running{false}, m_test_every_epoch{false};
  mutable std::mutex m_mu;
  std::filesystem::path m_dir;       // guarded by m_mu
  train::TrainProgress m_progress;   // guarded by m_mu
  std::string m_error;               // guarded by m_mu
};

class BackgroundAnalysis {
 public:
  ~BackgroundAnalysis() { Stop(); }
  // Analyses every checkpoint of `run_dir` (no-op while already running).
  void Start(const std::filesystem::path& run_dir);
  // Live beside the trainer: follows `run_dir`, analysing the newest
  // checkpoint with the analyzers the trajectory panels read
  // (attention_freq, neuron_freq_norm, progress_measures) in at most
  // kLiveDuty of one core's time (AnalyzeOptions::follow_duty), at normal
  // priority: the duty cycle is what bounds its cost to the trainer.
  void StartLive(const std::filesystem::path& run_dir);
  static constexpr double kLiveDuty = 0.06;
  void RequestStop() { m_stop = true; }  // never blocks
  void Stop();
  bool running() const { return m_running; }
  bool live() const { return m_running && m_live; }
  std::filesystem::path run_dir() const;
  analyzers::AnalyzeProgress progress() const;
  std::string status() const;  // last result or error, for the top bar

 private:
  std::thread m_thread;
  void Launch(const std::filesystem::path& run_dir, bool live);
  std::atomic<bool> m_stop{false}, m_running{false}, m_live{false};
  mutable std::mutex m_mu;
  std::filesystem::path m_dir;              // guarded by m_mu
  analyzers::AnalyzeProgress m_progress;    // guarded by m_mu
  std::string m_status;                     // guarded by m_mu
};

// `headscope report` as a child process (it renders its figures in windows
// of its own, off-screen), polled from the UI thread; its output goes to
// OUT/report.log.
class BackgroundReport {
 public:
  ~BackgroundReport();
  // Starts `headscope report RUNS... --out out_dir` (no-op while one runs);
  // `exe` is the headscope binary (default: this process's).
  void Start(const std::vector<std::filesystem::path>& runs, const std::filesystem::path& out_dir,
             const std::filesystem::path& exe = {});
  // Reaps the child when it has finished; call once per frame.
  void Poll();
  bool running() const { return m_pid > 0; }
  double seconds() const;                   // since the start
  const std::string& status() const { return m_status; }  // last result, for the top bar
  const std::filesystem::path& out_dir() const { return m_out; }

 private:
  int m_pid = -1;
  std::filesystem::path m_out;
  std::string m_status;
  std::chrono::steady_clock::time_point m_t0;
};

}  // namespace hs::app
