// Background training and analysis (see background_tasks.h).
#include "background_tasks.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>

#include <csignal>
#include <cstring>
#include <nlohmann/json.hpp>

#include "io/atomic_file.h"
#include "jobs/job_system.h"
#include "jobs/thread_policy.h"

extern char** environ;

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
      jobs::ConfigureTorchForTraining(jobs::DefaultTrainingThreads());
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

void BackgroundAnalysis::Start(const fs::path& run_dir) { Launch(run_dir, false); }
void BackgroundAnalysis::StartLive(const fs::path& run_dir) { Launch(run_dir, true); }

void BackgroundAnalysis::Launch(const fs::path& run_dir, bool live) {
  if (m_running) return;
  if (m_thread.joinable()) m_thread.join();
  m_stop = false;
  m_running = true;
  m_live = live;
  {
    std::lock_guard<std::mutex> lock(m_mu);
    m_dir = run_dir;
    m_progress = {};
    m_status.clear();
  }
  m_thread = std::thread([this, run_dir, live] {
    // A full pass: interactive requests and training come first. Live: the
    // duty cycle is the limit (at nice 19 beside a two-thread trainer the
    // newest checkpoint waited minutes for a core).
    if (!live) jobs::LowerThreadPriority(19);
    std::string status;
    try {
      analyzers::AnalyzeOptions ao;
      ao.threads = 1;
      if (live) {
        ao.analyzers = {"attention_freq", "neuron_freq_norm", "progress_measures"};
        ao.follow = true;
        ao.follow_duty = kLiveDuty;
        ao.follow_poll_seconds = 1.0;
      }
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

BackgroundReport::~BackgroundReport() {
  if (m_pid > 0) {  // the report keeps going; reap it so it is not left a zombie of ours
    ::kill(m_pid, SIGTERM);
    int st = 0;
    ::waitpid(m_pid, &st, 0);
  }
}

void BackgroundReport::Start(const std::vector<fs::path>& runs, const fs::path& out_dir, const fs::path& exe) {
  if (m_pid > 0 || runs.empty()) return;
  std::error_code ec;
  fs::create_directories(out_dir, ec);
  if (ec) {
    m_status = "cannot create " + out_dir.string() + ": " + ec.message();
    return;
  }
  std::vector<std::string> args = {exe.empty() ? fs::read_symlink("/proc/self/exe", ec).string() : exe.string(), "report"};
  for (const auto& r : runs) args.push_back(r.string());
  for (const char* a : {"--out", "", "--quiet"}) args.push_back(a);
  args[args.size() - 2] = out_dir.string();
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  const std::string log = (out_dir / "report.log").string();
  posix_spawn_file_actions_addopen(&fa, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&fa, 1, 2);
  pid_t pid = -1;
  const int rc = posix_spawn(&pid, argv[0], &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) {
    m_status = std::string("could not start headscope report: ") + std::strerror(rc);
    return;
  }
  m_pid = pid;
  m_out = out_dir;
  m_t0 = std::chrono::steady_clock::now();
  m_status.clear();
}

void BackgroundReport::Poll() {
  if (m_pid <= 0) return;
  int st = 0;
  const pid_t r = ::waitpid(m_pid, &st, WNOHANG);
  if (r == 0) return;
  m_pid = -1;
  if (r > 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0) {
    m_status = "report written: " + (m_out / "report.html").string();
    return;
  }
  // The last line of the log says why.
  std::string last;
  try {
    std::string log = io::ReadFile(m_out / "report.log");
    while (!log.empty() && log.back() == '\n') log.pop_back();
    const size_t nl = log.rfind('\n');
    last = nl == std::string::npos ? log : log.substr(nl + 1);
  } catch (const std::exception&) {
  }
  m_status = "report failed" + (last.empty() ? std::string() : ": " + last) + " (log: " + (m_out / "report.log").string() + ")";
}

double BackgroundReport::seconds() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - m_t0).count();
}

}  // namespace hs::app
