// Background training and analysis (see background_tasks.h).
#include "background_tasks.h"

#include <nlohmann/json.hpp>

#include "io/atomic_file.h"
#include "jobs/job_system.h"

namespace hs::app {
namespace fs = std::filesystem;

void BackgroundTrainer::Start(const fs::path& run_dir, const train::TrainConfig* given) {
  Stop();
  m_stop = false;
  m_running = true;
  {
    std::lock_guard<std::mutex> lock(m_mu);
    m_dir = run_dir;
    m_error.clear();
    m_progress = {};
  }
  const bool have_cfg = given != nullptr;
  const train::TrainConfig cfg = have_cfg ? *given : train::TrainConfig{};
  m_thread = std::thread([this, run_dir, cfg, have_cfg] {
    try {
      train::TrainConfig c = cfg;
      if (!have_cfg)  // resume: the run's own hyperparameters
        c = nlohmann::json::parse(io::ReadFile(run_dir / "config.json")).get<train::TrainConfig>();
      train::ConfigureTorchForTraining(train::DefaultTrainingThreads());
      train::Trainer t(c, run_dir);
      train::TrainHooks hooks;
      hooks.should_stop = [this] { return m_stop.load(); };
      hooks.eval_every_epoch = [this] { return m_test_every_epoch.load(); };
      hooks.on_epoch = [this](const train::TrainProgress& p) {
        std::lock_guard<std::mutex> lock(m_mu);
        m_progress = p;
      };
      t.Run(hooks);
    } catch (const std::exception& e) {
      std::lock_guard<std::mutex> lock(m_mu);
      m_error = e.what();
    }
    m_running = false;
  });
}

void BackgroundTrainer::Stop() {
  m_stop = true;
  if (m_thread.joinable()) m_thread.join();
}

fs::path BackgroundTrainer::run_dir() const {
  std::lock_guard<std::mutex> lock(m_mu);
  return m_dir;
}
train::TrainProgress BackgroundTrainer::progress() const {
  std::lock_guard<std::mutex> lock(m_mu);
  return m_progress;
}
std::string BackgroundTrainer::error() const {
  std::lock_guard<std::mutex> lock(m_mu);
  return m_error;
}

void BackgroundAnalysis::Start(const fs::path& run_dir) {
  if (m_running) return;
  if (m_thread.joinable()) m_thread.join();
  m_stop = false;
  m_running = true;
  {
    std::lock_guard<std::mutex> lock(m_mu);
    m_dir = run_dir;
    m_progress = {};
    m_status.clear();
  }
  m_thread = std::thread([this, run_dir] {
    jobs::LowerThreadPriority(19);  // interactive requests and training come first
    std::string status;
    try {
      analyzers::AnalyzeOptions ao;
      ao.threads = 1;
      const auto report = analyzers::AnalyzeRun(
          run_dir, ao,
          [this](const analyzers::AnalyzeProgress& p) {
            std::lock_guard<std::mutex> lock(m_mu);
            m_progress = p;
          },
          [this] { return m_stop.load(); });
      status = report.warnings.empty() ? "" : report.warnings.front();
      if (report.warnings.size() > 1) status += " (+" + std::to_string(report.warnings.size() - 1) + " more warnings)";
    } catch (const std::exception& e) {
      status = std::string("analysis failed: ") + e.what();
    }
    {
      std::lock_guard<std::mutex> lock(m_mu);
      m_status = status;
    }
    m_running = false;
  });
}

void BackgroundAnalysis::Stop() {
  m_stop = true;
  if (m_thread.joinable()) m_thread.join();
}

fs::path BackgroundAnalysis::run_dir() const {
  std::lock_guard<std::mutex> lock(m_mu);
  return m_dir;
}
analyzers::AnalyzeProgress BackgroundAnalysis::progress() const {
  std::lock_guard<std::mutex> lock(m_mu);
  return m_progress;
}
std::string BackgroundAnalysis::status() const {
  std::lock_guard<std::mutex> lock(m_mu);
  return m_status;
}

}  // namespace hs::app
