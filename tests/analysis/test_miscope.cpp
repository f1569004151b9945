// Tests: a MIScope variant folder (github.com/roaringsurfdev/miscope) opened
// as it is. A tiny headscope run is trained and analysed, the same run is
// written in MIScope's layout by hand (checkpoint_epoch_NNNNN.safetensors
// with TransformerLens's extra tensors, config.json as its
// build_config_dict writes it, metadata.json as Variant.train writes it),
// opened through families::ResolveRunDir and analysed: the summaries and the
// findings must equal the original run's, and MIScope's tree must be left
// exactly as it was. Bad inputs must name the file and what is wrong.
#include <torch/torch.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <cstdlib>
#include <functional>
#include <limits>
#include <nlohmann/json.hpp>

#include "analyzers/findings.h"
#include "analyzers/pipeline.h"
#include "families/miscope_run.h"
#include "families/modadd_task.h"
#include "families/run_info.h"
#include "io/atomic_file.h"
#include "io/npz.h"
#include "io/run_dir.h"
#include "io/safetensors.h"
#include "jobs/thread_policy.h"
#include "test_util.h"
#include "train/trainer.h"

using namespace hs;
namespace fs = std::filesystem;

namespace miscope_test {

// XDG_CACHE_HOME pointed at a test folder for the scope (the side folders go there).
struct CacheHomeGuard {
  bool had = false;
  std::string old;
  explicit CacheHomeGuard(const fs::path& dir) {
    if (const char* v = std::getenv("XDG_CACHE_HOME")) had = true, old = v;
    ::setenv("XDG_CACHE_HOME", dir.c_str(), 1);
  }
  ~CacheHomeGuard() {
    if (had) ::setenv("XDG_CACHE_HOME", old.c_str(), 1);
    else ::unsetenv("XDG_CACHE_HOME");
  }
};

std::string CheckpointName(int epoch) {
  char name[64];
  std::snprintf(name, sizeof name, "checkpoint_epoch_%05d.safetensors", epoch);
  return name;
}

std::vector<int64_t> IndexVector(const torch::Tensor& t) {
  const torch::Tensor c = t.to(torch::kInt64).contiguous();
  return std::vector<int64_t>(c.data_ptr<int64_t>(), c.data_ptr<int64_t>() + c.numel());
}

// Every entry under `d` with its size and modification time, sorted.
std::vector<std::string> Listing(const fs::path& d) {
  std::vector<std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(d))
    out.push_back(e.path().string() + ":" + std::to_string(e.is_regular_file() ? e.file_size() : 0) + ":" +
                  std::to_string(fs::last_write_time(e.path()).time_since_epoch().count()));
  std::sort(out.begin(), out.end());
  return out;
}

struct MiscopeFolder {
  nlohmann::json config, metadata;
};

// `run` (a trained headscope run) written by hand in MIScope's layout at `ms`.
MiscopeFolder WriteAsMiscope(const train::TrainConfig& c, const fs::path& run, const fs::path& ms) {
  fs::create_directories(ms / "checkpoints");
  fs::create_directories(ms / "artifacts" / "attention_freq");  // MIScope's own artifacts: not read
  io::WriteFileAtomic(ms / "artifacts" / "attention_freq" / "attention_freq_epoch_00000.npz", "MIScope's own");
  const std::vector<int> epochs = io::ListCheckpointEpochs(run);
  for (int e : epochs) {
    io::SafetensorsFile f = io::ReadSafetensors(io::RunPaths{run}.Checkpoint(e));
    f.metadata.clear();  // safetensors.torch.save_file(state_dict, path): no metadata
    // What HookedTransformer.state_dict() has beyond headscope's parameters:
    // the causal mask and IGNORE buffers, and the biases MIScope freezes at 0.
    io::Array mask = io::Array::Zeros(io::DType::Bool, {3, 3});
    for (int i = 0; i < 3; ++i)
      for (int j = 0; j <= i; ++j) mask.mutable_data<uint8_t>()[i * 3 + j] = 1;
    f.tensors["blocks.0.attn.mask"] = mask;
    f.tensors["blocks.0.attn.IGNORE"] = io::Array::F32({}, std::vector<float>{-std::numeric_limits<float>::infinity()});
    for (const char* b : {"b_Q", "b_K", "b_V"})
      f.tensors[std::string("blocks.0.attn.") + b] = io::Array::Zeros(io::DType::F32, {c.n_heads, c.d_head});
    f.tensors["blocks.0.attn.b_O"] = io::Array::Zeros(io::DType::F32, {c.d_model});
    f.tensors["unembed.b_U"] = io::Array::Zeros(io::DType::F32, {c.p});
    io::WriteSafetensors(ms / "checkpoints" / CheckpointName(e), f);
  }
  MiscopeFolder out;
  // ModuloAddition1LayerFamily.build_config_dict: the model's cfg, then the
  // domain parameters (prime, seed, data_seed), model_seed, data_seed, fraction.
  out.config = {{"n_layers", 1},
                {"n_heads", c.n_heads},
                {"d_model", c.d_model},
                {"d_head", c.d_head},
                {"d_mlp", c.d_mlp},
                {"act_fn", "relu"},
                {"normalization_type", nullptr},
                {"d_vocab", c.p + 1},
                {"d_vocab_out", c.p},
                {"n_ctx", 3},
                {"seed", c.model_seed},
                {"prime", c.p},
                {"data_seed", c.data_seed},
                {"model_seed", c.model_seed},
                {"training_fraction", c.train_frac}};
  io::WriteFileAtomic(ms / "config.json", out.config.dump(2));
  // Variant._save_metadata: losses per epoch, the split, the checkpoints.
  std::vector<double> train_losses, test_losses;
  for (const auto& r : io::ReadMetricsCsv(io::RunPaths{run}.Metrics())) {
    REQUIRE(r.epoch == int(train_losses.size()));  // one row per epoch from 0
    REQUIRE(r.test_epoch == r.epoch);              // evaluated every epoch, as MIScope does
    train_losses.push_back(r.train_loss), test_losses.push_back(r.test_loss);
  }
  const families::ModAddData d = families::MakeModAddData(c.p, c.train_frac, c.data_seed);
  out.metadata = {{"train_losses", train_losses},
                  {"test_losses", test_losses},
                  {"train_indices", IndexVector(d.train_idx)},
                  {"test_indices", IndexVector(d.test_idx)},
                  {"checkpoint_epochs", epochs},
                  {"num_epochs", int(train_losses.size())}};
  io::WriteFileAtomic(ms / "metadata.json", out.metadata.dump());
  return out;
}

}  // namespace miscope_test

TEST_CASE("a MIScope variant folder of a trained run analyses to the original's summaries and findings, read-only",
          "[miscope]") {
  using namespace miscope_test;
  test::TempDir tmp("miscope_run");
  CacheHomeGuard cache(tmp.path / "cache");
  jobs::ConfigureTorchForTraining(1);
  train::TrainConfig c;
  // Small enough to train in seconds, large enough that every head gets a
  // specialization onset and the neurons key frequencies (Grokfast).
  c.p = 23, c.d_model = 64, c.n_heads = 4, c.d_head = 16, c.d_mlp = 128, c.train_frac = 0.6, c.lr = 0.01;
  c.grokfast = true;
  c.epochs = 3000, c.checkpoint_schedule = "0:100", c.eval_every = 1;
  const fs::path orig = tmp.path / "runs" / "modadd_1l" / c.VariantName();
  train::Trainer(c, orig).Run();
  analyzers::AnalyzeOptions opt;  // the family's analyzers
  opt.threads = 1;
  CHECK(analyzers::AnalyzeRun(orig, opt).warnings.empty());

  const fs::path results = tmp.path / "results";
  const fs::path ms = results / "modulo_addition_1layer" / ("p" + std::to_string(c.p) + "_seed999");
  const MiscopeFolder folder = WriteAsMiscope(c, orig, ms);
  const auto before = Listing(results);

  REQUIRE(families::IsMiscopeVariant(ms));
  CHECK_FALSE(families::IsMiscopeVariant(orig));
  CHECK(families::ResolveRunDir(orig) == orig);  // a headscope run is itself
  // Opened directly (the explorer's run list), it is named for what it is.
  CHECK_THROWS_WITH(families::LoadRunInfo(ms), Catch::Contains(ms.string()) && Catch::Contains("MIScope variant folder"));
  const fs::path side = families::ResolveRunDir(ms);
  INFO("side folder " << side);
  // The side folder is under $XDG_CACHE_HOME/headscope/miscope/, outside MIScope's tree.
  CHECK(side.string().rfind((tmp.path / "cache" / "headscope" / "miscope").string() + "/", 0) == 0);
  CHECK(side.string().rfind(results.string(), 0) != 0);
  const auto info = families::LoadRunInfo(side);
  const auto orig_info = families::LoadRunInfo(orig);
  CHECK(info->p == c.p);
  CHECK(info->model.n_heads == c.n_heads);
  CHECK(io::ListCheckpointEpochs(side) == io::ListCheckpointEpochs(orig));
  const auto rows = io::ReadMetricsCsv(io::RunPaths{side}.Metrics());
  const auto orig_rows = io::ReadMetricsCsv(io::RunPaths{orig}.Metrics());
  REQUIRE(rows.size() == orig_rows.size());
  for (size_t i = 0; i < rows.size(); i += 37) {
    CHECK(rows[i].train_loss == orig_rows[i].train_loss);
    CHECK(rows[i].test_loss == orig_rows[i].test_loss);
    CHECK(std::isnan(rows[i].test_acc));  // not in MIScope's files
  }

  CHECK(analyzers::AnalyzeRun(side, opt).warnings.empty());
  // Every analyzer's summary, array by array, and one epoch's artifacts.
  int compared = 0;
  for (const auto& a : orig_info->analyzers) {
    const fs::path sx = io::RunPaths{orig}.ArtifactsDir(a) / "summary.npz";
    if (!fs::exists(sx)) continue;
    INFO(a);
    const fs::path sy = io::RunPaths{side}.ArtifactsDir(a) / "summary.npz";
    REQUIRE(fs::exists(sy));
    const auto x = io::ReadNpz(sx), y = io::ReadNpz(sy);
    REQUIRE(x.size() == y.size());
    for (const auto& [k, arr] : x) {
      INFO(k);
      REQUIRE(y.count(k));
      CHECK(arr.shape == y.at(k).shape);
      CHECK(arr.ToFloat() == y.at(k).ToFloat());
    }
    ++compared;
  }
  CHECK(compared >= 3);
  {
    const fs::path ex = io::RunPaths{orig}.Artifact("attention_freq", 1500), ey = io::RunPaths{side}.Artifact("attention_freq", 1500);
    REQUIRE(fs::exists(ey));
    const auto x = io::ReadNpz(ex), y = io::ReadNpz(ey);
    for (const auto& [k, arr] : x) CHECK(arr.ToFloat() == y.at(k).ToFloat());
  }
  // The findings: head onsets, locked frequencies, key frequencies, phases
  // from the test loss. The accuracy-based ones are empty for MIScope.
  const nlohmann::json fx = analyzers::ComputeFindings(*orig_info), fy = analyzers::ComputeFindings(*info);
  INFO("original findings " << fx.dump());
  REQUIRE(fx["heads"].size() == size_t(c.n_heads));
  int onsets = 0;
  for (size_t u = 0; u < size_t(c.n_heads); ++u) {
    INFO("head " << u);
    onsets += fx["heads"][u].value("specialization_onset", nlohmann::json()).is_number();
    for (const char* k : {"specialization_onset", "locked_freq", "final_dominant_freq", "coarseness"})
      CHECK(fy["heads"][u].value(k, nlohmann::json()) == fx["heads"][u].value(k, nlohmann::json()));
  }
  CHECK(onsets >= 1);  // the comparison is about real onsets, not only nulls
  REQUIRE(fx.value("key_frequencies", nlohmann::json()).size() >= 1);
  CHECK(fy.value("key_frequencies", nlohmann::json()) == fx.value("key_frequencies", nlohmann::json()));
  CHECK(fy.value("neurons_per_frequency", nlohmann::json()) == fx.value("neurons_per_frequency", nlohmann::json()));
  CHECK(fy["phases"] == fx["phases"]);
  CHECK(fy.value("test_loss_peak", nlohmann::json()) == fx.value("test_loss_peak", nlohmann::json()));
  CHECK(fy.value("test_loss_cliff", nlohmann::json()) == fx.value("test_loss_cliff", nlohmann::json()));
  REQUIRE(fx.contains("progress_measures"));
  CHECK(fy.value("progress_measures", nlohmann::json()) == fx["progress_measures"]);
  CHECK(fy["memorisation_epoch"].is_null());
  for (const auto& [t, e] : fy["test_accuracy_crossings"].items()) CHECK(e.is_null());
  // summary.json went to the side folder and reads back.
  CHECK(fs::exists(side / "summary.json"));
  CHECK_NOTHROW(analyzers::ReadFindings(side));

  // Nothing was written inside MIScope's tree, and opening again finds the
  // same side folder up to date.
  CHECK(Listing(results) == before);
  CHECK(families::ResolveRunDir(ms) == side);
  CHECK(analyzers::AnalyzeRun(side, opt).summaries_written == 0);
  CHECK(Listing(results) == before);
}

TEST_CASE("a bad MIScope variant folder is refused, naming the file and what is wrong", "[miscope]") {
  using namespace miscope_test;
  test::TempDir tmp("miscope_bad");
  CacheHomeGuard cache(tmp.path / "cache");
  jobs::ConfigureTorchForTraining(1);
  train::TrainConfig c;
  c.p = 7, c.d_model = 16, c.n_heads = 2, c.d_head = 8, c.d_mlp = 16, c.train_frac = 0.5;
  c.epochs = 20, c.checkpoint_schedule = "0:10", c.eval_every = 1;
  const fs::path orig = tmp.path / "runs" / "modadd_1l" / c.VariantName();
  train::Trainer(c, orig).Run();
  const fs::path good = tmp.path / "good" / "p7_seed999";
  const MiscopeFolder folder = WriteAsMiscope(c, orig, good);
  CHECK_NOTHROW(families::OpenMiscopeVariant(good));

  int n = 0;
  // A fresh copy of the good folder, changed by `edit`, must be refused with
  // a message containing every piece of `want`.
  auto refused = [&](const std::function<void(const fs::path&)>& edit, const std::vector<std::string>& want) {
    const fs::path bad = tmp.path / ("bad" + std::to_string(n++)) / "p7_seed999";
    fs::create_directories(bad.parent_path());
    fs::copy(good, bad, fs::copy_options::recursive);
    edit(bad);
    try {
      families::ResolveRunDir(bad);
      FAIL("accepted: " << bad);
    } catch (const io::IoError& e) {
      const std::string what = e.what();
      INFO(what);
      for (const auto& w : want) CHECK(what.find(w) != std::string::npos);
    }
  };
  const auto meta_without = [&](const char* key) {
    return [&, key](const fs::path& d) {
      nlohmann::json m = folder.metadata;
      m.erase(key);
      io::WriteFileAtomic(d / "metadata.json", m.dump());
    };
  };
  {
    INFO("metadata.json without test_indices");
    const fs::path b = tmp.path / ("bad" + std::to_string(n)) / "p7_seed999";
    refused(meta_without("test_indices"), {(b / "metadata.json").string(), "test_indices"});
  }
  {
    INFO("a checkpoint listed in checkpoint_epochs but missing");
    const fs::path b = tmp.path / ("bad" + std::to_string(n)) / "p7_seed999";
    refused([](const fs::path& d) { fs::remove(d / "checkpoints" / CheckpointName(10)); },
            {(b / "metadata.json").string(), CheckpointName(10), "missing"});
  }
  {
    INFO("a checkpoint on disk that checkpoint_epochs does not list");
    refused(
        [&](const fs::path& d) {
          nlohmann::json m = folder.metadata;
          m["checkpoint_epochs"] = {0, 20};
          io::WriteFileAtomic(d / "metadata.json", m.dump());
        },
        {CheckpointName(10), "checkpoint_epochs"});
  }
  {
    INFO("an index out of range");
    refused(
        [&](const fs::path& d) {
          nlohmann::json m = folder.metadata;
          m["test_indices"][0] = 49;
          io::WriteFileAtomic(d / "metadata.json", m.dump());
        },
        {"metadata.json", "\"test_indices\"[0]", "[0, 49)"});
  }
  {
    INFO("fewer losses than epochs");
    refused(
        [&](const fs::path& d) {
          nlohmann::json m = folder.metadata;
          m["num_epochs"] = 40;
          io::WriteFileAtomic(d / "metadata.json", m.dump());
        },
        {"metadata.json", "num_epochs"});
  }
  {
    INFO("config.json: a field of the wrong type");
    refused(
        [&](const fs::path& d) {
          nlohmann::json cfg = folder.config;
          cfg["d_mlp"] = "sixteen";
          io::WriteFileAtomic(d / "config.json", cfg.dump());
        },
        {"config.json", "d_mlp"});
  }
  {
    INFO("a checkpoint whose tensor does not fit config.json");
    refused(
        [&](const fs::path& d) {
          const fs::path ck = d / "checkpoints" / CheckpointName(10);
          io::SafetensorsFile f = io::ReadSafetensors(ck);
          f.tensors["blocks.0.mlp.W_in"] = io::Array::Zeros(io::DType::F32, {16, 8});
          io::WriteSafetensors(ck, f);
        },
        {CheckpointName(10), "blocks.0.mlp.W_in", "shape"});
  }
  {
    INFO("a bias headscope's model lacks that is not zero");
    refused(
        [&](const fs::path& d) {
          const fs::path ck = d / "checkpoints" / CheckpointName(20);
          io::SafetensorsFile f = io::ReadSafetensors(ck);
          f.tensors["unembed.b_U"] = io::Array::F32({7}, std::vector<float>{0, 0, 0.5f, 0, 0, 0, 0});
          io::WriteSafetensors(ck, f);
        },
        {CheckpointName(20), "unembed.b_U", "not zero"});
  }
}
