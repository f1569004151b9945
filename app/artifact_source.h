// Where panels get artifacts: the in-memory store first; on a miss a
// background job reads the .npz (pool lane) or, when the file does not exist
// yet, computes it from the checkpoint (model lane). Latest wins per slot.
#pragma once

#include <filesystem>
#include <map>
#include <mutex>
#include <set>
#include <string>

#include "jobs/artifact_store.h"
#include "jobs/job_system.h"

namespace hs::app {

class ArtifactSource {
 public:
  ArtifactSource(jobs::JobSystem& jobs, jobs::ArtifactStore& store) : m_jobs(jobs), m_store(store) {}

  // One epoch's artifact, or nullptr while it loads (then call again next frame).
  jobs::ArtifactPtr Request(const std::string& slot, const std::filesystem::path& run, const std::string& analyzer,
                            int epoch);
  // artifacts/<analyzer>/summary.npz; re-read when the file changes on disk.
  // nullptr while loading or when it does not exist (see SummaryMissing).
  jobs::ArtifactPtr RequestSummary(const std::string& slot, const std::filesystem::path& run,
                                   const std::string& analyzer);
  bool SummaryMissing(const std::filesystem::path& run, const std::string& analyzer) const;

  // The last error for this analyzer/epoch (empty when none).
  std::string Error(const std::filesystem::path& run, const std::string& analyzer, int epoch) const;

  static std::string Key(const std::filesystem::path& run, const std::string& analyzer, int epoch);

 private:
  void SetError(const std::string& key, const std::string& msg);
  jobs::JobSystem& m_jobs;
  jobs::ArtifactStore& m_store;
  mutable std::mutex m_mu;
  std::map<std::string, std::string> m_errors;   // key -> message
  std::set<std::string> m_inflight;              // keys with a job submitted
  std::map<std::string, std::filesystem::file_time_type> m_summary_mtime;
};

}  // namespace hs::app
