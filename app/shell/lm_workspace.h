// The language-model workspace: a model (the demo LM by default, or any
// Hugging Face folder), a prompt box with suggested prompts, a training-step
// slider for models with checkpoints, and the registered LanguageModel
// panels in tabs. Nothing slow runs on the UI thread and the workspace owns
// no thread: opening a model, each prompt edit and the plasticity of every
// head are requests (requests.h) keyed by the model's folder and weights,
// the step, BOS and the prompt's token ids; latest wins, and the previous
// result is drawn stale while the next one computes.
//
// Heads turned off (a head's right-click menu in any LM view; the chips
// under the prompt) apply to every view: the prompt's request is keyed by
// them too. Under the prompt, the per-token loss with and without them;
// after each analysis, the causal checks of the roles (the badges' third
// state, the Head effects panel) run on the long lane.
#pragma once

#include <filesystem>
#include <future>
#include <memory>
#include <string>
#include <vector>

#include "lm_view.h"
#include "requests.h"
#include "workspace.h"

namespace hs::app {

struct LmOptions {
  std::string model;   // open this model folder first (empty: the remembered one, else the demo LM)
  std::string prompt;  // the prompt (empty: a prompt with repetition)
  std::string head;    // selected head "LAYER,HEAD" (default: the best induction head)
  int step = -1;       // training checkpoint step (-1: final weights)
  bool open_picker = false;  // draw the model picker open (screenshots of it)
};

// The next LM workspace's attention views start without the sink
// (`headscope shot --no-sink`).
void SetLmStartWithoutSink(bool on);

// Heads the next LM workspace starts with turned off (`headscope shot
// --off`): checked against the model once it is loaded.
void SetLmStartOff(std::vector<std::pair<int, int>> heads, lm::AblationMode mode);

class LmWorkspace : public Workspace {
 public:
  LmWorkspace(LmOptions opt, Requests& requests);

  // Asks for a model folder (loaded, and categorised the first time, in the
  // background). The previous model's results are not shown from now on.
  void OpenModel(const std::filesystem::path& dir);
  void SetPrompt(const std::string& prompt);
  // The model opened when the workspace is first shown, unless the options name one.
  void SetStartModel(const std::filesystem::path& dir) { m_start_model = dir; }
  void SelectHead(int layer, int head);  // checked against the model when it is loaded
  // -1: final weights; else the nearest checkpoint at or after `step`.
  void SelectStep(int step);
  // Heads turned off in every view (one mode for all: turning a head off
  // in another mode switches them all), and back on.
  void TurnOff(int layer, int head, lm::AblationMode mode);
  void TurnOn(int layer, int head);
  void TurnAllOn();

  const char* name() const override { return "Language models"; }
  void Update() override;
  std::vector<std::string> Warnings() const override;
  nlohmann::json SaveState() const override;

  const LmView& view() const { return m_view; }

 protected:
  void DrawBars() override;
  ViewContext Context() const override;
  void Apply(const PanelOutput& out) override;
  bool WaitingSelf() const override;
  void AppendErrors(std::vector<std::string>& out) const override;

 private:
  void DrawTopBar();
  void DrawPromptBar();
  void Adopt(std::shared_ptr<const lm::LmModel> model);
  // This frame's prompt request (encodes the prompt when it changed).
  void RequestPrompt();
  void RequestPlasticity();
  // The heads turned off as an intervention (null: none, or mean ablation
  // still waiting for the means).
  std::shared_ptr<const lm::Intervention> CurrentIntervention();
  // Means, per-token losses and causal checks of the prompt shown.
  void RequestCausal();
  void DrawOffChips();
  void DrawLossStrip();

  const LmOptions m_opt;
  Requests& m_requests;
  LmView m_view;
  std::string m_prompt;
  LmPromptKey m_analysis_key;        // the key m_view.analysis was computed for
  char m_text_path[1024] = {};       // "Load text" file
  std::string m_text_error;
  bool m_bos = true, m_bos_user = false;
  int m_wanted_step = -1;
  std::pair<int, int> m_wanted_head{-1, -1};
  char m_path_input[1024] = {};
  std::filesystem::path m_start_model;
  std::vector<std::filesystem::path> m_recent;
  // The Hugging Face cache as the picker lists it (read when the picker first
  // opens, and on Refresh): each model, its size and whether it loads.
  struct CachedEntry {
    std::string repo_id, revision, model_type, size, problem;
    std::filesystem::path snapshot;
  };
  struct CacheListing {
    std::string dir, how;  // the cache folder and the rule that chose it
    std::vector<CachedEntry> entries;
  };
  static CacheListing ReadCache();  // stats and config.json parses: run in the background
  std::future<CacheListing> m_cache_job;
  CacheListing m_cache;
  bool m_cache_listed = false;
  std::string m_open_error;  // a folder or hub id typed in the picker that did not resolve
  LmModelKey m_model_key;             // the model asked for
  // The prompt as encoded for the request key: re-encoded when the text,
  // BOS or model changes (a tokenizer pass, ~1 ms per KB of text).
  std::string m_encoded_text, m_encoded_for, m_encode_error;
  bool m_encoded_bos = false;
  std::vector<int64_t> m_tokens;
  std::string m_analysis_model;       // the model key m_view.analysis belongs to
  enum class PlasticityWant { Saved, Compute, Nothing };
  PlasticityWant m_plasticity_want = PlasticityWant::Saved;
  std::vector<std::pair<int, int>> m_start_off;  // --off, applied to the first model loaded
  std::shared_ptr<const lm::Intervention> m_intervention;  // built from m_view.off_heads
  std::string m_checks_asked;                    // the prompt the checks were last asked for
  std::shared_ptr<const LmLosses> m_loss_labels_for;
  std::vector<std::string> m_loss_labels;        // the predicted token of each loss entry
};

}  // namespace hs::app
