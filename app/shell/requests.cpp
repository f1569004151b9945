// Requests (see requests.h).
#include "requests.h"

#include <sys/stat.h>

#include <algorithm>

#include "io/hash.h"
#include "io/run_dir.h"
#include "library/frequency_stats.h"
#include "lm/categorize.h"
#include "lm/plasticity_files.h"
#include "lm/qk_capture.h"

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
  std::function<void()> wake;
  {
    std::lock_guard<std::mutex> lock(m_mu);
    wake = m_on_finish;
    SlotState& s = m_slots[slot];
    if (s.key == key) {  // else superseded: the newer request owns the slot
      s.inflight = false;
      s.error = error;
    }
  }
  if (wake) wake();
}

void Requests::SetOnFinish(std::function<void()> f) {
  std::lock_guard<std::mutex> lock(m_mu);
  m_on_finish = std::move(f);
}

void Requests::Cancel(const std::string& slot) {
  {
    std::lock_guard<std::mutex> lock(m_mu);
    auto it = m_slots.find(slot);
    if (it != m_slots.end()) it->second = SlotState{};  // asking again for the same key runs it again
  }
  m_jobs.CancelSlot(slot);
}

// [SECTION] Language models
LmModelKey LmModelKey::Of(const fs::path& dir) {
  LmModelKey k;
  if (dir.empty()) return k;
  std::error_code ec;
  k.dir = fs::absolute(dir, ec).lexically_normal();
  if (k.dir.has_filename() == false && k.dir.has_parent_path()) k.dir = k.dir.parent_path();  // "dir/" -> "dir"
  try {
    k.weights = lm::WeightsSignature(k.dir);
  } catch (const std::exception&) {  // opening the model says what is wrong
  }
  for (const char* f : {"config.json", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
                        "vocab.json", "merges.txt", "tokenizer.model", "headscope_tokenizer.json"}) {
    const FileSig sig = Signature(k.dir / f);
    if (sig.exists()) k.weights += std::string(f) + ":" + SigString(sig) + ";";
  }
  return k;
}

uint64_t LmPromptKey::HashTokens(const std::vector<int64_t>& tokens) {
  return io::Fnv1a64(tokens.data(), tokens.size() * sizeof(int64_t));  // the ids' bytes (little-endian)
}

std::string LmPromptKey::str() const {
  return model.str() + "|step:" + std::to_string(step) + "|bos:" + (bos ? "1" : "0") + "|tokens:" +
         std::to_string(n_tokens) + ":" + std::to_string(tokens_hash) + (intervention.empty() ? "" : "|off:" + intervention);
}

Requests::AnyValue Requests::ComputeAny(const std::string& slot, const std::string& key, jobs::Lane lane,
                                        size_t keep, std::function<AnyValue(const Report&)> compute,
                                        std::string* error, bool* pending, Progress* progress) {
  {
    std::lock_guard<std::mutex> lock(m_mu);
    SlotState& s = m_slots[slot];
    for (const auto& [k, v] : m_values[slot])
      if (k == key) {
        if (s.key != key) {  // back to a value computed before: the job for another key is not wanted
          s = SlotState{};
          s.key = key;
          m_jobs.CancelSlot(slot);
        }
        return v;
      }
    if (s.key == key) {
      if (s.inflight) {
        *pending = true;
        *progress = s.progress;
        return nullptr;
      }
      if (!s.error.empty()) {  // failed for this key: wait for it to change
        *error = s.error;
        return nullptr;
      }
    }
    s = SlotState{};
    s.key = key;
    s.inflight = true;
  }
  *pending = true;
  m_jobs.Submit(slot, lane, [this, slot, key, keep, compute](const jobs::CancelToken& token) {
    const Report report = [this, &slot, &key, &token](const std::string& what, float fraction) {
      std::lock_guard<std::mutex> lock(m_mu);
      auto it = m_slots.find(slot);
      if (it != m_slots.end() && it->second.key == key) it->second.progress = {what, fraction};
      return !token.cancelled();
    };
    std::string error;
    try {
      AnyValue v = compute(report);
      std::lock_guard<std::mutex> lock(m_mu);
      auto& values = m_values[slot];
      values.erase(std::remove_if(values.begin(), values.end(), [&](const auto& kv) { return kv.first == key; }),
                   values.end());
      values.emplace_back(key, std::move(v));
      while (values.size() > std::max<size_t>(1, keep)) values.erase(values.begin());
    } catch (const jobs::Cancelled&) {  // superseded or stopped: nothing to report
    } catch (const std::exception& e) {
      error = e.what();
    }
    Finish(slot, key, error);
  });
  return nullptr;
}

Result<lm::LmModel> Requests::LmModel(const LmModelKey& key) {
  if (key.empty()) return {};
  return Compute<lm::LmModel>("lm_model", key.str(), jobs::Lane::Long, 1,
                              [dir = key.dir](const Report& report) { return lm::LoadLmModel(dir, report); });
}

const lm::LanguageModel& Requests::WeightsFor(const lm::LmModel& model, const LmPromptKey& key) {
  if (key.step < 0) return *model.lm;
  // A training checkpoint: its weights, kept while the slider stays there.
  const std::string step_key = key.model.str() + "|" + std::to_string(key.step);
  if (m_step_key != step_key) {
    m_step_key.clear();
    m_step_weights.reset();
    m_step_weights = lm::OpenCheckpoint(model, key.step);
    m_step_key = step_key;
  }
  return *m_step_weights;
}

Result<lm::PromptAnalysis> Requests::LmPrompt(const std::shared_ptr<const lm::LmModel>& model, const LmPromptKey& key,
                                              const std::string& prompt, const std::vector<int64_t>& tokens,
                                              std::pair<int, int> head,
                                              std::shared_ptr<const lm::Intervention> intervention) {
  if (!model) return {};
  return Compute<lm::PromptAnalysis>(
      "lm_prompt", key.str(), jobs::Lane::Interactive, 2,
      [this, model, key, prompt, tokens, head, intervention](const Report& report) -> std::shared_ptr<const lm::PromptAnalysis> {
        try {
          const lm::LanguageModel& weights = WeightsFor(*model, key);
          lm::PromptOptions o;
          o.head = head;
          o.cache = m_prompt_cache;
          o.previous = m_last_prompt;
          o.progress = report;
          o.intervention = intervention;  // heads turned off: the cache is neither used nor changed
          auto a = lm::AnalyzePrompt(*model, weights, prompt, tokens, key.bos, key.step, o);
          if (a->ok() && a->intervention.empty()) m_last_prompt = a;
          return a;
        } catch (const jobs::Cancelled&) {
          throw;
        } catch (const std::exception& e) {  // in words, where the prompt's result is drawn
          m_step_key.clear();
          auto a = std::make_shared<lm::PromptAnalysis>();
          a->model_dir = model->dir, a->prompt = prompt, a->bos = key.bos, a->step = key.step, a->tokens = tokens;
          a->error = e.what();
          return a;
        }
      });
}

Result<LmHeadPattern> Requests::HeadPattern(const std::shared_ptr<const lm::LmModel>& model, const LmPromptKey& key,
                                            const std::vector<int64_t>& tokens, int layer, int head,
                                            std::shared_ptr<const lm::Intervention> intervention) {
  if (!model) return {};
  return Compute<LmHeadPattern>(
      "lm_head", key.str() + "|head " + std::to_string(layer) + "," + std::to_string(head), jobs::Lane::Interactive,
      2, [this, model, key, tokens, layer, head, intervention](const Report&) {
        auto out = std::make_shared<LmHeadPattern>();
        out->layer = layer, out->head = head;
        const bool off = intervention && !intervention->empty();  // then run to the layer with the heads off
        out->pattern = WeightsFor(*model, key).HeadPattern(tokens, layer, head, off ? nullptr : m_prompt_cache.get(),
                                                           off ? intervention.get() : nullptr);
        return out;
      });
}

Result<LmPlasticity> Requests::Plasticity(const std::shared_ptr<const lm::LmModel>& model, const LmPlasticityKey& key) {
  if (!model) return {};
  namespace pl = library::plasticity;
  return Compute<LmPlasticity>(
      "lm_plasticity", key.str(), key.compute ? jobs::Lane::Long : jobs::Lane::Pool, 2,
      [model, compute = key.compute](const Report& report) {
        auto out = std::make_shared<LmPlasticity>();
        const fs::path dir = lm::DerivedDir(model->dir) / "plasticity";
        const pl::Config cfg;
        if (!compute) {  // the saved CSVs, if there are any
          if (fs::exists(dir / cfg.output_csv)) out->heads = lm::ReadPlasticityCsvs(dir);
          return out;
        }
        const std::string corpus = lm::QKCaptureOptions{}.corpus;
        lm::PlasticityRun run = lm::ComputePlasticity(*model->lm, cfg, corpus, [&](int phase, int done, int total) {
          const float f = float(done) / float(std::max(1, total));
          return phase == 0 ? report("capturing queries and keys over the corpus", 0.5f * f)
                            : report("analysing heads", 0.5f + 0.5f * f);
        });
        try {
          lm::WritePlasticityRun(dir, cfg, run, model->dir, corpus);
        } catch (const std::exception& e) {  // a read-only folder: keep them in memory, and say so
          out->warning = "could not save the plasticity CSVs: " + std::string(e.what()) + " (kept for this session)";
        }
        out->heads = std::move(run.results);
        return out;
      });
}

void Requests::SubmitCompute(const std::string& slot, const std::string& key, const families::RunInfoPtr& run,
                             const std::string& analyzer, int epoch) {
  m_jobs.CancelSlot("prefetch");  // interactive work first
  m_jobs.Submit(slot, jobs::Lane::Model, [this, slot, key, run, analyzer, epoch](const jobs::CancelToken& token) {
    std::string error;
    try {
      io::NpzArchive a = m_models->Compute(*run, analyzer, epoch, [&token] { return token.cancelled(); });
      m_store.Put(key, std::make_shared<const io::NpzArchive>(std::move(a)));
    } catch (const jobs::Cancelled&) {  // superseded; nothing to report
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
