// Runs a family's analyzers over a run's checkpoints: one forward pass per
// checkpoint shared by every analyzer, worker threads, resumable, atomic
// writes, then summary.npz per analyzer. Can follow a run still training.
// A manifest (artifacts/manifest.json) records every validated artifact with
// its size and mtime and its checkpoint's, so a pass finds work by stat only.
// Also the explorer's on-demand path (ModelCache) and validated readers.
// Torch-free interface for the CLI and the app.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "families/run_info.h"
#include "io/npz.h"
#include "jobs/cancelled.h"

namespace hs::analyzers {

using StopFn = std::function<bool()>;

struct AnalyzeOptions {
  // Empty: the family's analyzers (family.json "analyzers") except its
  // "on_demand" ones, which the explorer computes from checkpoints when
  // viewed (neuron_activations: 26 MB per checkpoint at p=113). Name them
  // here to write them anyway.
  std::vector<std::string> analyzers;
  int threads = 2;                     // checkpoints analysed in parallel
  bool follow = false;                 // keep watching for new checkpoints
  double follow_poll_seconds = 2.0;
  // With follow: stop once the run's final epoch (config.json) is analysed
  // and no checkpoint has appeared for this long.
  double follow_idle_exit_seconds = 30.0;
  // With follow, live beside a trainer (the explorer): > 0 caps the share of
  // one core the passes take (a pass that used c seconds of CPU and took w
  // seconds is followed by a pause of c / follow_duty - w; runs with
  // threads = 1, on the calling thread); each pass then analyses only the
  // newest checkpoint that needs work, and the run-level analyzers
  // (progress_measures) are recomputed over the checkpoints analysed so far
  // with the key frequencies found so far. The rest is for a full pass later.
  double follow_duty = 0;
};

struct AnalyzeProgress {
  std::string phase;        // empty: per-checkpoint analyzers; else the run-level analyzer's name
  int done = 0, total = 0;  // checkpoints
  int epoch = -1;           // last epoch finished
  double ms_per_checkpoint = 0;
};

struct AnalyzeReport {
  int analysed = 0;   // checkpoints whose artifacts were computed
  int skipped = 0;    // checkpoints whose artifacts were all present and valid
  std::vector<std::string> warnings;  // corrupt artifacts recomputed, unreadable checkpoints
  // What the passes did (for tests and timing): per-epoch artifacts read to
  // validate them (not counting summary inputs), summaries written.
  int artifacts_validated = 0;
  int summaries_written = 0;
  int passes = 0;
};

// The analyzers a family lists in its family.json (on-demand ones included).
// Falls back to every analyzer.
std::vector<std::string> FamilyAnalyzers(const std::filesystem::path& run_dir);
// The ones AnalyzeRun writes by default: FamilyAnalyzers minus "on_demand".
std::vector<std::string> StoredAnalyzers(const families::RunInfo& run);

// Throws io::IoError for a missing or unreadable run folder, and for a run
// folder it cannot write to (naming the path and what to do). A checkpoint
// that cannot be analysed (any error) becomes a warning naming it.
// `should_stop` is checked between checkpoints and passes.
AnalyzeReport AnalyzeRun(const std::filesystem::path& run_dir, const AnalyzeOptions& opt,
                         const std::function<void(const AnalyzeProgress&)>& on_progress = {},
                         const StopFn& should_stop = {});

// Explicit model + forward-pass reuse for on-demand analysis. Keyed by
// checkpoint (path, size, mtime); keeps the last `max_models` models and
// their ActivationCaches. Not thread-safe: one owner thread (the explorer's
// model lane). Torch stays in the .cpp (pimpl).
// For a 1-layer run the forward is families::ModAddFastForward (patterns, and
// the MLP at the last position when an analyzer reads neurons), not the
// general forward: ~27 ms instead of ~135 ms for the head grid at p=113.
// AnalyzeRun always uses the general forward, so stored artifacts do not
// depend on which analyzers a pass held.
class ModelCache {
 public:
  explicit ModelCache(int max_models = 2);
  ~ModelCache();
  ModelCache(const ModelCache&) = delete;
  ModelCache& operator=(const ModelCache&) = delete;
  // One analyzer's artifact for one epoch computed from its checkpoint now
  // (no files written). Checks `cancelled` between phases (checkpoint load,
  // forward, analyze) and throws Cancelled. Throws io::IoError naming the
  // checkpoint when it is missing or unreadable.
  io::NpzArchive Compute(const families::RunInfo& run, const std::string& analyzer, int epoch,
                         const StopFn& cancelled = {});
  void Clear();
  // Forward passes run so far (general or attention-only fast path), and of
  // those the fast path; checkpoint loads. For tests and benchmarks.
  int64_t forward_passes() const;
  int64_t fast_passes() const;
  int64_t checkpoint_loads() const;
  // Off by default only in benchmarks and tests that compare both paths.
  void set_fast_path(bool enabled);

 private:
  struct Impl;
  std::unique_ptr<Impl> m;
};

// Reads artifacts/<analyzer>/epoch_N.npz and checks it holds the analyzer's
// documented keys, dtypes and shapes for this run; throws io::IoError naming
// the file and what is wrong otherwise.
io::NpzArchive ReadValidArtifact(const families::RunInfo& run, const std::string& analyzer, int epoch);

// Reads artifacts/<analyzer>/summary.npz and validates it fully: every
// documented key present, dtypes, shapes consistent with the run and with
// len(epochs), values finite, fractions in [0,1], dominant k in [1, n_freq],
// epochs non-negative and strictly ascending. Throws io::IoError naming the
// file and what is wrong ("...summary.npz: 'dominant_freq_per_head' has 3
// rows but 'epochs' has 5").
io::NpzArchive ReadValidSummary(const families::RunInfo& run, const std::string& analyzer);

// run_dir-based wrappers (load the RunInfo each call; tests, bench, CLI).
// ComputeArtifact uses one ModelCache per calling thread.
io::NpzArchive ComputeArtifact(const std::filesystem::path& run_dir, const std::string& analyzer, int epoch);
io::NpzArchive ReadValidArtifact(const std::filesystem::path& run_dir, const std::string& analyzer, int epoch);

}  // namespace hs::analyzers
