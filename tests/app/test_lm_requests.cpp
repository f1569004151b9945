// The language-model workspace on the one request path, without a window:
// a burst of edits runs the last one, switching models never shows the other
// model's result, a cancelled categorisation leaves no file behind, a cache
// file that cannot be written is said in words, and the prompt request's
// errors come back in words (the demo LM's checkpoints, too long a prompt).
#include <imgui.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <random>
#include <set>
#include <thread>

#include "analysis/test_util.h"
#include "headless_imgui.h"
#include "io/atomic_file.h"
#include "io/safetensors.h"
#include "lm_workspace.h"
#include "panel.h"
#include "requests.h"

using namespace hs;
namespace fs = std::filesystem;

namespace {

using hs::test::TempDir;

fs::path Demo() { return fs::path(HS_SOURCE_DIR) / "assets/demo_lm"; }

// A copy of the demo LM's final weights and tokenizer, without its head
// categories (so opening it categorises the heads) and without checkpoints.
fs::path DemoCopy(const fs::path& dir) {
  fs::create_directories(dir);
  for (const char* f : {"config.json", "model.safetensors", "headscope_tokenizer.json"}) fs::copy(Demo() / f, dir / f);
  return dir;
}

// A random GPT-2 folder (byte tokenizer) big enough that categorising its
// heads takes seconds: 6 layers x 8 heads, d_model 256, 256 positions.
fs::path SlowModel(const fs::path& dir) {
  fs::create_directories(dir);
  const int d = 256, L = 6, V = 257, C = 256, M = 1024;
  std::mt19937 rng(11);
  std::normal_distribution<float> normal(0.f, 0.05f);
  io::SafetensorsFile f;
  auto put = [&](const std::string& name, std::vector<int64_t> shape, float fill, bool random) {
    io::Array a = io::Array::Zeros(io::DType::F32, shape);
    float* p = a.mutable_data<float>();
    for (int64_t i = 0; i < a.numel(); ++i) p[i] = random ? normal(rng) : fill;
    f.tensors[name] = std::move(a);
  };
  put("wte.weight", {V, d}, 0, true);
  put("wpe.weight", {C, d}, 0, true);
  for (int l = 0; l < L; ++l) {
    const std::string h = "h." + std::to_string(l) + ".";
    put(h + "ln_1.weight", {d}, 1, false), put(h + "ln_1.bias", {d}, 0, false);
    put(h + "attn.c_attn.weight", {d, 3 * d}, 0, true), put(h + "attn.c_attn.bias", {3 * d}, 0, false);
    put(h + "attn.c_proj.weight", {d, d}, 0, true), put(h + "attn.c_proj.bias", {d}, 0, false);
    put(h + "ln_2.weight", {d}, 1, false), put(h + "ln_2.bias", {d}, 0, false);
    put(h + "mlp.c_fc.weight", {d, M}, 0, true), put(h + "mlp.c_fc.bias", {M}, 0, false);
    put(h + "mlp.c_proj.weight", {M, d}, 0, true), put(h + "mlp.c_proj.bias", {d}, 0, false);
  }
  put("ln_f.weight", {d}, 1, false), put("ln_f.bias", {d}, 0, false);
  io::WriteSafetensors(dir / "model.safetensors", f);
  io::WriteFileAtomic(dir / "config.json",
                      R"({"model_type": "gpt2", "vocab_size": 257, "n_positions": 256, "n_embd": 256, "n_layer": 6,
 "n_head": 8, "layer_norm_epsilon": 1e-05, "activation_function": "gelu_new"})");
  io::WriteFileAtomic(dir / "headscope_tokenizer.json", R"({"type": "bytes", "bos_id": 256})");
  return dir;
}

std::set<std::string> Listing(const fs::path& dir) {
  std::set<std::string> names;
  for (const auto& e : fs::recursive_directory_iterator(dir)) names.insert(fs::relative(e.path(), dir).string());
  return names;
}

// Updates the workspace (one frame each) until `done` holds, at most 60 s;
// `each` runs after every frame.
template <class Done, class Each>
bool Frames(app::LmWorkspace& ws, app::Requests& r, Done done, Each each) {
  const auto t0 = std::chrono::steady_clock::now();
  while (std::chrono::steady_clock::now() - t0 < std::chrono::seconds(60)) {
    ws.Update();
    each();
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  (void)r;
  return false;
}
template <class Done>
bool Frames(app::LmWorkspace& ws, app::Requests& r, Done done) {
  return Frames(ws, r, done, [] {});
}

bool Ready(const app::LmWorkspace& ws) { return ws.view().model && ws.view().analysis_current; }

}  // namespace

TEST_CASE("30 edits typed faster than they run: fewer than 30 forwards, and the last one is shown", "[app][lm]") {
  app::Requests requests;
  app::LmWorkspace ws(app::LmOptions{Demo().string()}, requests);
  REQUIRE(Frames(ws, requests, [&] { return Ready(ws); }));
  const uint64_t before = requests.jobs().Executed("lm_prompt");
  const std::string last = "The dog ran to the park. The dog ran to the park.";  // not the default prompt: a new key
  for (int i = 1; i <= 30; ++i) {
    ws.SetPrompt(i == 30 ? last : "edit number " + std::to_string(i));
    ws.Update();  // one frame per keystroke: each asks for its prompt
  }
  REQUIRE(Frames(ws, requests, [&] { return Ready(ws) && !requests.Busy(); }));
  const uint64_t runs = requests.jobs().Executed("lm_prompt") - before;
  CHECK(runs >= 1);
  CHECK(runs < 30);
  const auto& a = *ws.view().analysis;
  CHECK(a.prompt == last);
  CHECK(a.error.empty());
  CHECK(a.T() == int(last.size()) + 1);  // bytes and BOS
  CHECK(a.roles.Find("induction")->active);
  // The same text again is the same key: nothing runs.
  ws.SetPrompt(last);
  ws.Update();
  CHECK(ws.view().analysis_current);
  CHECK(requests.jobs().Executed("lm_prompt") - before == runs);
}

TEST_CASE("the prompt request runs the demo LM's checkpoints and says what is wrong in words", "[app][lm]") {
  app::Requests requests;
  const auto key = app::LmModelKey::Of(Demo());
  auto model_result = requests.LmModel(key);
  for (int i = 0; i < 3000 && !model_result.value; ++i) {
    requests.jobs().WaitIdle();
    model_result = requests.LmModel(key);
  }
  REQUIRE(model_result.value);
  const auto model = model_result.value;
  REQUIRE(model->checkpoints.size() >= 8);
  auto run = [&](const std::string& prompt, int step) {
    const auto tokens = model->lm->Encode(prompt, true);
    app::LmPromptKey k{key, step, true, tokens.size(), app::LmPromptKey::HashTokens(tokens)};
    auto r = requests.LmPrompt(model, k, prompt, tokens);
    for (int i = 0; i < 3000 && !r.value; ++i) {
      requests.jobs().WaitIdle();
      r = requests.LmPrompt(model, k, prompt, tokens);
    }
    REQUIRE(r.value);
    CHECK(r.value->model_dir == model->dir);
    return r.value;
  };
  // The final model's top heads judge every checkpoint: no induction at step
  // 600, induction from step 1000.
  const std::string rep = "The cat sat on the mat. The cat sat on the mat.";
  auto a = run(rep, 600);
  CHECK(a->step == 600);
  CHECK_FALSE(a->roles.Find("induction")->active);
  CHECK(run(rep, 1000)->roles.Find("induction")->active);
  CHECK_THAT(run(rep, 777)->error, Catch::Contains("no checkpoint at step 777"));
  CHECK_THAT(run(std::string(300, 'x'), -1)->error, Catch::Contains("301 tokens") && Catch::Contains("128 positions"));
  CHECK_THAT(run("", -1)->error, Catch::Contains("Type a prompt"));
}

TEST_CASE("switching models while one is loading or categorising never shows the other model's result",
          "[app][lm]") {
  TempDir dir("lm_switch");
  const fs::path slow = SlowModel(dir.path / "slow");
  const auto slow_files = Listing(slow);
  app::Requests requests;
  app::LmWorkspace ws(app::LmOptions{Demo().string()}, requests);
  REQUIRE(Frames(ws, requests, [&] { return Ready(ws); }));
  // Every frame: whatever is shown belongs to the folder asked for.
  fs::path asked = fs::absolute(Demo());
  int mismatches = 0;
  auto check = [&] {
    const auto& v = ws.view();
    if (v.model && fs::absolute(v.model->dir).lexically_normal() != asked.lexically_normal()) ++mismatches;
    if (v.analysis && fs::absolute(v.analysis->model_dir).lexically_normal() != asked.lexically_normal()) ++mismatches;
  };
  // Open the slow model; while its heads are being categorised, go back.
  ws.OpenModel(slow);
  asked = fs::absolute(slow);
  check();
  bool categorising = false;
  REQUIRE(Frames(
      ws, requests, [&] { return categorising; },
      [&] {
        check();
        categorising = ws.view().loading.find("categorising") != std::string::npos;
      }));
  CHECK_FALSE(ws.view().model);
  CHECK_FALSE(ws.view().analysis);  // the demo LM's analysis is not drawn as this model's
  ws.OpenModel(Demo());
  asked = fs::absolute(Demo());
  REQUIRE(Frames(ws, requests, [&] { return Ready(ws) && !requests.Busy(); }, check));
  CHECK(mismatches == 0);
  // The cancelled categorisation wrote nothing into the model folder.
  requests.jobs().WaitIdle();
  CHECK(Listing(slow) == slow_files);
  CHECK_FALSE(fs::exists(slow / "head_categories.json"));
  // Opened again, it loads to the end, and its own results are shown.
  ws.OpenModel(slow);
  asked = fs::absolute(slow);
  REQUIRE(Frames(ws, requests, [&] { return Ready(ws) && !requests.Busy(); }, check));
  CHECK(mismatches == 0);
  CHECK(fs::exists(slow / "head_categories.json"));
  CHECK(ws.view().model->n_layers() == 6);
}

TEST_CASE("a model folder where the head categories cannot be saved is named in the panel", "[app][lm]") {
  TempDir dir("lm_readonly");
  const fs::path model = DemoCopy(dir.path / "demo");
  // Root can write anywhere, so block the file itself: a folder in its place.
  fs::create_directories(model / "head_categories.json");
  app::Requests requests;
  app::LmWorkspace ws(app::LmOptions{model.string()}, requests);
  REQUIRE(Frames(ws, requests, [&] { return Ready(ws) && !requests.Busy(); }));
  const auto warnings = ws.Warnings();
  REQUIRE(warnings.size() == 1);
  CHECK_THAT(warnings[0], Catch::Contains((model / "head_categories.json").string()) &&
                              Catch::Contains("could not save the head categories") &&
                              Catch::Contains("Is a directory"));  // the reason, not the cleanup's "Success"
  CHECK(ws.view().warnings == warnings);
  CHECK(ws.Errors().empty());  // the model works: categorised in memory
  // The head-roles panel draws it (headless ImGui) and keeps working.
  test::HeadlessImGui ctx;
  const app::PanelDef* def = app::FindPanel("head_roles");
  REQUIRE(def);
  auto panel = def->make();
  app::ViewContext v;
  v.lm = &ws.view();
  ImGui::NewFrame();
  ImGui::Begin("w");
  app::PanelOutput out;
  panel->Draw(v, out);
  ImGui::End();
  ImGui::Render();
  CHECK(panel->Errors().empty());
  CHECK(panel->Warnings() == warnings);
}
