// Requests: how panels get data without ever waiting. A request is keyed by
// everything its result depends on (run, analyzer, epoch, parameters, and the
// signature of the file it comes from). Same key as last frame: nothing runs.
// New key: the in-memory store, else a job on the right lane (file reads and
// validation on the pool, forward passes on the model lane), latest wins per
// slot. A failed request remembers its key and its file's signature and is
// retried only when either changes; its error names the file.
//
// Requests owns the job system, the artifact store and the model cache, and
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

// What a request gives back this frame.
template <class T>
struct Result {
  std::shared_ptr<const T> value;  // the result for exactly this key, or null
  std::string error;               // why it failed (names the file); empty when fine
  bool pending = false;            // a job is working on it
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
  // Workers run at nice +`nice_increment` (the explorer: +10, so that a
  // training run in the window keeps its speed).
  explicit Requests(size_t store_bytes = size_t(768) << 20, int pool_threads = 1, int nice_increment = 0);
  ~Requests();
  Requests(const Requests&) = delete;
  Requests& operator=(const Requests&) = delete;

  // One epoch's artifact of `analyzer`. Read from disk when a valid file
  // exists; computed from the checkpoint on the model lane when it is
  // missing, invalid, or the analyzer is on-demand for the family.
  // `params` are part of the key (e.g. a position pair).
  ArtifactResult Artifact(const std::string& slot, const families::RunInfoPtr& run, const std::string& analyzer,
                          int epoch);
  // artifacts/<analyzer>/summary.npz, validated; re-read when the file
  // changes. value is null when the file does not exist (see `missing`).
  ArtifactResult Summary(const std::string& slot, const families::RunInfoPtr& run, const std::string& analyzer,
                         bool* missing = nullptr);
  // The run's metrics.csv, re-parsed on the pool when it changes.
  MetricsResult Metrics(const std::string& slot, const std::filesystem::path& run_dir);

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
  };
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
  jobs::ArtifactStore m_store;
  // The current epoch and its prefetched neighbours (26-80 MB each at p=113).
  // Used only on the model lane's thread.
  std::unique_ptr<analyzers::ModelCache> m_models;
  jobs::JobSystem m_jobs;                            // last: destroyed (joined) first
};

}  // namespace hs::app
