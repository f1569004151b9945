// The language-model workspace's engine, without a window: a loaded model
// with its head categories and roles over training (LoadLmModel), one
// prompt's analysis (AnalyzePrompt: tokenise, forward to the last pattern,
// verify the head roles), and the worker that runs prompt edits off the UI
// thread, latest wins (PromptWorker). The explorer and bench/head_roles_latency
// use exactly this code. Torch-free interface.
//
//   auto model = lm::LoadLmModel("assets/demo_lm");            // slow: a loader thread
//   lm::PromptWorker worker;
//   worker.Submit({model, "The cat sat. The cat", model->lm->DefaultBos(), -1, ++id});
//   ... each frame: auto a = worker.Latest(&done_id);           // a->roles, a->patterns
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "library/head_roles.h"
#include "lm/categorize.h"
#include "lm/language_model.h"

namespace hs::lm {

// A loaded model and what was computed about it once.
struct LmModel {
  std::filesystem::path dir;
  std::shared_ptr<const LanguageModel> lm;  // the final weights
  library::HeadCategories categories;
  std::string categories_note;               // e.g. "categorised the heads and wrote ..."
  std::vector<std::pair<int, std::filesystem::path>> checkpoints;  // (step, folder), ascending
  std::shared_ptr<const RoleFormation> formation;  // null: no checkpoints (or formation_error)
  std::string formation_error;
  int n_layers() const { return categories.n_layers; }
  int n_heads() const { return categories.n_heads; }
};

// Loads weights and tokenizer, then the head categories (computed and saved
// the first time, see LoadOrCategorize) and, for a folder with checkpoints,
// the roles over training (role_formation.json, computed if missing).
// `status` is told what is happening ("categorising heads", fraction in
// [0, 1] or -1) and returns false to cancel (CategorizeCancelled).
using LoadStatus = std::function<bool(const std::string& what, float fraction)>;
std::shared_ptr<const LmModel> LoadLmModel(const std::filesystem::path& dir, const LoadStatus& status = {});

// One prompt run through one model (the final weights or a checkpoint).
struct PromptAnalysis {
  std::string prompt;
  bool bos = false;
  int step = -1;                         // checkpoint step; -1: the final weights
  std::vector<int64_t> tokens;
  std::vector<std::string> token_text;   // readable, one per token
  std::vector<float> patterns;           // [n_layers, n_heads, T, T]
  int n_layers = 0, n_heads = 0;
  library::PromptRoles roles;
  std::string error;                     // why the prompt could not be run, in words
  double compute_ms = 0;                 // tokenise + forward + verification
  int T() const { return int(tokens.size()); }
  const float* Head(int layer, int head) const {
    return patterns.data() + (size_t(layer) * n_heads + head) * size_t(T()) * T();
  }
};

// `weights` is model.lm for the final weights or a checkpoint's model; the
// categories are always the final model's (which heads hold which role).
std::shared_ptr<PromptAnalysis> AnalyzePrompt(const LmModel& model, const LanguageModel& weights,
                                              const std::string& prompt, bool bos, int step = -1);

// Runs one prompt at a time on its own thread. Submit replaces whatever is
// queued (a running one finishes first); Latest is the newest finished result.
class PromptWorker {
 public:
  struct Request {
    std::shared_ptr<const LmModel> model;
    std::string prompt;
    bool bos = false;
    int step = -1;    // -1: the final weights; else a step of model->checkpoints
    uint64_t id = 0;  // increasing; the result's id
  };
  PromptWorker();
  ~PromptWorker();
  PromptWorker(const PromptWorker&) = delete;
  PromptWorker& operator=(const PromptWorker&) = delete;

  void Submit(Request r);
  // The newest finished analysis (null before the first) and its request id.
  std::shared_ptr<const PromptAnalysis> Latest(uint64_t* id = nullptr) const;
  bool Busy() const;  // a request queued or running
  // Called on the worker thread after each result (e.g. to wake a UI loop).
  void SetOnResult(std::function<void()> f);
  void Stop();        // finishes the running request, drops the queued one, joins
  // Milliseconds from Submit to the finished result, of the newest result.
  double last_latency_ms() const { return m_last_latency_ms; }
  // Requests computed so far (a request replaced while queued is not).
  uint64_t runs() const { return m_runs; }

 private:
  void Loop();
  mutable std::mutex m_mu;
  std::condition_variable m_cv;
  std::optional<Request> m_next;
  std::chrono::steady_clock::time_point m_next_submitted;
  bool m_running = false, m_stop = false;
  std::shared_ptr<const PromptAnalysis> m_latest;
  uint64_t m_latest_id = 0;
  std::atomic<double> m_last_latency_ms{0};
  std::atomic<uint64_t> m_runs{0};
  std::function<void()> m_on_result;  // guarded by m_mu
  // Checkpoint weights, worker thread only, for the model they belong to.
  std::shared_ptr<const LmModel> m_checkpoints_of;
  std::map<int, std::shared_ptr<LanguageModel>> m_checkpoints;
  std::thread m_thread;  // last: started after every member it uses
};

}  // namespace hs::lm
