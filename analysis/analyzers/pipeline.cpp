// [SECTION] Analysis pipeline (see pipeline.h).
#include "analyzers/pipeline.h"

#include <torch/torch.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <set>
#include <thread>

#include "analyzers/analyzer.h"
#include "io/atomic_file.h"
#include "io/run_dir.h"
#include "library/fourier.h"
#include "model/hooked_transformer.h"
#include "model/tensor_io.h"
#include "train/modadd.h"
#include "train/train_config.h"

namespace hs::analyzers {
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

const std::map<std::string, std::string>& BuiltinFamilies();  // generated

namespace {

struct RunInfo {
  train::TrainConfig train;
  model::TransformerConfig model;
  nlohmann::json family;
};

RunInfo LoadRun(const fs::path& run_dir) {
  if (!fs::is_directory(run_dir)) throw io::IoError(run_dir.string() + ": no such run folder");
  const fs::path cfg = run_dir / "config.json";
  if (!fs::exists(cfg)) throw io::IoError(run_dir.string() + " is not a run folder (no config.json)");
  RunInfo info;
  try {
    info.train = nlohmann::json::parse(io::ReadFile(cfg)).get<train::TrainConfig>();
  } catch (const nlohmann::json::exception& e) {
    throw io::IoError(cfg.string() + ": not a valid run config (" + e.what() + ")");
  }
  info.model = info.train.Model();
  // runs/<family>/family.json, written from the built-in definition if absent.
  const fs::path fam = run_dir.parent_path() / "family.json";
  auto it = BuiltinFamilies().find(info.train.family);
  try {
    if (fs::exists(fam)) {
      info.family = nlohmann::json::parse(io::ReadFile(fam));
    } else if (it != BuiltinFamilies().end()) {
      info.family = nlohmann::json::parse(it->second);
      io::WriteFileAtomic(fam, info.family.dump(2) + "\n");
    }
  } catch (const nlohmann::json::exception& e) {
    throw io::IoError(fam.string() + ": not valid JSON (" + e.what() + "); delete it to restore the default");
  }
  return info;
}

std::vector<std::unique_ptr<Analyzer>> MakeAll(const std::vector<std::string>& names, const RunInfo& info) {
  std::vector<std::unique_ptr<Analyzer>> out;
  const nlohmann::json params = info.family.value("analyzer_params", nlohmann::json::object());
  for (const auto& n : names) out.push_back(MakeAnalyzer(n, params.value(n, nlohmann::json::object())));
  return out;
}

void CheckShapes(const io::NpzArchive& a, const std::map<std::string, std::vector<int64_t>>& shapes,
                 const fs::path& path) {
  for (const auto& [key, shape] : shapes) {
    auto it = a.find(key);
    if (it == a.end()) throw io::IoError(path.string() + ": lacks array '" + key + "'");
    if (it->second.shape != shape)
      throw io::IoError(path.string() + ": '" + key + "' has shape " + io::ShapeString(it->second.shape) +
                        ", expected " + io::ShapeString(shape));
  }
}

// One worker's model, reused across checkpoints.
struct Evaluator {
  RunInfo info;
  model::HookedTransformer model{nullptr};
  torch::Tensor tokens;  // [p*p, 3]
  torch::Tensor basis;   // [p, p]

  explicit Evaluator(const RunInfo& i) : info(i) {
    model = model::HookedTransformer(info.model);
    model->eval();
    tokens = train::MakeModAddData(info.train.p, info.train.train_frac, info.train.data_seed).all_tokens;
    basis = library::FourierBasis(info.train.p);
  }

  // Loads the checkpoint and runs the shared forward pass (stopping after the
  // hook `stop_after` when given).
  void Forward(const fs::path& ckpt, model::ActivationCache& cache, const std::string& stop_after = {}) {
    model::LoadCheckpoint(ckpt, *model);
    // Flush-to-zero is per thread (MXCSR): set it on whichever worker runs
    // this. Late checkpoints hold many subnormal weights (weight decay).
    at::globalContext().setFlushDenormal(true);
    torch::NoGradGuard ng;
    if (stop_after.empty())
      model->forward_with_cache(tokens, cache);
    else
      model->forward_with_cache(tokens, cache, stop_after);
  }
};

}  // namespace

std::vector<std::string> FamilyAnalyzers(const fs::path& run_dir) {
  const RunInfo info = LoadRun(run_dir);
  std::vector<std::string> names;
  if (info.family.contains("analyzers"))
    for (const auto& n : info.family["analyzers"]) names.push_back(n.get<std::string>());
  return names.empty() ? AnalyzerNames() : names;
}

io::NpzArchive ReadValidArtifact(const fs::path& run_dir, const std::string& analyzer, int epoch) {
  const RunInfo info = LoadRun(run_dir);
  const auto a = MakeAll({analyzer}, info);
  const fs::path path = io::RunPaths{run_dir}.Artifact(analyzer, epoch);
  io::NpzArchive arr = io::ReadNpz(path);
  CheckShapes(arr, a[0]->ArtifactShapes(info.model, info.train.p), path);
  return arr;
}

io::NpzArchive ComputeArtifact(const fs::path& run_dir, const std::string& analyzer, int epoch) {
  // The explorer asks for several analyzers of one epoch in a row on its
  // serial model lane: keep this thread's model and last forward pass so
  // they share one forward, as in AnalyzeRun.
  struct Last {
    fs::path run;
    fs::file_time_type config_mtime{};
    std::unique_ptr<Evaluator> ev;
    int epoch = -1;
    fs::file_time_type ckpt_mtime{};
    model::ActivationCache cache;
  };
  thread_local Last last;
  const io::RunPaths paths{run_dir};
  std::error_code ec;
  const auto cfg_mtime = fs::last_write_time(paths.Config(), ec);
  const RunInfo info = LoadRun(run_dir);
  const auto a = MakeAll({analyzer}, info);
  if (!last.ev || last.run != run_dir || last.config_mtime != cfg_mtime) {
    last = Last{};
    last.run = run_dir;
    last.config_mtime = cfg_mtime;
    last.ev = std::make_unique<Evaluator>(info);
  }
  const auto ck_mtime = fs::last_write_time(paths.Checkpoint(epoch), ec);
  if (ec) throw io::IoError(paths.Checkpoint(epoch).string() + ": checkpoint not found");
  const auto needs = a[0]->required_activations();
  auto have_all = [&] {
    for (const auto& n : needs)
      if (!last.cache.Contains(n)) return false;
    return true;
  };
  if (last.epoch != epoch || last.ckpt_mtime != ck_mtime || !have_all()) {
    last.epoch = -1;
    // Patterns only (the head grid, head frequencies): stop before the MLP,
    // which is most of the cost. Anything else: the whole forward pass.
    const bool attention_only = std::all_of(needs.begin(), needs.end(), [](const std::string& n) {
      return n.find("attn.hook_pattern") != std::string::npos;
    });
    last.ev->Forward(paths.Checkpoint(epoch), last.cache, attention_only && !needs.empty() ? needs.back() : "");
    last.epoch = epoch;
    last.ckpt_mtime = ck_mtime;
  }
  return a[0]->Analyze({last.cache, info.model, info.train.p, epoch, last.ev->basis});
}

AnalyzeReport AnalyzeRun(const fs::path& run_dir, const AnalyzeOptions& opt,
                         const std::function<void(const AnalyzeProgress&)>& on_progress,
                         const std::function<bool()>& should_stop) {
  const RunInfo info = LoadRun(run_dir);
  const std::vector<std::string> names = opt.analyzers.empty() ? FamilyAnalyzers(run_dir) : opt.analyzers;
  const auto analyzers = MakeAll(names, info);
  const io::RunPaths paths{run_dir};
  for (const auto& a : analyzers) fs::create_directories(paths.ArtifactsDir(a->name()));
  const int p = info.train.p;
  auto stop = [&] { return should_stop && should_stop(); };

  AnalyzeReport report;
  std::mutex mu;  // guards report, progress
  std::set<int> done_epochs;
  auto last_new = Clock::now();
  bool summaries_current = false;

  for (;;) {
    // Which checkpoints need work, and which analyzers for each.
    std::deque<std::pair<int, std::vector<const Analyzer*>>> todo;
    const std::vector<int> epochs = io::ListCheckpointEpochs(run_dir);
    for (int e : epochs) {
      if (done_epochs.count(e)) continue;
      std::vector<const Analyzer*> need;
      for (const auto& a : analyzers) {
        const fs::path path = paths.Artifact(a->name(), e);
        if (!fs::exists(path)) {
          need.push_back(a.get());
          continue;
        }
        try {
          CheckShapes(io::ReadNpz(path), a->ArtifactShapes(info.model, p), path);
        } catch (const io::IoError& err) {
          report.warnings.push_back(std::string(err.what()) + "; recomputing it");
          need.push_back(a.get());
        }
      }
      if (need.empty()) {
        ++report.skipped;
        done_epochs.insert(e);
      } else {
        todo.emplace_back(e, std::move(need));
      }
    }

    if (!todo.empty()) {
      summaries_current = false;
      last_new = Clock::now();
      AnalyzeProgress prog;
      prog.total = int(todo.size());
      const auto t0 = Clock::now();
      auto worker = [&] {
        Evaluator ev(info);
        for (;;) {
          std::pair<int, std::vector<const Analyzer*>> job;
          {
            std::lock_guard<std::mutex> lock(mu);
            if (todo.empty() || stop()) return;
            job = std::move(todo.front());
            todo.pop_front();
          }
          const int e = job.first;
          try {
            model::ActivationCache cache;
            ev.Forward(paths.Checkpoint(e), cache);
            for (const Analyzer* a : job.second)
              io::WriteNpz(paths.Artifact(a->name(), e), a->Analyze({cache, info.model, p, e, ev.basis}));
            std::lock_guard<std::mutex> lock(mu);
            ++report.analysed;
            done_epochs.insert(e);
          } catch (const io::IoError& err) {
            std::lock_guard<std::mutex> lock(mu);
            report.warnings.push_back(std::string(err.what()) + "; checkpoint skipped");
            done_epochs.insert(e);
          }
          std::lock_guard<std::mutex> lock(mu);
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

    if (!summaries_current) {
      std::vector<int> have(done_epochs.begin(), done_epochs.end());
      for (const auto& a : analyzers) {
        if (!a->has_summary()) continue;
        std::vector<int> ep;
        std::vector<io::NpzArchive> per_epoch;
        for (int e : have) {
          try {
            const fs::path path = paths.Artifact(a->name(), e);
            per_epoch.push_back(io::ReadNpz(path));
            CheckShapes(per_epoch.back(), a->ArtifactShapes(info.model, p), path);
            ep.push_back(e);
          } catch (const io::IoError&) {  // reported above
            if (per_epoch.size() > ep.size()) per_epoch.pop_back();
          }
        }
        if (!ep.empty())
          io::WriteNpz(paths.ArtifactsDir(a->name()) / "summary.npz", a->ComputeSummary(ep, per_epoch));
      }
      summaries_current = true;
    }
    if (!opt.follow) break;
    const bool final_done = done_epochs.count(info.train.epochs) > 0;
    if (final_done && Clock::now() - last_new > std::chrono::duration<double>(opt.follow_idle_exit_seconds)) break;
    std::this_thread::sleep_for(std::chrono::duration<double>(opt.follow_poll_seconds));
    if (stop()) break;
  }
  return report;
}

}  // namespace hs::analyzers
