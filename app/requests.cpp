// Requests (see requests.h).
#include "requests.h"

#include <sys/stat.h>

#include <algorithm>

#include "io/run_dir.h"
#include "library/frequency_stats.h"

namespace hs::app {
namespace fs = std::filesystem;

FileSig Signature(const fs::path& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return {};
  return {int64_t(st.st_size), int64_t(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec, uint64_t(st.st_ino)};
}

namespace {
std::string SigString(const FileSig& s) {
  return std::to_string(s.size) + ":" + std::to_string(s.mtime_ns) + ":" + std::to_string(s.inode);
}
bool Contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}
}  // namespace

Requests::Requests(size_t store_bytes, int pool_threads, int nice_increment)
    : m_store(store_bytes),
      m_models(std::make_unique<analyzers::ModelCache>(4)),
      m_jobs(pool_threads, nice_increment) {}

Requests::~Requests() { m_jobs.Shutdown(); }

bool Requests::Busy() const { return m_jobs.Pending() + m_jobs.Running() > 0; }

Requests::Source Requests::ArtifactSourceOf(const families::RunInfo& run, const std::string& analyzer, int epoch) {
  const io::RunPaths paths{run.dir};
  Source s;
  if (!Contains(run.on_demand, analyzer)) {
    s.path = paths.Artifact(analyzer, epoch);
    s.sig = Signature(s.path);
    s.on_disk = s.sig.exists();
  }
  if (!s.on_disk) {
    s.path = paths.Checkpoint(epoch);
    s.sig = Signature(s.path);
  }
  return s;
}

std::string Requests::ArtifactKey(const families::RunInfo& run, const std::string& analyzer, int epoch) {
  const Source s = ArtifactSourceOf(run, analyzer, epoch);
  return KeyOf(run, analyzer, epoch, s);
}

std::string Requests::KeyOf(const families::RunInfo& run, const std::string& analyzer, int epoch, const Source& s) {
  return run.dir.string() + "|" + analyzer + "|" + std::to_string(epoch) + "|" + (s.on_disk ? "file:" : "ckpt:") +
         SigString(s.sig);
}

template <class T>
bool Requests::ShouldSubmit(const std::string& slot, const std::string& key, Result<T>* r) {
  std::lock_guard<std::mutex> lock(m_mu);
  SlotState& s = m_slots[slot];
  if (s.key == key) {
    if (s.inflight) {
      r->pending = true;
      return false;
    }
    if (!s.error.empty()) {  // failed for this key and this file: wait for either to change
      r->error = s.error;
      return false;
    }
  }
  s.key = key;
  s.error.clear();
  s.inflight = true;
  r->pending = true;
  return true;
}

void Requests::Finish(const std::string& slot, const std::string& key, const std::string& error) {
  std::lock_guard<std::mutex> lock(m_mu);
  SlotState& s = m_slots[slot];
  if (s.key != key) return;  // superseded: the newer request owns the slot
  s.inflight = false;
  s.error = error;
}

void Requests::SubmitCompute(const std::string& slot, const std::string& key, const families::RunInfoPtr& run,
                             const std::string& analyzer, int epoch) {
  m_jobs.CancelSlot("prefetch");  // interactive work first
  m_jobs.Submit(slot, jobs::Lane::Model, [this, slot, key, run, analyzer, epoch](const jobs::CancelToken& token) {
    std::string error;
    try {
      io::NpzArchive a = m_models->Compute(*run, analyzer, epoch, [&token] { return token.cancelled(); });
      m_store.Put(key, std::make_shared<const io::NpzArchive>(std::move(a)));
    } catch (const analyzers::Cancelled&) {  // superseded; nothing to report
    } catch (const std::exception& e) {
      error = e.what();
    }
    Finish(slot, key, error);
  });
}

ArtifactResult Requests::Artifact(const std::string& slot, const families::RunInfoPtr& run,
                                  const std::string& analyzer, int epoch) {
  ArtifactResult r;
  if (!run) return r;
  const Source src = ArtifactSourceOf(*run, analyzer, epoch);
  const std::string key = KeyOf(*run, analyzer, epoch, src);
  if ((r.value = m_store.Get(key))) {
    Finish(slot, key, "");
    return r;
  }
  if (!src.on_disk && !src.sig.exists()) {
    r.error = src.path.string() + ": checkpoint not found";
    return r;
  }
  if (!ShouldSubmit(slot, key, &r)) return r;
  if (!src.on_disk) {
    SubmitCompute(slot, key, run, analyzer, epoch);
    return r;
  }
  // On disk: read and validate on the pool; a file that fails validation is
  // reported and recomputed from the checkpoint on the model lane.
  m_jobs.Submit(slot, jobs::Lane::Pool, [this, slot, key, run, analyzer, epoch](const jobs::CancelToken& token) {
    try {
      io::NpzArchive a = analyzers::ReadValidArtifact(*run, analyzer, epoch);
      m_store.Put(key, std::make_shared<const io::NpzArchive>(std::move(a)));
      Finish(slot, key, "");
    } catch (const io::IoError& e) {
      std::fprintf(stderr, "headscope: %s; computing it from the checkpoint instead\n", e.what());
      // Queue the compute only while the slot still wants this key, and
      // under m_mu: a newer request then queues after it and replaces it,
      // instead of this Submit dropping the newer request's queued job.
      std::lock_guard<std::mutex> lock(m_mu);
      auto it = m_slots.find(slot);
      if (token.cancelled() || it == m_slots.end() || it->second.key != key) return;  // superseded
      SubmitCompute(slot, key, run, analyzer, epoch);
    } catch (const std::exception& e) {
      Finish(slot, key, e.what());
    }
  });
  return r;
}

ArtifactResult Requests::Summary(const std::string& slot, const families::RunInfoPtr& run,
                                 const std::string& analyzer, bool* missing) {
  ArtifactResult r;
  if (missing) *missing = false;
  if (!run) return r;
  const fs::path path = io::RunPaths{run->dir}.ArtifactsDir(analyzer) / "summary.npz";
  const FileSig sig = Signature(path);
  if (!sig.exists()) {
    if (missing) *missing = true;
    return r;
  }
  const std::string key = run->dir.string() + "|" + analyzer + "|summary|" + SigString(sig);
  if ((r.value = m_store.Get(key))) return r;
  if (!ShouldSubmit(slot, key, &r)) return r;
  m_jobs.Submit(slot, jobs::Lane::Pool, [this, slot, key, run, analyzer](const jobs::CancelToken&) {
    std::string error;
    try {
      m_store.Put(key, std::make_shared<const io::NpzArchive>(analyzers::ReadValidSummary(*run, analyzer)));
    } catch (const std::exception& e) {
      error = e.what();
    }
    Finish(slot, key, error);
  });
  return r;
}

MetricsResult Requests::Metrics(const std::string& slot, const fs::path& run_dir) {
  MetricsResult r;
  const fs::path path = io::RunPaths{run_dir}.Metrics();
  const FileSig sig = Signature(path);
  if (!sig.exists()) return r;
  const std::string key = run_dir.string() + "|metrics|" + SigString(sig);
  {
    std::lock_guard<std::mutex> lock(m_mu);
    auto it = m_metrics.find(key);
    if (it != m_metrics.end()) {
      r.value = it->second;
      return r;
    }
  }
  if (!ShouldSubmit(slot, key, &r)) return r;
  m_jobs.Submit(slot, jobs::Lane::Pool, [this, slot, key, path, run_dir](const jobs::CancelToken&) {
    std::string error;
    try {
      auto m = std::make_shared<MetricsData>();
      for (const auto& row : io::ReadMetricsCsv(path)) {
        m->epoch.push_back(float(row.epoch));
        m->train_loss.push_back(float(row.train_loss));
        m->train_acc.push_back(float(row.train_acc));
        if (row.test_epoch != row.epoch) continue;
        m->test_epoch.push_back(float(row.epoch));
        m->test_loss.push_back(float(row.test_loss));
        m->test_acc.push_back(float(row.test_acc));
      }
      m->grok_epoch = library::GrokEpoch(m->test_epoch, m->test_acc);
      std::lock_guard<std::mutex> lock(m_mu);
      const std::string prefix = run_dir.string() + "|metrics|";
      for (auto it = m_metrics.begin(); it != m_metrics.end();)  // keep one version per run
        it = it->first.rfind(prefix, 0) == 0 ? m_metrics.erase(it) : std::next(it);
      m_metrics[key] = std::move(m);
    } catch (const std::exception& e) {
      error = e.what();
    }
    Finish(slot, key, error);
  });
  return r;
}

void Requests::Prefetch(const families::RunInfoPtr& run, const std::string& analyzer, const std::vector<int>& epochs) {
  if (!run || epochs.empty()) return;
  struct Item {
    int epoch;
    std::string key;
    bool on_disk;  // as when submitted: a pool job never computes (ModelCache belongs to the model lane)
  };
  std::vector<Item> todo;
  bool compute = false;  // any of them needs a forward pass (else reads only: the pool)
  for (int e : epochs) {
    const Source src = ArtifactSourceOf(*run, analyzer, e);
    const std::string key = KeyOf(*run, analyzer, e, src);
    if (m_store.Get(key) || !src.sig.exists()) continue;
    todo.push_back({e, key, src.on_disk});
    compute = compute || !src.on_disk;
  }
  if (todo.empty()) return;
  m_jobs.Submit("prefetch", compute ? jobs::Lane::Model : jobs::Lane::Pool,
                [this, run, analyzer, todo](const jobs::CancelToken& token) {
                  for (const Item& it : todo) {
                    if (token.cancelled()) return;
                    try {
                      io::NpzArchive a = it.on_disk ? analyzers::ReadValidArtifact(*run, analyzer, it.epoch)
                                                    : m_models->Compute(*run, analyzer, it.epoch,
                                                                        [&token] { return token.cancelled(); });
                      m_store.Put(it.key, std::make_shared<const io::NpzArchive>(std::move(a)));
                    } catch (const std::exception&) {  // the interactive request reports errors
                      return;
                    }
                  }
                });
}

}  // namespace hs::app
