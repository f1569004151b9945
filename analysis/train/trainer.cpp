// Grokking trainer (see trainer.h). AdamW is written out here rather than
// taken from torch::optim so that its state is plain named tensors that
// round-trip through train_state.safetensors bit for bit.
#include "train/trainer.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <atomic>
#include <algorithm>
#include <chrono>
#include <thread>
#include <cmath>
#include <nlohmann/json.hpp>

#include "io/atomic_file.h"
#include "io/run_dir.h"
#include "io/safetensors.h"
#include "model/hooked_transformer.h"
#include "model/tensor_io.h"
#include "families/modadd_task.h"
#include "train/modadd_kernel.h"
#include "jobs/thread_policy.h"

namespace hs::train {
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

struct Trainer::Impl {
  TrainConfig cfg;
  io::RunPaths paths;
  CheckpointSchedule schedule;
  model::HookedTransformer model{nullptr};
  families::ModAddData data;
  std::vector<std::string> names;  // TL parameter names, fixed order
  std::vector<torch::Tensor> params, exp_avg, exp_avg_sq, ema;
  int64_t adam_step = 0;
  int start_epoch = 0;
  bool complete = false;  // the folder already holds the finished run
  struct RunLock {        // flock on <run>/.train.lock, held while this trainer lives
    int fd = -1;
    ~RunLock() {
      if (fd >= 0) ::close(fd);  // releases it, also when the constructor throws later
    }
  } lock;
  std::vector<io::MetricsRow> rows;
  // metrics.csv's text for rows[0, csv_rows): formatted once, not at every
  // flush (10,000 rows took ~20 ms a second late in a run).
  std::string csv;
  size_t csv_rows = 0;

  Impl(TrainConfig c, fs::path dir) : cfg(std::move(c)), paths{std::move(dir)} {
    cfg.Validate();
    schedule = CheckpointSchedule::Parse(cfg.checkpoint_schedule);
    std::error_code ec;
    fs::create_directories(paths.CheckpointsDir(), ec);
    if (ec)
      throw io::IoError("cannot create run folder " + paths.dir.string() + ": " + ec.message() +
                        "; choose a writable --out folder");
    // One trainer per run folder: a second writer would interleave checkpoints.
    lock.fd = ::open((paths.dir / ".train.lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (lock.fd < 0 || ::flock(lock.fd, LOCK_EX | LOCK_NB) != 0) {
      throw io::IoError(paths.dir.string() +
                        " is being trained by another process right now; "
                        "wait for it (the explorer follows it live) or stop it first");
    }
    if (fs::exists(paths.Config())) {
      TrainConfig old;
      try {
        old = nlohmann::json::parse(io::ReadFile(paths.Config())).get<TrainConfig>();
      } catch (const nlohmann::json::exception& e) {
        throw io::IoError(paths.Config().string() + ": not a valid run config (" + e.what() +
                          "); move the folder away to start afresh");
      }
      std::string why;
      if (!cfg.SameTraining(old, &why))
        throw io::IoError(paths.dir.string() + " holds a run with different settings (" + why +
                          "); choose another --out or remove that folder");
    }
    io::WriteFileAtomic(paths.Config(), nlohmann::json(cfg).dump(2) + "\n");

    model = model::HookedTransformer(cfg.Model());
    model->InitWeights(static_cast<uint64_t>(cfg.model_seed));
    data = families::MakeModAddData(cfg.p, cfg.train_frac, cfg.data_seed);
    for (auto& np : model->named_parameters()) {
      names.push_back(np.key());
      params.push_back(np.value());
      exp_avg.push_back(torch::zeros_like(np.value()));
      exp_avg_sq.push_back(torch::zeros_like(np.value()));
      ema.push_back(torch::zeros_like(np.value()));
    }
    if (fs::exists(paths.TrainState())) LoadState();
    rows = io::ReadMetricsCsv(paths.Metrics());
    complete = start_epoch >= cfg.epochs && fs::exists(paths.Checkpoint(start_epoch)) && !rows.empty() &&
               rows.back().epoch == start_epoch;
    if (complete) return;
    while (!rows.empty() && rows.back().epoch >= start_epoch) rows.pop_back();
  }

  void LoadState() {
    io::SafetensorsFile f;
    try {
      f = io::ReadSafetensors(paths.TrainState());
    } catch (const io::IoError& e) {
      throw io::IoError(std::string(e.what()) +
                        "; cannot resume. Move train_state.safetensors away to restart from epoch 0");
    }
    auto get = [&](const std::string& key, const torch::Tensor& like) {
      auto it = f.tensors.find(key);
      if (it == f.tensors.end()) throw io::IoError(paths.TrainState().string() + ": lacks tensor '" + key + "'");
      torch::Tensor t = model::FromArray(it->second);
      if (t.sizes() != like.sizes())
        throw io::IoError(paths.TrainState().string() + ": tensor '" + key + "' has the wrong shape");
      return t;
    };
    torch::NoGradGuard ng;
    for (size_t i = 0; i < names.size(); ++i) {
      params[i].copy_(get("model." + names[i], params[i]));
      exp_avg[i] = get("adam.exp_avg." + names[i], params[i]);
      exp_avg_sq[i] = get("adam.exp_avg_sq." + names[i], params[i]);
      if (cfg.grokfast) ema[i] = get("grokfast.ema." + names[i], params[i]);
    }
    try {
      start_epoch = std::stoi(f.metadata.at("epoch"));
      adam_step = std::stoll(f.metadata.at("adam_step"));
    } catch (const std::exception&) {
      throw io::IoError(paths.TrainState().string() + ": metadata lacks epoch/adam_step");
    }
  }

  void SaveState(int epoch) {
    io::SafetensorsFile f;
    for (size_t i = 0; i < names.size(); ++i) {
      f.tensors["model." + names[i]] = model::ToArray(params[i]);
      f.tensors["adam.exp_avg." + names[i]] = model::ToArray(exp_avg[i]);
      f.tensors["adam.exp_avg_sq." + names[i]] = model::ToArray(exp_avg_sq[i]);
      if (cfg.grokfast) f.tensors["grokfast.ema." + names[i]] = model::ToArray(ema[i]);
    }
    f.metadata = {
        {"epoch", std::to_string(epoch)}, {"adam_step", std::to_string(adam_step)}, {"variant", cfg.VariantName()}};
    io::WriteSafetensors(paths.TrainState(), f);
  }

  void FlushMetrics() {
    if (csv_rows > rows.size()) csv.clear(), csv_rows = 0;  // rows were dropped (resume)
    if (csv.empty()) csv = io::FormatMetricsCsv({}), csv_rows = 0;
    if (csv_rows < rows.size()) {
      const std::string more = io::FormatMetricsCsv({rows.begin() + csv_rows, rows.end()});
      csv.append(more, more.find('\n') + 1, std::string::npos);  // without its header
      csv_rows = rows.size();
    }
    io::WriteFileAtomic(paths.Metrics(), csv);
  }

  // One AdamW step (decoupled weight decay, as torch.optim.AdamW) with the
  // optional Grokfast-EMA filter, in one pass over each parameter in float.
  void Step(ModAddKernel& kernel) {
    ++adam_step;
    const double bc1 = 1.0 - std::pow(cfg.beta1, double(adam_step));
    const double bc2 = 1.0 - std::pow(cfg.beta2, double(adam_step));
    const float decay = static_cast<float>(1.0 - cfg.lr * cfg.weight_decay);
    const float b1 = static_cast<float>(cfg.beta1), b2 = static_cast<float>(cfg.beta2);
    const float c1 = static_cast<float>(1.0 - cfg.beta1), c2 = static_cast<float>(1.0 - cfg.beta2);
    const float inv_sqrt_bc2 = static_cast<float>(1.0 / std::sqrt(bc2)), eps = static_cast<float>(cfg.adam_eps);
    const float step = static_cast<float>(-cfg.lr / bc1);
    const float ga = static_cast<float>(cfg.grokfast_alpha), gc = static_cast<float>(1.0 - cfg.grokfast_alpha);
    const float gl = static_cast<float>(cfg.grokfast_lambda);
    // Each of the kernel's threads updates its share of every parameter.
    kernel.ParallelFor([&](int t, int T) {
    for (size_t i = 0; i < params.size(); ++i) {
      float* __restrict p = params[i].data_ptr<float>();
      float* __restrict g = params[i].mutable_grad().data_ptr<float>();
      float* __restrict m = exp_avg[i].data_ptr<float>();
      float* __restrict v = exp_avg_sq[i].data_ptr<float>();
      float* __restrict e = ema[i].data_ptr<float>();
      const int64_t n0 = params[i].numel() * t / T, n = params[i].numel() * (t + 1) / T;
      if (cfg.grokfast) {  // Grokfast-EMA (Lee et al. 2024): amplify the slow gradient component
        for (int64_t j = n0; j < n; ++j) {
          e[j] = adam_step == 1 ? g[j] : e[j] * ga + gc * g[j];
          g[j] = g[j] + gl * e[j];
        }
      }
      for (int64_t j = n0; j < n; ++j) {
        m[j] = m[j] * b1 + c1 * g[j];
        v[j] = v[j] * b2 + c2 * (g[j] * g[j]);
        p[j] = p[j] * decay + step * (m[j] / (std::sqrt(v[j]) * inv_sqrt_bc2 + eps));
      }
    }
    });
    // Written through raw pointers: tell torch's version counter, which
    // caches of derived tensors (the kernel's tables) key on.
    for (auto& p : params) p.unsafeGetTensorImpl()->bump_version();
  }

  int Run(const TrainHooks& hooks) {
    at::globalContext().setFlushDenormal(true);
    if (complete) return start_epoch;
    auto examples = [&](const torch::Tensor& idx) {
      ModAddExamples ex;
      const torch::Tensor tok = data.all_tokens.index_select(0, idx).to(torch::kInt32).contiguous();
      const torch::Tensor lab = data.all_labels.index_select(0, idx).to(torch::kInt32).contiguous();
      const int32_t* t = tok.data_ptr<int32_t>();
      for (int64_t i = 0; i < tok.size(0); ++i) {
        ex.a.push_back(t[3 * i]);
        ex.b.push_back(t[3 * i + 1]);
      }
      ex.y.assign(lab.data_ptr<int32_t>(), lab.data_ptr<int32_t>() + lab.numel());
      return ex;
    };
    const ModAddExamples train_ex = examples(data.train_idx), test_ex = examples(data.test_idx);
    ModAddKernel kernel(*model, jobs::TrainingThreads());

    auto last_flush = Clock::now(), last_state = Clock::now(), last_epoch_t = Clock::now();
    double ms_avg = 0;
    double test_loss = 0, test_acc = 0;
    int test_epoch = 0;
    int e = start_epoch;
    for (;; ++e) {
      if (hooks.should_stop && hooks.should_stop()) {
        if (hooks.save_state_on_stop) {
          SaveState(e);
          FlushMetrics();
        }
        return e;
      }
      // Loss and accuracy at the weights after e steps, and their gradients.
      const LossAcc train = kernel.ForwardBackward(train_ex);
      io::MetricsRow row;
      row.epoch = e;
      row.train_loss = train.loss;
      row.train_acc = train.acc;
      // The test set costs most of a step: evaluate it every eval_every
      // epochs, at every checkpoint, the first and last epoch, and every
      // epoch while someone asks (the explorer's "test every epoch").
      if (e % cfg.eval_every == 0 || e >= cfg.epochs || e == start_epoch || schedule.IsCheckpoint(e, cfg.epochs) ||
          (hooks.eval_every_epoch && hooks.eval_every_epoch())) {
        test_epoch = e;
        const LossAcc test = kernel.Evaluate(test_ex);
        test_loss = test.loss;
        test_acc = test.acc;
      }
      row.test_loss = test_loss;
      row.test_acc = test_acc;
      row.test_epoch = test_epoch;
      rows.push_back(row);

      TrainProgress prog;
      const auto now = Clock::now();
      if (schedule.IsCheckpoint(e, cfg.epochs)) {
        model::SaveCheckpoint(paths.Checkpoint(e), *model,
                              {{"epoch", std::to_string(e)}, {"variant", cfg.VariantName()}});
        SaveState(e);
        FlushMetrics();
        last_flush = last_state = now;
        prog.wrote_checkpoint = true;
      } else if (now - last_flush > std::chrono::seconds(1)) {
        FlushMetrics();
        last_flush = now;
        if (now - last_state > std::chrono::seconds(60)) {
          SaveState(e);
          last_state = now;
        }
      }
      const double ms = std::chrono::duration<double, std::milli>(now - last_epoch_t).count();
      last_epoch_t = now;
      if (e > start_epoch) ms_avg = ms_avg == 0 ? ms : 0.95 * ms_avg + 0.05 * ms;
      prog.epoch = e;
      prog.total_epochs = cfg.epochs;
      prog.start_epoch = start_epoch;
      prog.train_loss = row.train_loss;
      prog.test_loss = row.test_loss;
      prog.train_acc = row.train_acc;
      prog.test_acc = row.test_acc;
      prog.test_epoch = row.test_epoch;
      prog.ms_per_epoch = ms_avg;
      prog.eta_seconds = ms_avg * (cfg.epochs - e) / 1000.0;
      if (hooks.on_epoch) hooks.on_epoch(prog);
      if (e >= cfg.epochs) break;

      Step(kernel);
    }
    return e;
  }
};

Trainer::Trainer(TrainConfig cfg, fs::path run_dir) : m(std::make_unique<Impl>(std::move(cfg), std::move(run_dir))) {}
Trainer::~Trainer() = default;
int Trainer::Run(const TrainHooks& hooks) { return m->Run(hooks); }
int Trainer::start_epoch() const { return m->start_epoch; }
const TrainConfig& Trainer::config() const { return m->cfg; }

}  // namespace hs::train
