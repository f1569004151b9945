// Tests: the grokking ablation panel drawn headless on a tiny trained run:
// it computes the selected epoch and then every checkpoint in short jobs on
// the model lane until nothing is missing; an index out of range for the run
// is an error in the panel; `shot --ablate` specs that cannot be parsed are
// refused in words.
#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <thread>

#include "ablation_start.h"
#include "families/run_info.h"
#include "headless_imgui.h"
#include "io/run_dir.h"
#include "jobs/thread_policy.h"
#include "panel.h"
#include "train/trainer.h"

using namespace hs;
namespace fs = std::filesystem;

namespace {

fs::path AblationTinyRun(const fs::path& root) {
  train::TrainConfig c;
  c.p = 11;
  c.d_model = 32;
  c.n_heads = 4;
  c.d_head = 8;
  c.d_mlp = 48;
  c.train_frac = 0.8;
  c.lr = 3e-3;
  c.epochs = 60;
  c.checkpoint_schedule = "0:10";
  const fs::path run = root / "modadd_1l" / c.VariantName();
  jobs::ConfigureTorchForTraining(1);
  train::Trainer(c, run).Run();
  return run;
}

// Draws until the panel stops waiting (jobs finish between frames), at most ~30 s.
int AblationDrawUntilReady(app::Panel& panel, const app::ViewContext& v, app::Requests& r) {
  int frames = 0;
  for (; frames < 600; ++frames) {
    ImGui::NewFrame();
    ImGui::Begin("w");
    app::PanelOutput out;
    panel.Draw(v, out);
    ImGui::End();
    ImGui::Render();
    if (!panel.Waiting() && frames > 1) break;
    r.jobs().WaitIdle();
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return frames;
}

}  // namespace

TEST_CASE("the ablation panel computes the selected epoch and every checkpoint, and names an index out of range",
          "[app][panels][ablation]") {
  const fs::path root = fs::path(HS_BINARY_DIR) / "test_tmp" / "ablation_panel";
  fs::remove_all(root);
  const fs::path run_dir = AblationTinyRun(root);
  test::HeadlessImGui ctx;
  app::Requests r;
  app::ViewContext v;
  v.run = families::LoadRunInfo(run_dir);
  v.epochs = io::ListCheckpointEpochs(run_dir);
  REQUIRE(v.epochs.size() == 7);
  v.epoch = 30;
  v.requests = &r;
  const app::PanelDef* def = app::FindPanel("ablation");
  REQUIRE(def);
  CHECK(def->workspace == app::WorkspaceKind::Grokking);

  std::string error;
  REQUIRE(app::SetAblationPanelStart("heads=1;freqs=2", &error));
  auto panel = def->make();
  const int frames = AblationDrawUntilReady(*panel, v, r);
  CHECK(frames < 600);
  CHECK(!panel->Waiting());
  CHECK(panel->Errors().empty());
  CHECK(r.jobs().Executed("ablation_epoch") == 1);
  // 7 checkpoints, the selected one from the epoch's job, the rest in short jobs.
  CHECK(r.jobs().Executed("ablation_curve") >= 2);

  REQUIRE(app::SetAblationPanelStart("heads=9", &error));
  auto bad = def->make();
  AblationDrawUntilReady(*bad, v, r);
  REQUIRE(bad->Errors().size() == 1);
  CHECK_THAT(bad->Errors()[0], Catch::Contains("head 9") && Catch::Contains("0-3"));

  CHECK(!app::SetAblationPanelStart("heads=1;heads=2", &error));
  CHECK_THAT(error, Catch::Contains("twice"));
  CHECK(!app::SetAblationPanelStart("layers=1", &error));
  CHECK_THAT(error, Catch::Contains("heads=H"));
  CHECK(!app::SetAblationPanelStart("neurons=1,x", &error));
  CHECK_THAT(error, Catch::Contains("'x'"));
  REQUIRE(app::SetAblationPanelStart("", &error));  // back to nothing off for later tests
  fs::remove_all(root);
}
