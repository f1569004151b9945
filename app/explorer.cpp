// [SECTION] Index
//   Options and run ........... which run, --pair validation, no-display message
//   Window .................... RunExplorer: GLFW + OpenGL3 + Dear ImGui frame loop
// The explorer shell: the window and its frame loop. What it shows lives in
// workspaces (grokking_workspace.h), panels register themselves (panel.h),
// data comes through Requests (requests.h); the state file and the scripted
// test driver have their own files.
#include <GLFW/glfw3.h>
#include <backends/imgui_impl_glfw.h>
#include <backends/imgui_impl_opengl3.h>
#include <imgui.h>

#include <atomic>
#include <cfloat>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <thread>

#include "commands.h"
#include "gl_textures.h"
#include "grokking_workspace.h"
#include "lm_workspace.h"
#include "screenshot.h"
#include "script_driver.h"
#include "state_file.h"
#include "train/trainer.h"

namespace hs::app {
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

// [SECTION] Options and run
void NoDisplayMessage(const char* why) {
  std::cerr << "headscope: cannot open the explorer window: " << why << ".\n"
            << "The explorer needs a display. Headless commands do the same work in batch:\n"
            << "  headscope train [--p 113 ...]              train (or resume) a run\n"
            << "  headscope analyze RUN_DIR                  compute every artifact (numpy-readable .npz)\n"
            << "  headscope shot --run RUN_DIR --epoch N --out FILE.png   render a panel to PNG (uses xvfb-run if needed)\n"
            << "  headscope --help                           all subcommands\n";
}

void GlfwError(int code, const char* desc) { std::fprintf(stderr, "GLFW error %d: %s\n", code, desc); }

// Ctrl-C / SIGTERM: leave the frame loop so that training saves its state
// at the current epoch. A second signal exits at once.
std::atomic<int> g_quit{0};
void OnQuitSignal(int sig) {
  if (g_quit.fetch_add(1) > 0) {
    std::signal(sig, SIG_DFL);
    std::raise(sig);
  }
}

// Parses "Q,K" and checks it against the run; prints a one-line error.
bool ParsePair(const std::string& text, const families::RunInfo& run, int* q, int* k) {
  char tail = 0;
  if (std::sscanf(text.c_str(), "%d,%d%c", q, k, &tail) != 2) {
    std::cerr << "headscope: --pair '" << text << "' is not QUERY,KEY (for example 2,0)\n";
    return false;
  }
  if (!run.ValidPair(*q, *k)) {
    std::string names;
    for (int i = 0; i < run.model.n_ctx; ++i) names += (i ? ", " : "") + std::to_string(i) + "=" + run.PositionName(i);
    std::cerr << "headscope: --pair " << text << " is out of range: this run has " << run.model.n_ctx
              << " positions (" << names << ") and the key position must be <= the query position\n";
    return false;
  }
  return true;
}

}  // namespace

// [SECTION] Window
int RunExplorer(const ExplorerOptions& opt) {
  const bool have_display = std::getenv("DISPLAY") || std::getenv("WAYLAND_DISPLAY");
  if (!have_display) {
    NoDisplayMessage("no display found (DISPLAY and WAYLAND_DISPLAY are not set)");
    return 3;
  }
  // Which run: --run, else the remembered one, else the default run.
  fs::path run_dir = opt.run.empty() ? fs::path(DefaultRunDir(opt.runs)) : fs::path(opt.run);
  RememberedView remembered;
  if (opt.frames == 0) {
    remembered = LoadRememberedView();
    if (!remembered.run.empty() && opt.run.empty()) run_dir = remembered.run;
  }
  if (!opt.run.empty() && !fs::exists(run_dir / "config.json")) {
    std::cerr << "headscope: " << run_dir.string() << " is not a run folder (no config.json). "
              << "Train one with `headscope train`, or pick one of the folders under " << opt.runs << "/.\n";
    return 1;
  }
  if (!opt.run.empty()) remembered.run.clear(), remembered.epoch = remembered.query_pos = remembered.key_pos = -1;
  int query_pos = remembered.query_pos, key_pos = remembered.key_pos;
  if (!opt.pair.empty()) {
    families::RunInfoPtr info;
    try {
      info = families::LoadRunInfo(run_dir);
    } catch (const std::exception& e) {
      std::cerr << "headscope: " << e.what() << "\n";
      return 1;
    }
    if (!ParsePair(opt.pair, *info, &query_pos, &key_pos)) return 2;
  }

  glfwSetErrorCallback(GlfwError);
  if (!glfwInit()) {
    NoDisplayMessage("the display could not be opened");
    return 3;
  }
  glfwWindowHint(GLFW_CONTEXT_VERSION_MAJOR, 3);
  glfwWindowHint(GLFW_CONTEXT_VERSION_MINOR, 0);
  GLFWwindow* window = glfwCreateWindow(opt.width, opt.height, "headscope", nullptr, nullptr);
  if (!window) {
    glfwTerminate();
    NoDisplayMessage("no OpenGL 3 window could be created");
    return 3;
  }
  glfwMakeContextCurrent(window);
  glfwSwapInterval(opt.frames > 0 ? 0 : 1);

  IMGUI_CHECKVERSION();
  ImGui::CreateContext();
  ImGuiIO& io = ImGui::GetIO();
  io.IniFilename = opt.frames > 0 ? nullptr : "headscope_layout.ini";
  float xscale = 1, yscale = 1;
  glfwGetWindowContentScale(window, &xscale, &yscale);
  const float scale = std::max(1.0f, xscale);
  const char* kFont = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf";
  if (fs::exists(kFont)) io.Fonts->AddFontFromFileTTF(kFont, 15.0f * scale);
  ImGui::StyleColorsLight();
  ImGui::GetStyle().ScaleAllSizes(scale);
  ImGui::GetStyle().FrameRounding = 3;
  ImGui_ImplGlfw_InitForOpenGL(window, true);
  ImGui_ImplOpenGL3_Init("#version 130");
  widgets::SetTextureBackend(GlTextureBackend());

  g_quit = 0;
  auto old_int = std::signal(SIGINT, OnQuitSignal);
  auto old_term = std::signal(SIGTERM, OnQuitSignal);
  int rc = 0;
  {
    // Declared first, destroyed last: the workspace (and its panels) go
    // before the requests they hold results of; Requests joins its workers
    // before its store goes.
    // Panel computations yield to a training run (nice 19: ~1.5% of a core
    // when the trainer wants both; no effect when the cores are free), so
    // the trainer keeps its headless speed and panels fill in its gaps.
    Requests requests(size_t(768) << 20, 1, 19);
    GrokkingWorkspace ws(opt, requests);
    LmWorkspace lm_ws(opt);
    // Which workspace: the one of --panel, else the LM one with --model / --lm.
    const PanelDef* single = opt.panel.empty() ? nullptr : FindPanel(opt.panel);
    const bool lm_first = single ? single->workspace == WorkspaceKind::LanguageModel
                                 : opt.lm_first || !opt.model.empty() || (opt.run.empty() && remembered.lm_shown);
    if (opt.model.empty() && !remembered.lm_model.empty()) lm_ws.SetStartModel(remembered.lm_model);
    if (opt.prompt.empty() && !remembered.lm_prompt.empty()) lm_ws.SetPrompt(remembered.lm_prompt);
    if (opt.step < 0 && remembered.lm_step >= 0) lm_ws.SelectStep(remembered.lm_step);
    Workspace* active = lm_first ? static_cast<Workspace*>(&lm_ws) : &ws;
    ws.Open(run_dir, opt.epoch >= 0 ? opt.epoch : remembered.epoch);
    if (query_pos >= 0) ws.SetPair(query_pos, key_pos);
    const bool default_run = run_dir == fs::path(DefaultRunDir(opt.runs));
    if (!lm_first && default_run && !ws.run().Complete() && opt.train_if_missing &&
        (opt.frames == 0 || opt.train_scripted)) {
      const bool fresh = !fs::exists(run_dir / "config.json");
      const train::TrainConfig default_cfg;
      ws.StartTraining(fresh ? &default_cfg : nullptr);
      if (fresh) {  // training creates config.json within a moment
        for (int i = 0; i < 100 && !fs::exists(run_dir / "config.json"); ++i)
          std::this_thread::sleep_for(std::chrono::milliseconds(20));
        ws.Open(run_dir);
      }
    }

    ScriptDriver driver(opt);
    PromptScript prompts(opt);
    int blas_threads = 1;  // main() configured torch for training with one thread
    ExportQueue exports;
    int frame = 0, ready_frames = 0;
    const auto t_start = Clock::now();
    // With --frames and wait_ready: keep going until two quiet frames in a
    // row (every panel has its data), for at most a minute.
    auto still_waiting = [&] {
      if ((driver.Active() || prompts.Active()) && Clock::now() - t_start < std::chrono::minutes(10)) return true;
      return opt.wait_ready && ready_frames < 2 && Clock::now() - t_start < std::chrono::seconds(60);
    };
    // The prompt worker wakes the frame loop when a result is ready, so the
    // loop can wait for events while a language model computes instead of
    // redrawing (software GL would take the cores the forward needs).
    lm_ws.SetWake([] { glfwPostEmptyEvent(); });
    while (!glfwWindowShouldClose(window) && g_quit == 0) {
      if (opt.frames > 0 && frame >= opt.frames && !still_waiting()) break;
      if (active == &lm_ws && lm_ws.Computing() && !driver.Active()) {
        glfwWaitEventsTimeout(0.1);
      } else if (opt.frames == 0) {
        // Interactive: draw when something happens, not as fast as the GPU
        // (or llvmpipe) allows; the frames would take the cores that
        // training and analysis need. Input wakes the loop at once. While a
        // run trains, 5 frames a second follow it (llvmpipe took 20% of a
        // core at 10); while panels compute or play, 30; otherwise 4.
        const bool moving = requests.Busy() || lm_ws.Busy() || ws.Animating();
        const double fps = ws.Animating() ? 30 : ws.trainer().running() ? 5 : moving ? 30 : 4;
        glfwWaitEventsTimeout(1.0 / fps);
      }
      const auto t_frame = Clock::now();
      glfwPollEvents();
      if (glfwGetWindowAttrib(window, GLFW_ICONIFIED)) {
        glfwWaitEventsTimeout(0.1);
        continue;
      }
      ws.Update();
      if (active == &lm_ws) lm_ws.Update();
      // Language models run faster with OpenBLAS on both cores (see
      // ConfigureTorchForInference); training keeps one. Switched only while
      // nothing computes (OpenBLAS's thread count is process-wide).
      if (ws.trainer().running()) blas_threads = 1;  // the trainer set OpenBLAS to one thread
      const int blas = active == &lm_ws && !ws.trainer().running() ? 2 : 1;
      if (blas != blas_threads && !requests.Busy() && !lm_ws.Computing() && !ws.trainer().running()) {
        train::ConfigureTorchForInference(blas);
        blas_threads = blas;
      }
      prompts.BeforeFrame(lm_ws, ready_frames >= 1);
      driver.BeforeFrame(ws, frame, ready_frames >= 1);
      ImGui_ImplOpenGL3_NewFrame();
      ImGui_ImplGlfw_NewFrame();
      // Scripted runs and shots: the pointer Xvfb leaves mid-screen must not
      // hover a widget (a tooltip would cover the picture).
      if (opt.frames > 0) io.MousePos = ImVec2(-FLT_MAX, -FLT_MAX);
      ImGui::NewFrame();
      const ImGuiViewport* vp = ImGui::GetMainViewport();
      ImGui::SetNextWindowPos(vp->WorkPos);
      ImGui::SetNextWindowSize(vp->WorkSize);
      ImGui::Begin("headscope", nullptr,
                   ImGuiWindowFlags_NoDecoration | ImGuiWindowFlags_NoMove | ImGuiWindowFlags_NoSavedSettings |
                       ImGuiWindowFlags_NoBringToFrontOnFocus);
      if (opt.panel.empty()) {
        // The two workspaces, as a segmented control on the first line.
        ImGui::AlignTextToFramePadding();
        ImGui::TextDisabled("headscope");
        ImGui::SameLine();
        if (ImGui::RadioButton("Grokking workbench", active == &ws)) active = &ws;
        if (ImGui::IsItemHovered()) ImGui::SetTooltip("Modular addition: train, checkpoints, Fourier analyzers");
        ImGui::SameLine();
        if (ImGui::RadioButton("Language models", active == &lm_ws)) active = &lm_ws;
        if (ImGui::IsItemHovered())
          ImGui::SetTooltip("Hugging Face models and the demo LM: head roles on your prompt, roles forming in training");
        ImGui::SameLine();
        ImGui::TextDisabled("|");
        ImGui::SameLine();
        active->Draw(exports);
      } else {
        active->DrawSinglePanel(opt.panel, exports);
      }
      ImGui::End();
      const double build_ms = std::chrono::duration<double, std::milli>(Clock::now() - t_frame).count();

      ImGui::Render();
      int w, h;
      glfwGetFramebufferSize(window, &w, &h);
      glViewport(0, 0, w, h);
      glClearColor(0.95f, 0.95f, 0.95f, 1.0f);
      glClear(GL_COLOR_BUFFER_BIT);
      ImGui_ImplOpenGL3_RenderDrawData(ImGui::GetDrawData());
      for (const auto& e : exports.requests) {
        const float sx = io.DisplayFramebufferScale.x, sy = io.DisplayFramebufferScale.y;
        std::string err;
        if (!WriteFramebufferRegionPng(e.path, h, int(e.min.x * sx), int(e.min.y * sy), int((e.max.x - e.min.x) * sx),
                                       int((e.max.y - e.min.y) * sy), &err))
          exports.status = "export failed: " + err;
      }
      exports.requests.clear();
      const bool ready = !active->Waiting() && !requests.Busy() && (active != &lm_ws || !lm_ws.Busy());
      ready_frames = ready ? ready_frames + 1 : 0;
      ++frame;
      if (opt.frame_log.size() || opt.script_shots.size()) glFinish();
      driver.AfterFrame(ws, frame, ready, build_ms,
                        std::chrono::duration<double, std::milli>(Clock::now() - t_frame).count(), w, h);
      const bool last = opt.frames > 0 && frame >= opt.frames && !still_waiting();
      if (!opt.screenshot.empty() && last) {
        std::string err;
        if (!WriteFramebufferPng(opt.screenshot, w, h, &err)) std::cerr << "headscope: " << err << "\n", rc = 1;
      }
      glfwSwapBuffers(window);
      if (opt.wait_ready && !ready && opt.frames > 0) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    // Scripts (shot) learn when a panel could not draw its data.
    if (opt.wait_ready) {
      for (const auto& e : active->Errors()) std::cerr << "headscope shot: " << e << "\n", rc = 1;
      if (active->Waiting() && g_quit == 0) {
        std::cerr << "headscope shot: gave up after 60 s: a panel is still waiting for its data\n";
        rc = 1;
      }
    }
    if (opt.frames == 0) {
      nlohmann::json state = ws.run().valid() ? ws.SaveState() : nlohmann::json::object();
      state["lm"] = lm_ws.SaveState();
      state["workspace"] = active == &lm_ws ? "lm" : "grokking";
      SaveRememberedView(state);
    }
    if (g_quit > 0) std::cerr << "headscope: interrupted; stopping background work (training state is saved)\n";
    if (!prompts.Finish()) rc = 1;
    ws.Stop();  // training saves train_state at the current epoch
    lm_ws.Stop();
    requests.Shutdown();
    widgets::ReleaseWidgetTextures();
  }
  std::signal(SIGINT, old_int);
  std::signal(SIGTERM, old_term);

  ImGui_ImplOpenGL3_Shutdown();
  ImGui_ImplGlfw_Shutdown();
  ImGui::DestroyContext();
  glfwDestroyWindow(window);
  glfwTerminate();
  return rc;
}

}  // namespace hs::app
