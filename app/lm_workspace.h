// The language-model workspace: a model (the demo LM by default, or any
// Hugging Face folder), a prompt box with suggested prompts, a training-step
// slider for models with checkpoints, and the registered LanguageModel
// panels in tabs. Nothing slow runs on the UI thread: the model loads (and
// its heads are categorised, the first time) on a loader thread; every edit
// of the prompt goes to lm::PromptWorker, latest wins.
#pragma once

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <thread>

#include "commands.h"
#include "lm_view.h"
#include "workspace.h"

namespace hs::app {

class LmWorkspace : public Workspace {
 public:
  explicit LmWorkspace(const ExplorerOptions& opt);
  ~LmWorkspace() override { Stop(); }

  // Loads a model folder in the background (categorising its heads if it
  // has no current head_categories.json). Does nothing if it is open.
  void OpenModel(const std::filesystem::path& dir);
  void SetPrompt(const std::string& prompt);
  // The model opened when the workspace is first shown, unless --model says otherwise.
  void SetStartModel(const std::filesystem::path& dir) { m_start_model = dir; }
  void SelectHead(int layer, int head);  // checked against the model when it is loaded
  // -1: final weights; else the nearest checkpoint at or after `step`.
  void SelectStep(int step);

  const char* name() const override { return "Language models"; }
  void Update() override;
  void Draw(ExportQueue& exports) override;
  void DrawSinglePanel(const std::string& panel, ExportQueue& exports) override;
  bool Waiting(const std::string& panel = {}) const override;
  std::vector<std::string> Errors() const override;
  nlohmann::json SaveState() const override;
  int SelectEpoch(int) override { return -1; }
  int SelectedEpoch() const override { return -1; }
  void Stop() override;

  const LmView& view() const { return m_view; }
  bool Busy() const { return m_worker.Busy() || !m_view.loading.empty() || !m_view.plasticity_status.empty(); }
  // A prompt or a model load is being computed now (current even when the
  // workspace is not drawn: reads the loader's state, not the view's).
  bool Computing() const {
    std::lock_guard<std::mutex> lock(m_mu);
    return m_worker.Busy() || !m_loading.empty() || !m_plasticity_status.empty();
  }
  // Called from worker threads when a result is ready (wakes the frame loop).
  void SetWake(std::function<void()> wake) { m_worker.SetOnResult(std::move(wake)); }

 private:
  void DrawTopBar();
  void DrawPromptBar();
  void Apply(const PanelOutput& out);
  ViewContext Context() const;
  void Adopt(std::shared_ptr<const lm::LmModel> model);
  // Reads MODEL_DIR/plasticity/*.csv (compute = false) or captures and
  // analyses every head and writes them (compute = true), on its own thread.
  void StartPlasticity(bool compute);
  void SubmitIfChanged();

  const ExplorerOptions& m_opt;
  LmView m_view;
  PanelMap m_panels;
  std::vector<std::string> m_drawn;
  char m_prompt[4096] = {};
  bool m_bos = true, m_bos_user = false;
  int m_wanted_step = -1;
  std::pair<int, int> m_wanted_head{-1, -1};
  char m_path_input[1024] = {};
  std::filesystem::path m_start_model;
  std::vector<std::filesystem::path> m_recent;
  // Loader thread and what it hands over (guarded by m_mu).
  // Background threads with a flag they set when done: finished ones are
  // joined when the next starts, the rest in Stop.
  struct Worker {
    std::thread thread;
    std::shared_ptr<std::atomic<bool>> done;
  };
  static void JoinFinished(std::vector<Worker>& workers);
  std::vector<Worker> m_loaders;
  std::vector<Worker> m_plasticity_threads;
  std::atomic<uint64_t> m_plasticity_gen{0};      // the current run; older ones stop
  std::shared_ptr<const std::vector<library::plasticity::HeadResult>> m_plasticity;  // guarded by m_mu
  std::string m_plasticity_status, m_plasticity_error;                              // guarded by m_mu
  float m_plasticity_fraction = -1;                                                 // guarded by m_mu
  std::atomic<uint64_t> m_load_gen{0};    // the current load; older loaders stop
  mutable std::mutex m_mu;
  std::shared_ptr<const lm::LmModel> m_loaded;
  std::string m_load_error, m_loading;
  float m_load_fraction = -1;
  // Prompt requests: the key of what is shown now, and of the last submitted.
  uint64_t m_next_id = 1, m_submitted_id = 0;
  uint64_t m_model_first_id = 1;  // requests before it are another model's
  std::string m_submitted_key;
  lm::PromptWorker m_worker;  // last: joined first
};

}  // namespace hs::app
