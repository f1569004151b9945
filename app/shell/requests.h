// Requests: how panels get data without ever waiting. A request is keyed by
// everything its result depends on (run, analyzer, epoch, parameters, and the
// signature of the file it comes from). Same key as last frame: nothing runs.
// New key: the in-memory store, else a job on the right lane (file reads and
// validation on the pool, forward passes on the model lane), latest wins per
// slot. A failed request remembers its key and its file's signature and is
// retried only when either changes; its error names the file.
//
// The language-model workspace asks through the same object: a model (folder
// and weights signature), a prompt's analysis (model, training step, BOS and
// the prompt's token ids) and the plasticity of every head are typed keys;
// the model and plasticity run on the long lane, prompts on the interactive
// lane (not lowered in priority: the user is typing).
//
// Requests owns the job system, the artifact store and the model caches, and
// declares the job system last so that its workers are joined before
// anything they write into is destroyed.
#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "analyzers/pipeline.h"
#include "families/run_info.h"
#include "jobs/artifact_store.h"
#include "jobs/job_system.h"
#include "library/plasticity.h"
#include "lm/logit_attribution.h"
#include "lm/prompt_analysis.h"
#include "lm/role_checks.h"

namespace hs::app {

// A file's identity for cache keys and retries: size, modification time and
// inode (an atomic rewrite is a new inode even within one mtime tick).
struct FileSig {
  int64_t size = -1;  // -1: the file does not exist
  int64_t mtime_ns = 0;
  uint64_t inode = 0;
  bool exists() const { return size >= 0; }
  bool operator==(const FileSig& o) const { return size == o.size && mtime_ns == o.mtime_ns && inode == o.inode; }
  bool operator!=(const FileSig& o) const { return !(*this == o); }
};
FileSig Signature(const std::filesystem::path& path);

// metrics.csv as the loss panel needs it (parsed off the UI thread).
struct MetricsData {
  std::vector<float> epoch, train_loss, train_acc;
  std::vector<float> test_epoch, test_loss, test_acc;  // the rows where the test set was evaluated
  int grok_epoch = -1;  // library::GrokEpoch
};

// What a running job says it is doing (a model being categorised, a corpus
// being captured): in words, and how far in [0, 1] (-1: unknown).
struct Progress {
  std::string what;
  float fraction = -1;
};

// What a request gives back this frame.
template <class T>
struct Result {
  std::shared_ptr<const T> value;  // the result for exactly this key, or null
  std::string error;               // why it failed (names the file); empty when fine
  bool pending = false;            // a job is working on it
  Progress progress;               // while pending: what the job reports
};

// --- language-model keys -------------------------------------------------------

// A language model's identity: its folder and the signature (names, sizes,
// modification times) of its weight files, config and tokenizer files, so a
// rewritten or repaired model is another key. headscope's own files beside
// them (head_categories.json, ...) are not part of it.
struct LmModelKey {
  std::filesystem::path dir;   // absolute, normalised
  std::string weights;         // lm::WeightsSignature(dir) and the config/tokenizer files' signatures
  // The key of `dir` as it is on disk now (stats the weight files).
  static LmModelKey Of(const std::filesystem::path& dir);
  std::string str() const { return dir.string() + "|" + weights; }
  bool empty() const { return dir.empty(); }
  bool operator==(const LmModelKey& o) const { return dir == o.dir && weights == o.weights; }
  bool operator!=(const LmModelKey& o) const { return !(*this == o); }
};

// One prompt through one model: the model, the training step (-1: final
// weights), BOS, and the prompt's token ids (their count and FNV-1a hash).
struct LmPromptKey {
  LmModelKey model;
  int step = -1;
  bool bos = false;
  size_t n_tokens = 0;
  uint64_t tokens_hash = 0;
  std::string intervention;  // lm::Describe of the heads turned off ("" : none); part of the key
  static uint64_t HashTokens(const std::vector<int64_t>& tokens);
  std::string str() const;
};

// Every head's attention plasticity: the CSVs saved beside the model (read),
// or computed now over the corpus and saved (compute).
struct LmPlasticityKey {
  LmModelKey model;
  bool compute = false;
  std::string str() const { return model.str() + "|plasticity|" + (compute ? "compute" : "read"); }
};
struct LmPlasticity {
  std::vector<library::plasticity::HeadResult> heads;  // empty: no saved CSVs (read)
  std::string warning;  // the CSVs could not be written (names the folder); the results are kept
};
struct LmHeadPattern {
  int layer = -1, head = -1;
  std::vector<float> pattern;  // [T, T]
};
// --- the causal views' results (requests_causal.cpp) ---
// Mean activations of every head and neuron (mean ablation), once per model.
struct LmMeans {
  std::shared_ptr<const lm::ActivationMeans> means;
  std::string note;  // "computed ... and wrote ...", or why they could not be saved
};
// Per-token losses of the prompt, clean and with the heads turned off.
struct LmLosses {
  std::vector<int64_t> tokens;
  std::vector<double> clean;       // [T-1], entry i = -log p(token i+1 | tokens <= i), nats
  std::vector<double> intervened;  // [T-1] with `intervention`; empty when nothing is turned off
  std::string intervention;        // lm::Describe, "" for none
};
// One head ablated at one position, exactly (CleanRun::Losses).
struct LmCellAblation {
  int layer = -1, head = -1, position = -1;
  lm::AblationMode mode = lm::AblationMode::kZero;
  std::vector<double> change;  // [T-1] ablated minus clean loss, nats
  double total = 0;            // summed over the entries: the change of the summed loss
};
// --- what heads write (requests_logits.cpp) ---
// What one head writes at one position, read through the unembedding.
struct LmHeadWrites {
  int layer = -1, head = -1, position = -1;
  lm::HeadPromotes tokens;  // the k tokens it raises most and lowers most
};
using ArtifactResult = Result<io::NpzArchive>;
using MetricsResult = Result<MetricsData>;

// A panel's last shown result: kept while a new key loads (drawn as stale),
// dropped when the run changes, so a panel never shows another run's data.
template <class T>
struct Shown {
  std::shared_ptr<const T> value;
  std::string run;  // run folder the value belongs to
  int epoch = -1;   // epoch it shows (-1 when not per-epoch)
  // Takes `r` for (run, epoch); returns true when what is shown is exactly that.
  bool Update(const Result<T>& r, const std::string& for_run, int for_epoch) {
    if (run != for_run) value.reset(), run = for_run, epoch = -1;
    if (r.value) value = r.value, epoch = for_epoch;
    return value && epoch == for_epoch && r.value;
  }
  bool stale(int for_epoch) const { return !value || epoch != for_epoch; }
};

class Requests {
 public:
  // Workers run at nice +`nice_increment` (the explorer: +19, so that a
  // training run in the window keeps its speed).
  explicit Requests(size_t store_bytes = size_t(768) << 20, int pool_threads = 1, int nice_increment = 0);
  ~Requests();
  Requests(const Requests&) = delete;
  Requests& operator=(const Requests&) = delete;

  // One epoch's artifact of `analyzer`. Read from disk when a valid file
  // exists; computed from the checkpoint on the model lane when it is
  // missing, invalid, or the analyzer is on-demand for the family.
  ArtifactResult Artifact(const std::string& slot, const families::RunInfoPtr& run, const std::string& analyzer,
                          int epoch);
  // artifacts/<analyzer>/summary.npz, validated; re-read when the file
  // changes. value is null when the file does not exist (see `missing`).
  ArtifactResult Summary(const std::string& slot, const families::RunInfoPtr& run, const std::string& analyzer,
                         bool* missing = nullptr);
  // The run's metrics.csv, re-parsed on the pool when it changes.
  MetricsResult Metrics(const std::string& slot, const std::filesystem::path& run_dir);

  // The language model of `key`: opened, its heads categorised (the first
  // time; written beside the weights), its roles over training. Long lane;
  // progress says which stage. Slot "lm_model".
  Result<lm::LmModel> LmModel(const LmModelKey& key);
  // `prompt` (encoded as key's tokens) through `model` at key.step.
  // Interactive lane, slot "lm_prompt": a newer prompt replaces a queued one and cancels
  // a running one, so a burst of edits runs the last one.
  // `head`: the selected head, whose full pattern the analysis keeps. The
  // previous analysis's keys and values are reused for the shared prefix.
  Result<lm::PromptAnalysis> LmPrompt(const std::shared_ptr<const lm::LmModel>& model, const LmPromptKey& key,
                                      const std::string& prompt, const std::vector<int64_t>& tokens,
                                      std::pair<int, int> head = {-1, -1},
                                      std::shared_ptr<const lm::Intervention> intervention = nullptr);
  // One head's full pattern on the analysed prompt (the analysis keeps only
  // the head selected when it ran). Slot "lm_head", interactive lane.
  Result<LmHeadPattern> HeadPattern(const std::shared_ptr<const lm::LmModel>& model, const LmPromptKey& key,
                                    const std::vector<int64_t>& tokens, int layer, int head,
                                    std::shared_ptr<const lm::Intervention> intervention = nullptr);
  // The plasticity CSVs of `model` (read on the pool), or computed over the
  // default corpus and saved (long lane). Slot "lm_plasticity".
  Result<LmPlasticity> Plasticity(const std::shared_ptr<const lm::LmModel>& model, const LmPlasticityKey& key);
  // --- does a head matter? (requests_causal.cpp) ---
  // Each head's and neuron's mean output (lm::LoadOrComputeMeans: read from
  // beside the model, else computed and saved). Long lane, slot "lm_means".
  Result<LmMeans> Means(const std::shared_ptr<const lm::LmModel>& model, const LmModelKey& key);
  // The prompt's per-token losses, clean and with `intervention` (null or
  // empty: clean only). Interactive lane, slot "lm_losses"; the clean forward
  // is kept for the next intervention and CellAblation on the same tokens.
  Result<LmLosses> TokenLosses(const std::shared_ptr<const lm::LmModel>& model, const LmPromptKey& key,
                               const std::vector<int64_t>& tokens, std::shared_ptr<const lm::Intervention> intervention);
  // Head (layer, head) ablated at one token position only. Interactive lane, slot "lm_cell".
  Result<LmCellAblation> CellAblation(const std::shared_ptr<const lm::LmModel>& model, const LmPromptKey& key,
                                      const std::vector<int64_t>& tokens, int layer, int head, int position,
                                      lm::AblationMode mode, std::shared_ptr<const lm::ActivationMeans> means);
  // lm::CheckRoles on the final weights with every head on: `clean` gives
  // the roles when it is this prompt's analysis without heads turned off,
  // else the job analyses the prompt first. Long lane, slot "lm_checks".
  Result<lm::CausalChecks> Checks(const std::shared_ptr<const lm::LmModel>& model, const LmPromptKey& key,
                                  const std::string& prompt, const std::vector<int64_t>& tokens,
                                  std::shared_ptr<const lm::PromptAnalysis> clean,
                                  std::shared_ptr<const lm::ActivationMeans> means);
  // Head (layer, head)'s pattern with every head on (beside the pattern
  // with heads turned off). Interactive lane, slot "lm_clean_head".
  Result<LmHeadPattern> CleanHeadPattern(const std::shared_ptr<const lm::LmModel>& model, const LmPromptKey& key,
                                         const std::vector<int64_t>& tokens, int layer, int head);
  // lm::PatchActivations (final weights). Long lane, slot "lm_patch".
  Result<lm::PatchResult> Patch(const std::shared_ptr<const lm::LmModel>& model, const LmModelKey& key,
                                const std::vector<int64_t>& clean, const std::vector<int64_t>& corrupt,
                                int64_t answer, int64_t wrong);
  // --- what heads write (requests_logits.cpp): the prompt's tokens at
  // key.step (every head on), interactive lane, latest wins per slot ---
  // Direct logit attribution of every component at every position: of the
  // next token (target < 0), or of logit(target) - logit(wrong) (both >= 0).
  // Slot "lm_dla".
  Result<lm::LogitAttribution> Dla(const std::shared_ptr<const lm::LmModel>& model, const LmPromptKey& key,
                                   const std::vector<int64_t>& tokens, int64_t target = -1, int64_t wrong = -1);
  // The logit lens around `position` (lm::ComputeLogitLens). Slot "lm_lens".
  Result<lm::LogitLens> Lens(const std::shared_ptr<const lm::LmModel>& model, const LmPromptKey& key,
                             const std::vector<int64_t>& tokens, int position, int k = 8);
  // What head (layer, head) promotes and suppresses at `position`. Slot "lm_writes".
  Result<LmHeadWrites> HeadWrites(const std::shared_ptr<const lm::LmModel>& model, const LmPromptKey& key,
                                  const std::vector<int64_t>& tokens, int layer, int head, int position, int k = 10);
  // Stops a slot's job (queued or running) and forgets its key.
  void Cancel(const std::string& slot);
  // Called on a worker thread whenever a job finishes (the window wakes its
  // frame loop with it).
  void SetOnFinish(std::function<void()> f);

  // Warms the store with these epochs' artifacts on a low-priority slot
  // (the user holds still; neighbouring epochs are the likely next move).
  void Prefetch(const families::RunInfoPtr& run, const std::string& analyzer, const std::vector<int>& epochs);

  bool Busy() const;  // any job queued or running
  jobs::JobSystem& jobs() { return m_jobs; }
  jobs::ArtifactStore& store() { return m_store; }
  // Stops and joins every worker; later requests return pending forever.
  void Shutdown() { m_jobs.Shutdown(); }

  // The store key of one epoch's artifact as things are on disk now: run,
  // analyzer, epoch and the signature of the file it comes from.
  static std::string ArtifactKey(const families::RunInfo& run, const std::string& analyzer, int epoch);

 private:
  struct SlotState {
    std::string key;    // the key the slot asked for last (includes its file's signature)
    std::string error;  // set when that request failed
    bool inflight = false;
    Progress progress;  // what its running job reports
  };
  // The computed values of the language-model requests: the latest `keep`
  // per slot (the one shown and, for prompts, the one before), by key.
  using AnyValue = std::shared_ptr<const void>;
  using Report = std::function<bool(const std::string& what, float fraction)>;  // false: cancelled
  // `keep`: how many computed values the slot holds (a model: one, since
  // the next one may be as large as the machine's memory allows).
  AnyValue ComputeAny(const std::string& slot, const std::string& key, jobs::Lane lane, size_t keep,
                      std::function<AnyValue(const Report&)> compute, std::string* error, bool* pending,
                      Progress* progress);
  template <class T>
  Result<T> Compute(const std::string& slot, const std::string& key, jobs::Lane lane, size_t keep,
                    std::function<std::shared_ptr<const T>(const Report&)> compute) {
    Result<T> r;
    r.value = std::static_pointer_cast<const T>(ComputeAny(
        slot, key, lane, keep, [compute](const Report& report) -> AnyValue { return compute(report); }, &r.error,
        &r.pending, &r.progress));
    return r;
  }
  struct Source {
    std::filesystem::path path;  // the artifact file, or the checkpoint it is computed from
    bool on_disk = false;        // read (pool) rather than computed (model lane)
    FileSig sig;
  };
  static Source ArtifactSourceOf(const families::RunInfo& run, const std::string& analyzer, int epoch);
  static std::string KeyOf(const families::RunInfo& run, const std::string& analyzer, int epoch, const Source& s);
  // True when the slot must submit a job for `key`: the key differs from the
  // slot's last one (a changed file changes the key), or that request
  // succeeded but its result was evicted. Otherwise fills *r with the slot's
  // pending flag or error.
  template <class T>
  bool ShouldSubmit(const std::string& slot, const std::string& key, Result<T>* r);
  void Finish(const std::string& slot, const std::string& key, const std::string& error);
  void SubmitCompute(const std::string& slot, const std::string& key, const families::RunInfoPtr& run,
                     const std::string& analyzer, int epoch);

  mutable std::mutex m_mu;
  std::map<std::string, SlotState> m_slots;                                // guarded by m_mu
  std::map<std::string, std::shared_ptr<const MetricsData>> m_metrics;     // key -> parsed; guarded by m_mu
  std::map<std::string, std::vector<std::pair<std::string, AnyValue>>> m_values;  // slot -> (key, value), newest last; m_mu
  std::function<void()> m_on_finish;                                       // guarded by m_mu
  // A checkpoint's weights for the prompts of the demo LM's training steps
  // (model key + step). Used only on the interactive lane's thread.
  std::string m_step_key;
  std::shared_ptr<const lm::LanguageModel> m_step_weights;
  const lm::LanguageModel& WeightsFor(const lm::LmModel& model, const LmPromptKey& key);
  // The prompt's keys and values and its last analysis, for the next edit
  // (interactive lane).
  std::shared_ptr<lm::PromptCache> m_prompt_cache = lm::NewPromptCache();
  std::shared_ptr<const lm::PromptAnalysis> m_last_prompt;
  // The clean forward of the prompt last asked for losses (interactive lane
  // only): the weights it runs on, declared first so they outlive it.
  std::string m_clean_key;
  std::shared_ptr<const lm::LanguageModel> m_clean_weights;
  std::shared_ptr<const lm::CleanRun> m_clean_run;
  const lm::CleanRun& CleanRunFor(const std::shared_ptr<const lm::LmModel>& model, const LmPromptKey& key,
                                  const std::vector<int64_t>& tokens);
  jobs::ArtifactStore m_store;
  // The current epoch and its prefetched neighbours (26-80 MB each at p=113).
  // Used only on the model lane's thread.
  std::unique_ptr<analyzers::ModelCache> m_models;
  jobs::JobSystem m_jobs;                            // last: destroyed (joined) first
};

}  // namespace hs::app
