// Tests of the explorer's core without a window: request keys, run
// switching, retry after an error, lanes, metrics off the UI thread,
// malformed summaries shown as errors in their panel, the panel registry.
#include <imgui.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <fstream>
#include <thread>

#include "analysis/test_util.h"
#include "analyzers/pipeline.h"
#include "background_tasks.h"
#include "headless_imgui.h"
#include "io/atomic_file.h"
#include "io/run_dir.h"
#include "panel.h"
#include "requests.h"
#include "train/trainer.h"
#include "jobs/thread_policy.h"

using namespace hs;
namespace fs = std::filesystem;

namespace {

using hs::test::TempDir;

// A tiny trained run: p, 60 epochs, checkpoints at 0, 20, 40, 60.
fs::path TinyRun(const fs::path& root, int p, int n_heads = 4) {
  train::TrainConfig c;
  c.p = p;
  c.d_model = 32;
  c.n_heads = n_heads;
  c.d_head = 8;
  c.d_mlp = 48;
  c.train_frac = 0.8;
  c.lr = 3e-3;
  c.epochs = 60;
  c.checkpoint_schedule = "0:20";
  const fs::path run = root / "modadd_1l" / c.VariantName();
  jobs::ConfigureTorchForTraining(1);
  train::Trainer(c, run).Run();
  return run;
}

// Calls `f` until it returns a result that is not pending (jobs run in the
// background), at most 30 s.
template <class F>
auto Await(app::Requests& r, F f) {
  auto res = f();
  for (int i = 0; i < 3000 && res.pending; ++i) {
    r.jobs().WaitIdle();
    res = f();
  }
  return res;
}

using hs::test::HeadlessImGui;

}  // namespace

namespace {
// Draws `panel` for a few frames (jobs finish between frames).
void DrawFrames(app::Panel& panel, const app::ViewContext& v, app::Requests& r, int frames = 3) {
  for (int frame = 0; frame < frames; ++frame) {
    r.jobs().WaitIdle();
    ImGui::NewFrame();
    ImGui::Begin("w");
    app::PanelOutput out;
    panel.Draw(v, out);
    ImGui::End();
    ImGui::Render();
  }
}
}  // namespace

TEST_CASE("a request is keyed by run, analyzer and epoch: the same key runs nothing, a new one runs one job",
          "[app][requests]") {
  TempDir dir("req_keys");
  const fs::path run_dir = TinyRun(dir.path, 11);
  auto run = families::LoadRunInfo(run_dir);
  app::Requests r;
  auto ask = [&](int epoch) { return r.Artifact("grid", run, "attention_patterns", epoch); };
  auto first = ask(20);
  CHECK(first.pending);
  CHECK(first.value == nullptr);
  auto got = Await(r, [&] { return ask(20); });
  REQUIRE(got.value);
  CHECK(got.error.empty());
  CHECK(got.value->at("patterns").shape == std::vector<int64_t>{4, 3, 3, 11, 11});
  const auto submitted = r.jobs().Submitted();
  for (int i = 0; i < 50; ++i) CHECK(ask(20).value == got.value);  // same key: served, no job
  CHECK(r.jobs().Submitted() == submitted);
  auto other = Await(r, [&] { return ask(40); });  // new epoch: one job, a different result
  REQUIRE(other.value);
  CHECK(r.jobs().Submitted() == submitted + 1);
  CHECK(other.value->at("patterns").bytes != got.value->at("patterns").bytes);
  // Parameters are part of the key: another analyzer of the same epoch is another request.
  auto freq = Await(r, [&] { return r.Artifact("freq", run, "attention_freq", 40); });
  REQUIRE(freq.value);
  CHECK(freq.value->count("freq_matrix") == 1);
}

TEST_CASE("switching runs never shows the previous run's picture", "[app][requests]") {
  TempDir dir("req_switch");
  auto a = families::LoadRunInfo(TinyRun(dir.path, 11));
  auto b = families::LoadRunInfo(TinyRun(dir.path, 13, 3));
  app::Requests r;
  app::Shown<io::NpzArchive> shown;
  auto ra = Await(r, [&] { return r.Artifact("grid", a, "attention_patterns", 20); });
  shown.Update(ra, a->dir.string(), 20);
  REQUIRE(shown.value);
  // The next frame asks for run b: while it loads, nothing of run a is shown.
  auto rb = r.Artifact("grid", b, "attention_patterns", 20);
  CHECK(rb.pending);
  shown.Update(rb, b->dir.string(), 20);
  CHECK(shown.value == nullptr);
  rb = Await(r, [&] { return r.Artifact("grid", b, "attention_patterns", 20); });
  shown.Update(rb, b->dir.string(), 20);
  REQUIRE(shown.value);
  CHECK(shown.value->at("patterns").shape == std::vector<int64_t>{3, 3, 3, 13, 13});
  // Within one run, the previous epoch stays visible (marked stale) while the next loads.
  auto next = r.Artifact("grid", b, "attention_patterns", 40);
  shown.Update(next, b->dir.string(), 40);
  CHECK(shown.value != nullptr);
  CHECK(shown.stale(40));
}

TEST_CASE("a failed request shows an error naming the file and is retried only when its file changes",
          "[app][requests]") {
  TempDir dir("req_retry");
  const fs::path run_dir = TinyRun(dir.path, 11);
  auto run = families::LoadRunInfo(run_dir);
  const io::RunPaths paths{run_dir};
  const std::string good = io::ReadFile(paths.Checkpoint(40));
  io::WriteFileAtomic(paths.Checkpoint(40), good.substr(0, 200));  // truncated checkpoint, no artifact on disk
  app::Requests r;
  auto ask = [&] { return r.Artifact("grid", run, "attention_patterns", 40); };
  auto res = Await(r, ask);
  CHECK(res.value == nullptr);
  CHECK_THAT(res.error, Catch::Contains("epoch_00040.safetensors"));
  const auto submitted = r.jobs().Submitted();
  for (int i = 0; i < 20; ++i) CHECK(ask().error == res.error);  // same key, same file: no retry
  CHECK(r.jobs().Submitted() == submitted);
  io::WriteFileAtomic(paths.Checkpoint(40), good);  // the file is fixed: retried
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  res = Await(r, ask);
  REQUIRE(res.value);
  CHECK(res.error.empty());
  CHECK(r.jobs().Submitted() == submitted + 1);
}

TEST_CASE("a corrupt artifact on disk is recomputed from the checkpoint, never shown", "[app][requests]") {
  TempDir dir("req_corrupt");
  const fs::path run_dir = TinyRun(dir.path, 11);
  analyzers::AnalyzeRun(run_dir, {});
  auto run = families::LoadRunInfo(run_dir);
  const fs::path art = io::RunPaths{run_dir}.Artifact("attention_freq", 20);
  const io::NpzArchive good = io::ReadNpz(art);
  io::WriteFileAtomic(art, "PK\x03\x04 definitely not a zip");
  app::Requests r;
  auto res = Await(r, [&] { return r.Artifact("freq", run, "attention_freq", 20); });
  REQUIRE(res.value);
  // Same numbers as the analysed file (the on-demand path may round differently).
  const auto got = res.value->at("freq_matrix").ToFloat(), want = good.at("freq_matrix").ToFloat();
  REQUIRE(got.size() == want.size());
  float worst = 0;
  for (size_t i = 0; i < got.size(); ++i) worst = std::max(worst, std::abs(got[i] - want[i]));
  CHECK(worst < 1e-4f);
}

TEST_CASE("a superseded request is cancelled without leaving an error", "[app][requests]") {
  TempDir dir("req_cancel");
  auto run = families::LoadRunInfo(TinyRun(dir.path, 11));
  app::Requests r;
  for (int e : {0, 20, 40, 60, 0, 20}) r.Artifact("acts", run, "neuron_activations", e);  // a drag across epochs
  auto res = Await(r, [&] { return r.Artifact("acts", run, "neuron_activations", 60); });
  REQUIRE(res.value);
  CHECK(res.error.empty());
  CHECK(r.jobs().Executed() < r.jobs().Submitted());  // most were replaced before they ran
}

TEST_CASE("metrics.csv is parsed on the pool, not on the calling (UI) thread", "[app][requests]") {
  TempDir dir("req_metrics");
  const fs::path run_dir = TinyRun(dir.path, 11);
  app::Requests r;
  auto first = r.Metrics("metrics", run_dir);
  CHECK(first.pending);
  CHECK(first.value == nullptr);
  auto res = Await(r, [&] { return r.Metrics("metrics", run_dir); });
  REQUIRE(res.value);
  CHECK(res.value->epoch.size() == 61);
  CHECK(res.value->epoch.back() == 60);
  // A malformed file: an error naming it, after a change of the file.
  io::WriteFileAtomic(io::RunPaths{run_dir}.Metrics(), "epoch,train_loss,test_loss,train_acc,test_acc\n1,2,x\n");
  res = Await(r, [&] { return r.Metrics("metrics", run_dir); });
  CHECK_THAT(res.error, Catch::Contains("metrics.csv"));
}

TEST_CASE("a malformed summary.npz is an error in its panel naming the file, not garbage or a crash",
          "[app][requests][panels]") {
  TempDir dir("req_summary");
  const fs::path run_dir = TinyRun(dir.path, 11);
  analyzers::AnalyzeRun(run_dir, {});
  auto run = families::LoadRunInfo(run_dir);
  const fs::path path = io::RunPaths{run_dir}.ArtifactsDir("attention_freq") / "summary.npz";
  io::NpzArchive s = io::ReadNpz(path);
  const io::NpzArchive original = s;
  // dominant_freq_per_head shorter than epochs (the reported bug), then a missing key.
  s["dominant_freq_per_head"] = io::Array::I64({2, 4}, std::vector<int64_t>(8, 1));
  io::WriteNpz(path, s);
  app::Requests r;
  auto res = Await(r, [&] { return r.Summary("spec", run, "attention_freq"); });
  CHECK(res.value == nullptr);
  CHECK_THAT(res.error, Catch::Contains("summary.npz") && Catch::Contains("dominant_freq_per_head"));

  // The specialization panel draws the error instead of the plot, and reports it.
  HeadlessImGui ctx;
  const app::PanelDef* def = app::FindPanel("specialization");
  REQUIRE(def);
  auto panel = def->make();
  app::ViewContext v;
  v.run = run;
  v.epochs = {0, 20, 40, 60};
  v.epoch = 20;
  std::tie(v.query_pos, v.key_pos) = run->DefaultPair();
  v.requests = &r;
  DrawFrames(*panel, v, r);
  REQUIRE(panel->Errors().size() == 1);
  CHECK_THAT(panel->Errors()[0], Catch::Contains("summary.npz"));

  s = original;
  s.erase("max_frac_per_head");
  io::WriteNpz(path, s);
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  res = Await(r, [&] { return r.Summary("spec", run, "attention_freq"); });
  CHECK_THAT(res.error, Catch::Contains("max_frac_per_head"));
}

TEST_CASE("the panel registry names every panel shot can draw, each in the grokking workspace", "[app][panels]") {
  for (const char* name : {"heads", "head_freq", "specialization", "neurons", "loss", "compare", "compare_runs", "progress",
                           "trajectory", "findings"}) {
    INFO(name);
    const app::PanelDef* def = app::FindPanel(name);
    REQUIRE(def);
    CHECK(def->workspace == app::WorkspaceKind::Grokking);
    CHECK(def->make() != nullptr);
    CHECK(!def->title.empty());
  }
  CHECK(app::FindPanel("bogus") == nullptr);
  CHECK(app::PanelNameList(app::WorkspaceKind::Grokking).find("specialization") != std::string::npos);
}

TEST_CASE("Requests joins its workers before the store they write into is destroyed", "[app][requests]") {
  std::atomic<bool> finished{false};
  {
    app::Requests r;
    jobs::ArtifactStore& store = r.store();
    r.jobs().Submit("slow", jobs::Lane::Pool, [&store, &finished](const jobs::CancelToken& t) {
      for (int i = 0; i < 50 && !t.cancelled(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(2));
      io::NpzArchive a;
      a["x"] = io::Array::F32({1}, std::vector<float>{1});
      store.Put("late", std::make_shared<const io::NpzArchive>(std::move(a)));  // after the cancel: store still alive
      finished = true;
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }  // destroyed while the job runs
  CHECK(finished);
}

TEST_CASE("a family.json written by an older headscope gets the built-in's newer keys and keeps its own",
          "[app][runinfo]") {
  TempDir dir("runinfo_upgrade");
  const fs::path run_dir = TinyRun(dir.path, 11);
  const fs::path fam = run_dir.parent_path() / "family.json";
  // The file as the previous version wrote it: no "on_demand", its own pair.
  io::WriteFileAtomic(fam, R"({"name": "modadd_1l", "positions": ["a", "b", "="],
    "analyzers": ["attention_patterns", "attention_freq", "neuron_activations", "neuron_freq_norm", "coarseness"],
    "analyzer_params": {"attention_freq": {"query_pos": 2, "key_pos": 1}}})");
  auto info = families::LoadRunInfo(run_dir);
  CHECK(info->on_demand == std::vector<std::string>{"neuron_activations"});  // 3.5 GB not written for old runs
  CHECK(info->AnalyzerParams("attention_freq").value("key_pos", -1) == 1);  // the file's own choice kept
  // The run-level progress measures (newer than this file) join its list.
  CHECK(info->analyzers.back() == "progress_measures");
  CHECK(info->analyzers.size() == 6);
  // A malformed parameter entry is refused where the file is read, not in the frame loop.
  io::WriteFileAtomic(fam, R"({"positions": ["a", "b", "="], "analyzer_params": {"attention_freq": null}})");
  CHECK_THROWS_WITH(families::LoadRunInfo(run_dir), Catch::Contains("family.json") && Catch::Contains("attention_freq"));
  io::WriteFileAtomic(fam, R"({"positions": ["a", "b", "="], "analyzer_params": {"attention_freq": {"key_pos": "0"}}})");
  CHECK_THROWS_WITH(families::LoadRunInfo(run_dir), Catch::Contains("key_pos must be an integer"));
  io::WriteFileAtomic(fam, R"({"positions": ["a", "b", "=", "="]})");
  CHECK_THROWS_WITH(families::LoadRunInfo(run_dir), Catch::Contains("family.json") && Catch::Contains("n_ctx = 3"));
}

TEST_CASE("prefetched neighbouring epochs are served without a job when the slider reaches them", "[app][requests]") {
  TempDir dir("req_prefetch");
  auto run = families::LoadRunInfo(TinyRun(dir.path, 11));
  app::Requests r;
  r.Prefetch(run, "attention_patterns", {40, 60});
  r.jobs().WaitIdle();
  const auto submitted = r.jobs().Submitted();
  for (int e : {40, 60}) {
    auto res = r.Artifact("grid", run, "attention_patterns", e);
    REQUIRE(res.value);
    CHECK(res.value->at("patterns").shape == std::vector<int64_t>{4, 3, 3, 11, 11});
  }
  CHECK(r.jobs().Submitted() == submitted);
  r.Prefetch(run, "attention_patterns", {40, 60});  // nothing left to warm: no job
  CHECK(r.jobs().Submitted() == submitted);
}


TEST_CASE("progress, trajectory, findings and variants panels draw a real run and name a corrupt file", "[app][panels]") {
  TempDir dir("req_progress");
  const fs::path run_dir = TinyRun(dir.path, 11);
  const fs::path other = TinyRun(dir.path, 13);
  analyzers::AnalyzeRun(run_dir, {});
  auto run = families::LoadRunInfo(run_dir);
  app::Requests r;
  HeadlessImGui ctx;
  app::ViewContext v;
  v.run = run;
  v.epochs = {0, 20, 40, 60};
  v.epoch = 60;
  std::tie(v.query_pos, v.key_pos) = run->DefaultPair();
  v.requests = &r;
  v.all_runs = {run_dir, other};
  v.compare_with = {other};
  for (const char* name : {"progress", "trajectory", "findings", "compare_runs"}) {
    INFO(name);
    auto panel = app::FindPanel(name)->make();
    DrawFrames(*panel, v, r);
    CHECK(panel->Errors().empty());
    CHECK(!panel->Waiting());
  }
  // summary.json that is not JSON: the findings panel names it.
  io::WriteFileAtomic(run_dir / "summary.json", "{\"run\": ");
  auto findings = app::FindPanel("findings")->make();
  DrawFrames(*findings, v, r);
  REQUIRE(findings->Errors().size() == 1);
  CHECK_THAT(findings->Errors()[0], Catch::Contains("summary.json") && Catch::Contains("not valid JSON"));
  // A progress summary without its restricted loss: the progress panel names the file and the key.
  const fs::path pm = io::RunPaths{run_dir}.ArtifactsDir("progress_measures") / "summary.npz";
  io::NpzArchive s = io::ReadNpz(pm);
  s.erase("restricted_loss");
  io::WriteNpz(pm, s);
  auto progress = app::FindPanel("progress")->make();
  DrawFrames(*progress, v, r);
  REQUIRE(!progress->Errors().empty());
  CHECK_THAT(progress->Errors()[0], Catch::Contains("progress_measures/summary.npz") && Catch::Contains("restricted_loss"));
}

TEST_CASE("the Report button's child process writes a report, and says why when it cannot", "[app][report]") {
  TempDir dir("req_report");
  const fs::path run_dir = TinyRun(dir.path, 11);
  const fs::path exe = fs::path(HS_BINARY_DIR) / "headscope";
  REQUIRE(fs::exists(exe));
  auto wait = [](app::BackgroundReport& b) {
    for (int i = 0; i < 1800 && b.running(); ++i) {
      b.Poll();
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  };
  app::BackgroundReport bad;
  bad.Start({dir.path / "nope"}, dir.path / "bad_report", exe);
  CHECK(bad.running());
  wait(bad);
  CHECK_THAT(bad.status(), Catch::Contains("report failed") && Catch::Contains("no such run folder"));
  app::BackgroundReport good;
  good.Start({run_dir}, dir.path / "report", exe);
  wait(good);
  CHECK_THAT(good.status(), Catch::Contains("report written"));
  CHECK(fs::exists(dir.path / "report" / "report.html"));
  CHECK(fs::exists(dir.path / "report" / "report.md"));
  CHECK(fs::exists(run_dir / "summary.json"));  // the report analysed the run first
}
