// Tests: the trainer learns, checkpoints on schedule, resumes exactly after
// a kill, and refuses bad settings with a sentence saying what to change.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "io/atomic_file.h"
#include "io/run_dir.h"
#include "io/safetensors.h"
#include "test_util.h"
#include "train/trainer.h"
#include "jobs/thread_policy.h"

using namespace hs;
namespace fs = std::filesystem;

namespace {
// Small enough to train in seconds; big enough to generalise (the test
// split is 20% of 23*23 pairs, ~106 held-out sums).
train::TrainConfig TinyConfig() {
  train::TrainConfig c;
  c.p = 23;
  c.d_model = 64;
  c.n_heads = 4;
  c.d_head = 16;
  c.d_mlp = 128;
  c.train_frac = 0.8;
  c.lr = 3e-3;
  c.weight_decay = 1.0;
  c.epochs = 1500;
  c.checkpoint_schedule = "0:100,1000:250";
  return c;
}
}  // namespace

TEST_CASE("a tiny configuration learns modular addition and generalises", "[train]") {
  test::TempDir dir("grok");
  jobs::ConfigureTorchForTraining(1);
  auto cfg = TinyConfig();
  train::Trainer t(cfg, dir.path / "run");
  double best_test = 0;
  train::TrainHooks hooks;
  hooks.on_epoch = [&](const train::TrainProgress& p) { best_test = std::max(best_test, p.test_acc); };
  CHECK(t.Run(hooks) == cfg.epochs);
  const auto rows = io::ReadMetricsCsv(dir.path / "run" / "metrics.csv");
  REQUIRE(rows.size() == size_t(cfg.epochs + 1));
  CHECK(rows.front().epoch == 0);
  CHECK(rows.back().epoch == cfg.epochs);
  INFO("final train acc " << rows.back().train_acc << ", test acc " << rows.back().test_acc);
  CHECK(rows.back().train_acc == 1.0);
  CHECK(rows.back().test_acc > 0.9);
  CHECK(rows.front().test_acc < 0.2);  // it really had to learn
  // Checkpoints follow the schedule, including epoch 0 and the last epoch.
  const auto epochs = io::ListCheckpointEpochs(dir.path / "run");
  const std::vector<int> expected = {0, 100, 200, 300, 400, 500, 600, 700, 800, 900, 1000, 1250, 1500};
  CHECK(epochs == expected);
  const auto ck = io::ReadSafetensors(dir.path / "run" / "checkpoints" / "epoch_01500.safetensors");
  CHECK(ck.tensors.count("blocks.0.attn.W_Q"));
  CHECK(ck.metadata.at("epoch") == "1500");
  const auto cfg_json = nlohmann::json::parse(io::ReadFile(dir.path / "run" / "config.json"));
  CHECK(cfg_json.at("p") == 23);
  CHECK(cfg_json.at("model").at("d_mlp") == 128);
}

TEST_CASE("a killed run resumes and ends with the same weights as an uninterrupted run", "[train][resume]") {
  test::TempDir dir("resume");
  jobs::ConfigureTorchForTraining(1);
  for (bool grokfast : {false, true}) {
    INFO("grokfast " << grokfast);
    auto cfg = TinyConfig();
    cfg.epochs = 260;
    cfg.checkpoint_schedule = "0:50";
    cfg.grokfast = grokfast;
    const fs::path a = dir.path / ("straight" + std::to_string(grokfast));
    const fs::path b = dir.path / ("killed" + std::to_string(grokfast));
    train::Trainer(cfg, a).Run();

    {  // "kill" at epoch 137: no state saved beyond the checkpoint at 100
      train::Trainer t(cfg, b);
      train::TrainHooks hooks;
      int seen = 0;
      hooks.on_epoch = [&](const train::TrainProgress& p) { seen = p.epoch; };
      hooks.should_stop = [&] { return seen >= 137; };
      hooks.save_state_on_stop = false;
      CHECK(t.Run(hooks) == 138);
    }
    {
      train::Trainer resumed(cfg, b);
      CHECK(resumed.start_epoch() == 100);
      CHECK(resumed.Run() == cfg.epochs);
    }

    const auto wa = io::ReadSafetensors(a / "checkpoints" / "epoch_00260.safetensors");
    const auto wb = io::ReadSafetensors(b / "checkpoints" / "epoch_00260.safetensors");
    REQUIRE(wa.tensors.size() == wb.tensors.size());
    for (const auto& [name, t] : wa.tensors) {
      INFO(name);
      CHECK(wb.tensors.at(name).bytes == t.bytes);  // bit-identical
    }
    const auto ra = io::ReadMetricsCsv(a / "metrics.csv");
    const auto rb = io::ReadMetricsCsv(b / "metrics.csv");
    REQUIRE(ra.size() == rb.size());
    CHECK(ra.back().train_loss == rb.back().train_loss);
    // A finished run is not retrained.
    train::Trainer again(cfg, b);
    CHECK(again.Run() == cfg.epochs);
    CHECK(io::ReadMetricsCsv(b / "metrics.csv").size() == ra.size());
  }
}

TEST_CASE("bad settings are refused with a sentence that says what to change", "[train]") {
  auto bad = [](auto mutate, const std::string& needle) {
    train::TrainConfig c;
    mutate(c);
    try {
      c.Validate();
      FAIL("accepted a config expecting '" << needle << "'");
    } catch (const std::invalid_argument& e) {
      INFO(e.what());
      CHECK(std::string(e.what()).find(needle) != std::string::npos);
    }
  };
  bad([](auto& c) { c.p = 114; }, "--p 114 is not a prime");
  bad([](auto& c) { c.p = 2; }, "not a prime >= 3");
  bad([](auto& c) { c.train_frac = 1.0; }, "--train-frac");
  bad([](auto& c) { c.train_frac = 0; }, "strictly between 0 and 1");
  bad([](auto& c) { c.checkpoint_schedule = "0:0"; }, "FROM:EVERY");
  bad([](auto& c) { c.lr = -1; }, "--lr");

  // A run folder that cannot be created.
  test::TempDir dir("unwritable");
  io::WriteFileAtomic(dir.path / "file", "x");
  CHECK_THROWS_WITH(train::Trainer(TinyConfig(), dir.path / "file" / "run"),
                    Catch::Contains("cannot create run folder") && Catch::Contains("writable --out"));
  // Two trainers never write the same folder at once.
  {
    train::Trainer first(TinyConfig(), dir.path / "locked");
    CHECK_THROWS_WITH(train::Trainer(TinyConfig(), dir.path / "locked"), Catch::Contains("being trained by another process"));
  }
  CHECK_NOTHROW(train::Trainer(TinyConfig(), dir.path / "locked"));  // released with the first
  // A folder holding a run with other settings is not silently mixed.
  auto cfg = TinyConfig();
  cfg.epochs = 1;
  train::Trainer(cfg, dir.path / "run").Run();
  cfg.lr = 1e-2;
  CHECK_THROWS_WITH(train::Trainer(cfg, dir.path / "run"), Catch::Contains("different settings"));
}

TEST_CASE("variant names, schedules and data splits", "[train]") {
  train::TrainConfig c;
  CHECK(c.VariantName() == "p113_seed999");
  c.grokfast = true;
  c.train_frac = 0.5;
  CHECK(c.VariantName() == "p113_seed999_frac0.5_grokfast");
  const auto s = train::CheckpointSchedule::Parse("0:50,1000:100,5000:250");
  CHECK(s.IsCheckpoint(0, 25000));
  CHECK(s.IsCheckpoint(950, 25000));
  CHECK_FALSE(s.IsCheckpoint(1050, 25000));
  CHECK(s.IsCheckpoint(5250, 25000));
  CHECK(s.IsCheckpoint(25000, 25000));
  CHECK(s.IsCheckpoint(123, 123));
  CHECK(s.Epochs(25000).size() == 20 + 40 + 81);
}
