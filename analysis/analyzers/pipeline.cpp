// [SECTION] Analysis pipeline (see pipeline.h).
//   - shared helpers: analyzers of a run, artifact validation, the forward
//   - ModelCache: on-demand artifacts with model and forward reuse
//   - readers: ReadValidArtifact, ReadValidSummary
//   - manifest: validated artifacts by (size, mtime)
//   - AnalyzeRun
#include "analyzers/pipeline.h"

#include <sys/stat.h>
#include <torch/torch.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <ctime>
#include <cmath>
#include <condition_variable>
#include <deque>
#include <list>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

#include "analyzers/analyzer.h"
#include "analyzers/findings.h"
#include "analyzers/progress_analyzer.h"
#include "families/modadd_forward.h"
#include "io/atomic_file.h"
#include "io/run_dir.h"
#include "library/fourier.h"
#include "model/hooked_transformer.h"
#include "model/tensor_io.h"

namespace hs::analyzers {
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using families::RunInfo;

namespace {

// [SECTION] shared helpers

std::unique_ptr<Analyzer> Make(const std::string& name, const RunInfo& run) {
  return MakeAnalyzer(name, run.AnalyzerParams(name));
}

std::vector<std::unique_ptr<Analyzer>> MakeAll(const std::vector<std::string>& names, const RunInfo& run) {
  std::vector<std::unique_ptr<Analyzer>> out;
  for (const auto& n : names) out.push_back(Make(n, run));
  return out;
}

// Every float in `a` is finite; returns the first bad flat index or -1.
int64_t FirstNonFinite(const io::Array& a) {
  if (a.dtype != io::DType::F32) return -1;
  const float* v = a.data<float>();
  for (int64_t i = 0, n = a.numel(); i < n; ++i)
    if (!std::isfinite(v[i])) return i;
  return -1;
}

// Keys, dtypes, shapes and finite values of one per-epoch artifact.
void CheckArtifact(const io::NpzArchive& arr, const Analyzer& an, const RunInfo& run, const fs::path& path) {
  for (const auto& [key, shape] : an.ArtifactShapes(run)) {
    auto it = arr.find(key);
    if (it == arr.end()) throw io::IoError(path.string() + ": lacks array '" + key + "'");
    const io::Array& a = it->second;
    if (a.dtype != an.ArtifactDType(key))
      throw io::IoError(path.string() + ": '" + key + "' is " + io::DTypeName(a.dtype) + ", expected " +
                        io::DTypeName(an.ArtifactDType(key)));
    if (a.shape != shape)
      throw io::IoError(path.string() + ": '" + key + "' has shape " + io::ShapeString(a.shape) + ", expected " +
                        io::ShapeString(shape));
    const int64_t bad = FirstNonFinite(a);
    if (bad >= 0) throw io::IoError(path.string() + ": '" + key + "' holds a non-finite value at flat index " + std::to_string(bad));
  }
}

// How each analyzer's files are written (measured on p=113, README "Disk"):
// attention_patterns deflates to 47% (masked pairs are zeros, the first
// position's row is all ones) for +32 ms per write and +6 ms per read;
// neuron_activations (26 MB, only written when asked for: it is on demand)
// would take 530 ms per write to shrink to 55%; the rest are small.
io::NpzWriteOptions WriteOptionsFor(const std::string& analyzer) {
  io::NpzWriteOptions o;
  o.deflate = analyzer == "attention_patterns";
  o.level = 1;
  return o;
}

// A file's size, modification time (ns) and inode; size -1 when absent.
// mtimes tick with the kernel's coarse clock (a few ms), so two atomic
// writes in one tick can share size and mtime; every atomic write renames a
// new inode into place, which the inode number tells apart.
struct FileStamp {
  int64_t size = -1;
  int64_t mtime_ns = 0;
  int64_t inode = 0;
  bool operator==(const FileStamp& o) const { return size == o.size && mtime_ns == o.mtime_ns && inode == o.inode; }
  bool operator!=(const FileStamp& o) const { return !(*this == o); }
};

FileStamp Stamp(const fs::path& p) {
  struct stat st;
  if (::stat(p.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return {};
  return {int64_t(st.st_size), int64_t(st.st_mtim.tv_sec) * 1000000000LL + st.st_mtim.tv_nsec, int64_t(st.st_ino)};
}

// Hooks any analyzer of this run reads: what a cached forward keeps.
std::set<std::string> UsefulHooks(const RunInfo& run) {
  std::set<std::string> out;
  for (const auto& n : AnalyzerNames())
    for (const auto& h : MakeAnalyzer(n)->required_activations(run)) out.insert(h);
  return out;
}

// One model for a run: loads checkpoints and runs the shared forward pass.
struct Evaluator {
  const RunInfo& run;
  model::HookedTransformer model{nullptr};
  torch::Tensor tokens;  // [p*p, n_ctx]
  torch::Tensor basis;   // [p, p]

  explicit Evaluator(const RunInfo& r) : run(r) {
    model = model::HookedTransformer(run.model);
    model->eval();
    tokens = families::ModAddInputs(run);
    basis = library::FourierBasis(run.p);
  }

  void Load(const fs::path& ckpt) { model::LoadCheckpoint(ckpt, *model); }  // errors name the checkpoint

  // The forward pass `needs` asks for: for a 1-layer run whose needs are
  // patterns and MLP activations (read at the last position), the family's
  // fast path (families::ModAddFastForward); else the general forward
  // (stopping after the last pattern when only patterns are needed).
  // Returns true when the fast path ran.
  bool Forward(const std::vector<std::string>& needs, bool attention_only, bool allow_fast, model::ActivationCache& cache) {
    // Flush-to-zero is per thread (MXCSR): late checkpoints hold many
    // subnormal weights (weight decay).
    at::globalContext().setFlushDenormal(true);
    torch::NoGradGuard ng;
    const bool covered = std::all_of(needs.begin(), needs.end(), [](const std::string& n) {
      return n == model::ActName("pattern", 0) || n == model::ActName("post", 0);
    });
    if (allow_fast && covered && families::ModAddFastPatternsApply(run)) {
      const auto acts = families::ModAddFastForward(*model, run, !attention_only);
      cache = model::ActivationCache(run.model.n_layers);
      cache.Store(model::ActName("pattern", 0), acts.pattern);
      if (acts.post_last.defined()) cache.Store(LastPositionName(model::ActName("post", 0)), acts.post_last);
      return true;
    }
    if (attention_only && !needs.empty())
      model->forward_with_cache(tokens, cache, needs.back());
    else
      model->forward_with_cache(tokens, cache);
    return false;
  }
};

}  // namespace

// [SECTION] ModelCache

struct ModelCache::Impl {
  struct Entry {
    fs::path ckpt;
    FileStamp stamp;
    std::string run_key;  // model config + positions
    std::unique_ptr<RunInfo> run;  // a copy: the evaluator refers to it
    std::unique_ptr<Evaluator> ev;
    model::ActivationCache cache;
  };
  int max_models = 2;
  std::list<Entry> entries;  // most recent first
  int64_t forwards = 0, fast = 0, loads = 0;
  bool fast_enabled = true;
};

ModelCache::ModelCache(int max_models) : m(std::make_unique<Impl>()) { m->max_models = std::max(1, max_models); }
ModelCache::~ModelCache() = default;
void ModelCache::Clear() { m->entries.clear(); }
int64_t ModelCache::forward_passes() const { return m->forwards; }
int64_t ModelCache::fast_passes() const { return m->fast; }
int64_t ModelCache::checkpoint_loads() const { return m->loads; }
void ModelCache::set_fast_path(bool enabled) {
  m->fast_enabled = enabled;
  for (auto& e : m->entries) e.cache = model::ActivationCache();
}

io::NpzArchive ModelCache::Compute(const RunInfo& run, const std::string& analyzer, int epoch, const StopFn& cancelled) {
  auto check = [&] {
    if (cancelled && cancelled()) throw jobs::Cancelled();
  };
  check();
  const auto an = Make(analyzer, run);
  const fs::path ckpt = io::RunPaths{run.dir}.Checkpoint(epoch);
  const FileStamp stamp = Stamp(ckpt);
  if (stamp.size < 0) throw io::IoError(ckpt.string() + ": checkpoint not found");
  std::string run_key = nlohmann::json(run.model).dump() + "|" + std::to_string(run.p);
  for (const auto& s : run.positions) run_key += "|" + s;

  auto it = std::find_if(m->entries.begin(), m->entries.end(), [&](const Impl::Entry& e) {
    return e.ckpt == ckpt && e.stamp == stamp && e.run_key == run_key;
  });
  if (it != m->entries.end()) {
    m->entries.splice(m->entries.begin(), m->entries, it);
  } else {
    // Phase 1: load the checkpoint (reusing an evicted model's storage is not
    // worth the complexity: a model is ~1 MB).
    Impl::Entry e;
    e.ckpt = ckpt;
    e.stamp = stamp;
    e.run_key = run_key;
    e.run = std::make_unique<RunInfo>(run);
    e.ev = std::make_unique<Evaluator>(*e.run);
    e.ev->Load(ckpt);
    ++m->loads;
    m->entries.push_front(std::move(e));
    while (int(m->entries.size()) > m->max_models) m->entries.pop_back();
  }
  Impl::Entry& entry = m->entries.front();
  check();

  // Phase 2: the forward pass, unless this checkpoint's cache has what the
  // analyzer reads.
  const auto needs = an->required_activations(run);
  const bool have = std::all_of(needs.begin(), needs.end(), [&](const std::string& n) { return CacheHas(entry.cache, n); });
  if (!have) {
    model::ActivationCache fresh;
    const bool fast = entry.ev->Forward(needs, an->attention_only(run), m->fast_enabled, fresh);
    // Keep only what some analyzer reads: the whole cache is ~250 MB at p=113.
    entry.cache = model::ActivationCache(run.model.n_layers);
    const auto useful = UsefulHooks(run);
    for (const auto& n : fresh.Names())
      if (useful.count(n) || n.find(":last_pos") != std::string::npos) entry.cache.Store(n, fresh[n]);
    ++m->forwards;
    if (fast) ++m->fast;
  }
  check();
  // Phase 3: analyze.
  return an->Analyze({entry.cache, *entry.run, epoch, entry.ev->basis});
}

// [SECTION] readers

io::NpzArchive ReadValidArtifact(const RunInfo& run, const std::string& analyzer, int epoch) {
  const auto an = Make(analyzer, run);
  const fs::path path = io::RunPaths{run.dir}.Artifact(analyzer, epoch);
  io::NpzArchive arr = io::ReadNpz(path);
  CheckArtifact(arr, *an, run, path);
  return arr;
}

io::NpzArchive ReadValidSummary(const RunInfo& run, const std::string& analyzer) {
  const auto an = Make(analyzer, run);
  const fs::path path = io::RunPaths{run.dir}.ArtifactsDir(analyzer) / "summary.npz";
  auto fail = [&](const std::string& what) { return io::IoError(path.string() + ": " + what); };
  if (!an->has_summary()) throw fail("analyzer '" + analyzer + "' has no summary");
  io::NpzArchive arr = io::ReadNpz(path);
  auto ep = arr.find("epochs");
  if (ep == arr.end()) throw fail("lacks array 'epochs'");
  if (ep->second.dtype != io::DType::I64 || ep->second.shape.size() != 1)
    throw fail("'epochs' must be a 1-D int64 array, found " + std::string(io::DTypeName(ep->second.dtype)) + " " +
               io::ShapeString(ep->second.shape));
  const int64_t n = ep->second.shape[0];
  {
    const int64_t* e = ep->second.data<int64_t>();
    for (int64_t i = 0; i < n; ++i) {
      if (e[i] < 0) throw fail("'epochs' holds a negative epoch (" + std::to_string(e[i]) + ")");
      if (i > 0 && e[i] <= e[i - 1])
        throw fail("'epochs' is not strictly ascending (" + std::to_string(e[i]) + " after " + std::to_string(e[i - 1]) + ")");
    }
  }
  for (const auto& [key, shape] : an->SummaryShapes(run, n)) {
    auto it = arr.find(key);
    if (it == arr.end()) throw fail("lacks array '" + key + "'");
    const io::Array& a = it->second;
    const ValueRule rule = an->SummaryRule(key, run);
    if (a.dtype != rule.dtype)
      throw fail("'" + key + "' is " + io::DTypeName(a.dtype) + ", expected " + io::DTypeName(rule.dtype));
    if (a.shape != shape) {
      if (!a.shape.empty() && !shape.empty() && a.shape.size() == shape.size() && a.shape[0] != shape[0] &&
          std::equal(a.shape.begin() + 1, a.shape.end(), shape.begin() + 1))
        throw fail("'" + key + "' has " + std::to_string(a.shape[0]) + " rows but 'epochs' has " + std::to_string(n));
      throw fail("'" + key + "' has shape " + io::ShapeString(a.shape) + ", expected " + io::ShapeString(shape));
    }
    const std::vector<float> v = a.ToFloat();
    const double tol = 1e-5;
    for (size_t i = 0; i < v.size(); ++i) {
      if (!std::isfinite(v[i])) throw fail("'" + key + "' holds a non-finite value at flat index " + std::to_string(i));
      if (v[i] < rule.lo - tol || v[i] > rule.hi + tol) {
        std::ostringstream s;
        s << "'" << key << "' holds " << v[i] << " at flat index " << i << ", outside [" << rule.lo << ", " << rule.hi << "]";
        if (key == "dominant_freq_per_head") s << " (frequencies k are 1-based, k <= n_freq)";
        throw fail(s.str());
      }
    }
  }
  return arr;
}

io::NpzArchive ReadValidArtifact(const fs::path& run_dir, const std::string& analyzer, int epoch) {
  return ReadValidArtifact(*families::LoadRunInfo(run_dir), analyzer, epoch);
}

io::NpzArchive ComputeArtifact(const fs::path& run_dir, const std::string& analyzer, int epoch) {
  ModelCache cache(1);
  return cache.Compute(*families::LoadRunInfo(run_dir), analyzer, epoch);
}

std::vector<std::string> FamilyAnalyzers(const fs::path& run_dir) {
  const auto run = families::LoadRunInfo(run_dir);
  return run->analyzers.empty() ? AnalyzerNames() : run->analyzers;
}

std::vector<std::string> StoredAnalyzers(const RunInfo& run) {
  std::vector<std::string> out;
  for (const auto& n : run.analyzers.empty() ? AnalyzerNames() : run.analyzers)
    if (std::find(run.on_demand.begin(), run.on_demand.end(), n) == run.on_demand.end()) out.push_back(n);
  return out;
}

// [SECTION] manifest
namespace {

// artifacts/manifest.json: per analyzer and epoch, the stamps of a validated
// (or freshly written) artifact and of the checkpoint it came from; per
// analyzer, the summary's stamp and a digest of the artifacts it was computed
// from. Anything that does not match is re-read; a lost or corrupt manifest
// only costs one re-validation pass.
struct Manifest {
  struct Record {
    FileStamp artifact, checkpoint;
  };
  struct Summary {
    FileStamp file;
    std::string inputs;
  };
  std::map<std::string, std::map<int, Record>> artifacts;
  std::map<std::string, Summary> summaries;
  bool dirty = false;

  // [size, mtime_ns, inode]
  static nlohmann::json J(const FileStamp& s) { return nlohmann::json::array({s.size, s.mtime_ns, s.inode}); }
  static FileStamp S(const nlohmann::json& j) {
    return {j.at(0).get<int64_t>(), j.at(1).get<int64_t>(), j.at(2).get<int64_t>()};
  }

  static Manifest Load(const fs::path& path, std::vector<std::string>& warnings) {
    Manifest m;
    if (!fs::exists(path)) return m;
    try {
      const nlohmann::json j = nlohmann::json::parse(io::ReadFile(path));
      if (j.value("version", 0) != 1) return m;
      for (const auto& [an, eps] : j.at("artifacts").items())
        for (const auto& [e, rec] : eps.items()) m.artifacts[an][std::stoi(e)] = {S(rec.at("artifact")), S(rec.at("checkpoint"))};
      for (const auto& [an, rec] : j.at("summaries").items())
        m.summaries[an] = {S(rec.at("file")), rec.at("inputs").get<std::string>()};
    } catch (const std::exception& e) {
      warnings.push_back(path.string() + ": unreadable (" + e.what() + "); re-validating every artifact");
      return Manifest{};
    }
    return m;
  }

  std::string Dump() const {
    nlohmann::json j = {{"version", 1}, {"artifacts", nlohmann::json::object()}, {"summaries", nlohmann::json::object()}};
    for (const auto& [an, eps] : artifacts)
      for (const auto& [e, rec] : eps) j["artifacts"][an][std::to_string(e)] = {{"artifact", J(rec.artifact)}, {"checkpoint", J(rec.checkpoint)}};
    for (const auto& [an, s] : summaries) j["summaries"][an] = {{"file", J(s.file)}, {"inputs", s.inputs}};
    return j.dump() + "\n";
  }

  const Record* Find(const std::string& an, int e) const {
    auto a = artifacts.find(an);
    if (a == artifacts.end()) return nullptr;
    auto r = a->second.find(e);
    return r == a->second.end() ? nullptr : &r->second;
  }
  void Set(const std::string& an, int e, const Record& r) {
    artifacts[an][e] = r;
    dirty = true;
  }
  void Erase(const std::string& an, int e) {
    auto a = artifacts.find(an);
    if (a != artifacts.end() && a->second.erase(e)) dirty = true;
  }
};

// Turns filesystem errors into IoErrors that say what to do.
io::IoError WriteProblem(const fs::path& path, const std::string& why) {
  return io::IoError("cannot write " + path.string() + ": " + why +
                     "; make the run folder writable (and move away any file in the way), or analyze a copy of the run");
}

// CPU time of the calling thread (a live pass runs on it: one thread).
double ThreadCpuSeconds() {
  timespec ts{};
  if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) != 0) return 0;
  return double(ts.tv_sec) + double(ts.tv_nsec) * 1e-9;
}

void EnsureWritableDir(const fs::path& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec || !fs::is_directory(dir)) throw WriteProblem(dir, ec ? ec.message() : "a file is in the way");
  const fs::path probe = io::TempPathFor(dir / "write_probe");
  FILE* f = std::fopen(probe.c_str(), "wb");
  if (!f) throw WriteProblem(dir, std::strerror(errno));
  std::fclose(f);
  fs::remove(probe, ec);
}

AnalyzeReport AnalyzeRunImpl(const fs::path& run_dir, const AnalyzeOptions& opt,
                             const std::function<void(const AnalyzeProgress&)>& on_progress, const StopFn& should_stop) {
  const families::RunInfoPtr run_ptr = families::LoadRunInfo(run_dir);
  const RunInfo& run = *run_ptr;
  const std::vector<std::string> names = opt.analyzers.empty() ? StoredAnalyzers(run) : opt.analyzers;
  std::vector<std::unique_ptr<Analyzer>> analyzers, run_level;  // per checkpoint; from all checkpoints
  for (auto& a : MakeAll(names, run)) (a->run_level() ? run_level : analyzers).push_back(std::move(a));
  const io::RunPaths paths{run.dir};
  const fs::path manifest_path = run.dir / "artifacts" / "manifest.json";
  {
    std::error_code ec;
    const fs::path arts = run.dir / "artifacts";
    if (fs::exists(arts, ec) && !fs::is_directory(arts, ec)) throw WriteProblem(arts, "a file is in the way of the artifacts folder");
    for (const auto& a : analyzers) {
      const fs::path d = paths.ArtifactsDir(a->name());
      if (fs::exists(d, ec) && !fs::is_directory(d, ec)) throw WriteProblem(d, "a file is in the way of the analyzer's folder");
    }
  }
  auto stop = [&] { return should_stop && should_stop(); };

  AnalyzeReport report;
  Manifest manifest = Manifest::Load(manifest_path, report.warnings);
  std::mutex mu;                          // guards report, manifest, progress
  std::set<int> counted;                  // epochs counted in analysed/skipped
  std::map<int, FileStamp> failed;        // checkpoints that failed, as they were
  auto last_new = Clock::now();
  int last_listed = -1;

  const bool live = opt.follow && opt.follow_duty > 0;
  for (;;) {
    ++report.passes;
    const auto pass_start = Clock::now();
    const double pass_cpu = ThreadCpuSeconds();
    // Which checkpoints need work, and which analyzers for each: by stat,
    // reading an artifact only when the manifest does not vouch for it.
    std::deque<std::tuple<int, FileStamp, std::vector<const Analyzer*>>> todo;
    const std::vector<int> epochs = io::ListCheckpointEpochs(run.dir);
    if (!epochs.empty() && epochs.back() != last_listed) {
      last_listed = epochs.back();
      last_new = Clock::now();
    }
    for (int e : epochs) {
      const FileStamp ck = Stamp(paths.Checkpoint(e));
      if (ck.size < 0) continue;
      auto f = failed.find(e);
      if (f != failed.end() && f->second == ck) continue;
      std::vector<const Analyzer*> need;
      for (const auto& a : analyzers) {
        const fs::path path = paths.Artifact(a->name(), e);
        const FileStamp art = Stamp(path);
        if (art.size < 0) {
          manifest.Erase(a->name(), e);
          need.push_back(a.get());
          continue;
        }
        const Manifest::Record* rec = manifest.Find(a->name(), e);
        if (rec && rec->artifact == art && rec->checkpoint == ck) continue;  // vouched for
        if (rec && rec->checkpoint != ck) {  // the checkpoint was rewritten since
          manifest.Erase(a->name(), e);
          need.push_back(a.get());
          continue;
        }
        ++report.artifacts_validated;
        try {
          CheckArtifact(io::ReadNpz(path), *a, run, path);
          manifest.Set(a->name(), e, {art, ck});
        } catch (const io::IoError& err) {
          report.warnings.push_back(std::string(err.what()) + "; recomputing it");
          manifest.Erase(a->name(), e);
          need.push_back(a.get());
        }
      }
      if (need.empty()) {
        if (counted.insert(e).second) ++report.skipped;
      } else {
        todo.emplace_back(e, ck, std::move(need));
      }
    }

    if (live && todo.size() > 1) todo.erase(todo.begin(), todo.end() - 1);  // the newest only
    if (!todo.empty() && !stop()) {
      for (const auto& a : analyzers) EnsureWritableDir(paths.ArtifactsDir(a->name()));
      AnalyzeProgress prog;
      prog.total = int(todo.size());
      const auto t0 = Clock::now();
      auto worker = [&] {
        std::unique_ptr<Evaluator> ev;
        for (;;) {
          std::tuple<int, FileStamp, std::vector<const Analyzer*>> job;
          {
            std::lock_guard<std::mutex> lock(mu);
            if (todo.empty() || stop()) return;
            job = std::move(todo.front());
            todo.pop_front();
          }
          const int e = std::get<0>(job);
          const fs::path ckpt = paths.Checkpoint(e);
          std::string error;
          try {
            if (!ev) ev = std::make_unique<Evaluator>(run);
            ev->Load(ckpt);
            std::vector<std::string> needs;
            bool attention_only = true;
            for (const Analyzer* a : std::get<2>(job)) {
              for (auto& n : a->required_activations(run)) needs.push_back(n);
              attention_only = attention_only && a->attention_only(run);
            }
            model::ActivationCache cache;
            // The general forward (stopping after the patterns when that is
            // all the job needs): stored artifacts never depend on which
            // analyzers a job happened to hold.
            ev->Forward(needs, attention_only, false, cache);
            for (const Analyzer* a : std::get<2>(job)) {
              const fs::path path = paths.Artifact(a->name(), e);
              io::WriteNpz(path, a->Analyze({cache, run, e, ev->basis}), WriteOptionsFor(a->name()));
              std::lock_guard<std::mutex> lock(mu);
              manifest.Set(a->name(), e, {Stamp(path), std::get<1>(job)});
            }
          } catch (const std::exception& err) {
            error = err.what();
          } catch (...) {
            error = "unknown error";
          }
          std::lock_guard<std::mutex> lock(mu);
          if (error.empty()) {
            if (counted.insert(e).second) ++report.analysed;
          } else {
            if (error.find(ckpt.string()) == std::string::npos) error = ckpt.string() + ": " + error;
            report.warnings.push_back(error + "; checkpoint skipped");
            failed[e] = std::get<1>(job);
          }
          ++prog.done;
          prog.epoch = e;
          prog.ms_per_checkpoint = std::chrono::duration<double, std::milli>(Clock::now() - t0).count() / prog.done;
          if (on_progress) on_progress(prog);
        }
      };
      std::vector<std::thread> pool;
      for (int i = 1; i < std::max(1, opt.threads); ++i) pool.emplace_back(worker);
      worker();
      for (auto& t : pool) t.join();
    }
    if (stop()) break;

    // Summaries: rewritten only when the artifacts they come from changed.
    for (const auto& a : analyzers) {
      if (!a->has_summary()) continue;
      std::vector<int> ep;
      std::string digest;
      for (int e : epochs)
        if (const Manifest::Record* rec = manifest.Find(a->name(), e)) {
          ep.push_back(e);
          digest += std::to_string(e) + ":" + std::to_string(rec->artifact.size) + ":" + std::to_string(rec->artifact.mtime_ns) +
                    ":" + std::to_string(rec->artifact.inode) + ";";
        }
      digest = std::to_string(std::hash<std::string>{}(digest)) + "/" + std::to_string(ep.size());
      const fs::path spath = paths.ArtifactsDir(a->name()) / "summary.npz";
      auto s = manifest.summaries.find(a->name());
      if (ep.empty() || (s != manifest.summaries.end() && s->second.inputs == digest && s->second.file == Stamp(spath)))
        continue;
      std::vector<int> used;
      std::vector<io::NpzArchive> per_epoch;
      for (int e : ep) {
        try {
          const fs::path path = paths.Artifact(a->name(), e);
          io::NpzArchive arr = io::ReadNpz(path);
          CheckArtifact(arr, *a, run, path);
          per_epoch.push_back(std::move(arr));
          used.push_back(e);
        } catch (const io::IoError& err) {
          report.warnings.push_back(std::string(err.what()) + "; left out of the summary");
          manifest.Erase(a->name(), e);
        }
      }
      if (used.empty()) continue;
      try {
        io::WriteNpz(spath, a->ComputeSummary(run, used, per_epoch));
      } catch (const io::IoError& err) {
        throw WriteProblem(spath, err.what());
      } catch (const std::exception& err) {
        report.warnings.push_back(spath.string() + ": summary not written (" + err.what() + ")");
        continue;
      }
      ++report.summaries_written;
      manifest.summaries[a->name()] = {Stamp(spath), used.size() == ep.size() ? digest : std::string()};
      manifest.dirty = true;
    }
    // Run-level analyzers (progress_measures): after the summaries they read
    // (key frequencies), and when following only once the final epoch is in.
    const bool final_in = counted.count(run.total_epochs) > 0 || failed.count(run.total_epochs) > 0;
    for (const auto& a : run_level) {
      if (stop() || (opt.follow && !final_in && !live)) break;
      std::vector<int> ep;
      std::string digest;
      for (int e : epochs) {
        const FileStamp ck = Stamp(paths.Checkpoint(e));
        if (ck.size < 0 || failed.count(e)) continue;
        if (live && !analyzers.empty() && !counted.count(e)) continue;  // live: the checkpoints analysed so far
        ep.push_back(e);
        digest += std::to_string(e) + ":" + std::to_string(ck.size) + ":" + std::to_string(ck.mtime_ns) + ":" +
                  std::to_string(ck.inode) + ";";
      }
      if (ep.empty()) continue;
      std::vector<int> keys;
      try {
        keys = FinalKeyFrequencies(run);
      } catch (const io::IoError& err) {
        report.warnings.push_back(std::string(err.what()) + "; " + a->name() +
                                  " needs the key frequencies from neuron_freq_norm's summary, so it was not written");
        continue;
      }
      digest += "keys";
      for (int k : keys) digest += ":" + std::to_string(k);
      digest = std::to_string(std::hash<std::string>{}(digest)) + "/" + std::to_string(ep.size());
      const fs::path spath = paths.ArtifactsDir(a->name()) / "summary.npz";
      auto s = manifest.summaries.find(a->name());
      if (s != manifest.summaries.end() && s->second.inputs == digest && s->second.file == Stamp(spath)) continue;
      EnsureWritableDir(paths.ArtifactsDir(a->name()));
      AnalyzeProgress prog;
      prog.phase = a->name();
      prog.total = int(ep.size());
      const auto t0 = Clock::now();
      io::NpzArchive out;
      try {
        out = ComputeProgressMeasures(run, ep, keys, opt.threads, [&](int done, int, int epoch) {
          std::lock_guard<std::mutex> lock(mu);
          prog.done = done;
          prog.epoch = epoch;
          prog.ms_per_checkpoint = std::chrono::duration<double, std::milli>(Clock::now() - t0).count() / done;
          if (on_progress) on_progress(prog);
        }, should_stop);
      } catch (const jobs::Cancelled&) {
        break;
      } catch (const io::IoError& err) {
        report.warnings.push_back(std::string(err.what()) + "; " + a->name() + " not written");
        continue;
      }
      try {
        io::WriteNpz(spath, out);
      } catch (const io::IoError& err) {
        throw WriteProblem(spath, err.what());
      }
      ++report.summaries_written;
      manifest.summaries[a->name()] = {Stamp(spath), digest};
      manifest.dirty = true;
    }
    // RUN/summary.json: the findings, from whatever summaries exist now.
    if ((!opt.follow || final_in) && !stop()) {
      try {
        WriteFindings(run);
      } catch (const io::IoError& err) {
        report.warnings.push_back(std::string(err.what()) + "; summary.json not written");
      }
    }
    if (manifest.dirty) {
      try {
        io::WriteFileAtomic(manifest_path, manifest.Dump());
        manifest.dirty = false;
      } catch (const io::IoError& err) {
        report.warnings.push_back(std::string(err.what()) + "; the next pass re-reads every artifact");
      }
    }
    if (!opt.follow) break;
    const bool final_done = counted.count(run.total_epochs) > 0 || failed.count(run.total_epochs) > 0;
    if (final_done && Clock::now() - last_new > std::chrono::duration<double>(opt.follow_idle_exit_seconds)) break;
    double pause = opt.follow_poll_seconds;
    if (live) {  // the pass's own CPU time (a busy machine stretches its wall time, not its cost)
      const double wall = std::chrono::duration<double>(Clock::now() - pass_start).count();
      const double cpu = ThreadCpuSeconds() - pass_cpu;
      pause = std::max(pause, cpu / opt.follow_duty - wall);
    }
    // Sleep in short steps so that a stop is honoured at once.
    for (const auto until = Clock::now() + std::chrono::duration<double>(pause); Clock::now() < until && !stop();)
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    if (stop()) break;
  }
  return report;
}

}  // namespace

AnalyzeReport AnalyzeRun(const fs::path& run_dir, const AnalyzeOptions& opt,
                         const std::function<void(const AnalyzeProgress&)>& on_progress, const StopFn& should_stop) {
  try {
    return AnalyzeRunImpl(run_dir, opt, on_progress, should_stop);
  } catch (const fs::filesystem_error& e) {
    throw io::IoError(e.path1().string() + ": " + e.code().message() + " (" + e.what() +
                      "); check that the run folder is readable and writable");
  }
}

}  // namespace hs::analyzers
