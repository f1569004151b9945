// ArtifactSource (see artifact_source.h).
#include "artifact_source.h"

#include "analyzers/pipeline.h"
#include "io/run_dir.h"

namespace hs::app {
namespace fs = std::filesystem;

std::string ArtifactSource::Key(const fs::path& run, const std::string& analyzer, int epoch) {
  return run.string() + "|" + analyzer + "|" + std::to_string(epoch);
}

void ArtifactSource::SetError(const std::string& key, const std::string& msg) {
  std::lock_guard<std::mutex> lock(m_mu);
  m_errors[key] = msg;
}

std::string ArtifactSource::Error(const fs::path& run, const std::string& analyzer, int epoch) const {
  std::lock_guard<std::mutex> lock(m_mu);
  auto it = m_errors.find(Key(run, analyzer, epoch));
  return it == m_errors.end() ? std::string() : it->second;
}

jobs::ArtifactPtr ArtifactSource::Request(const std::string& slot, const fs::path& run, const std::string& analyzer,
                                          int epoch) {
  const std::string key = Key(run, analyzer, epoch);
  if (auto hit = m_store.Get(key)) return hit;
  {
    std::lock_guard<std::mutex> lock(m_mu);
    if (m_errors.count(key)) return nullptr;
    if (m_inflight.count(slot + "|" + key)) return nullptr;  // already asked for exactly this
    for (auto it = m_inflight.begin(); it != m_inflight.end();)  // the slot's older request is superseded
      it = it->rfind(slot + "|", 0) == 0 ? m_inflight.erase(it) : std::next(it);
    m_inflight.insert(slot + "|" + key);
  }
  const bool on_disk = fs::exists(io::RunPaths{run}.Artifact(analyzer, epoch));
  auto task = [this, slot, run, analyzer, epoch, key, on_disk](const jobs::CancelToken& token) {
    try {
      io::NpzArchive a;
      if (on_disk) {
        try {
          a = analyzers::ReadValidArtifact(run, analyzer, epoch);
        } catch (const io::IoError&) {  // corrupt: recompute rather than show it
          a = analyzers::ComputeArtifact(run, analyzer, epoch);
        }
      } else {
        a = analyzers::ComputeArtifact(run, analyzer, epoch);
      }
      (void)token;  // a superseded result is still worth caching
      m_store.Put(key, std::make_shared<const io::NpzArchive>(std::move(a)));
    } catch (const std::exception& e) {
      SetError(key, e.what());
    }
    std::lock_guard<std::mutex> lock(m_mu);
    m_inflight.erase(slot + "|" + key);
  };
  m_jobs.Submit(slot, on_disk ? jobs::Lane::Pool : jobs::Lane::Model, task);
  return nullptr;
}

bool ArtifactSource::SummaryMissing(const fs::path& run, const std::string& analyzer) const {
  return !fs::exists(io::RunPaths{run}.ArtifactsDir(analyzer) / "summary.npz");
}

jobs::ArtifactPtr ArtifactSource::RequestSummary(const std::string& slot, const fs::path& run,
                                                 const std::string& analyzer) {
  const fs::path path = io::RunPaths{run}.ArtifactsDir(analyzer) / "summary.npz";
  const std::string key = run.string() + "|" + analyzer + "|summary";
  std::error_code ec;
  const auto mtime = fs::last_write_time(path, ec);
  if (ec) return m_store.Get(key);  // not there (yet): keep showing what we had, if anything
  {
    std::lock_guard<std::mutex> lock(m_mu);
    auto it = m_summary_mtime.find(key);
    const bool fresh = it != m_summary_mtime.end() && it->second == mtime;
    if (fresh || m_inflight.count(key)) return m_store.Get(key);
    m_inflight.insert(key);
    m_summary_mtime[key] = mtime;
  }
  m_jobs.Submit(slot, jobs::Lane::Pool, [this, path, key](const jobs::CancelToken&) {
    try {
      m_store.Put(key, std::make_shared<const io::NpzArchive>(io::ReadNpz(path)));
    } catch (const std::exception& e) {
      SetError(key, e.what());
    }
    std::lock_guard<std::mutex> lock(m_mu);
    m_inflight.erase(key);
  });
  return m_store.Get(key);
}

}  // namespace hs::app
