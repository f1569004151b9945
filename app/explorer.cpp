// [SECTION] The explorer window: GLFW + OpenGL3 + Dear ImGui frame loop.
// Opens one run (the default run unless --run is given); when the default
// run is missing it trains it in a background thread and the panels follow.
#include <GLFW/glfw3.h>
#include <backends/imgui_impl_glfw.h>
#include <backends/imgui_impl_opengl3.h>
#include <imgui.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <mutex>
#include <thread>

#include "commands.h"
#include "io/run_dir.h"
#include "panels/loss_curves_panel.h"
#include "screenshot.h"
#include "train/trainer.h"

namespace hs::app {
namespace fs = std::filesystem;

namespace {

// [SECTION] Background training of the default run.
struct BackgroundTrainer {
  std::thread thread;
  std::atomic<bool> stop{false};
  std::atomic<bool> running{false};
  std::mutex mu;
  train::TrainProgress progress;  // guarded by mu
  std::string error;              // guarded by mu

  void Start(const train::TrainConfig& cfg, const fs::path& dir) {
    running = true;
    thread = std::thread([this, cfg, dir] {
      try {
        train::ConfigureTorchForTraining(1);
        train::Trainer t(cfg, dir);
        train::TrainHooks hooks;
        hooks.should_stop = [this] { return stop.load(); };
        hooks.on_epoch = [this](const train::TrainProgress& p) {
          std::lock_guard<std::mutex> lock(mu);
          progress = p;
        };
        t.Run(hooks);
      } catch (const std::exception& e) {
        std::lock_guard<std::mutex> lock(mu);
        error = e.what();
      }
      running = false;
    });
  }
  ~BackgroundTrainer() {
    stop = true;
    if (thread.joinable()) thread.join();  // saves train_state: the run resumes next time
  }
};

void NoDisplayMessage(const char* why) {
  std::cerr << "headscope: cannot open the explorer window: " << why << ".\n"
            << "The explorer needs a display. Headless commands do the same work in batch:\n"
            << "  headscope train [--p 113 ...]      train (or resume) a run\n"
            << "  headscope --help                   all subcommands\n"
            << "To render without a screen: xvfb-run -a headscope --frames 30 --screenshot out.png\n";
}

void GlfwError(int code, const char* desc) { std::fprintf(stderr, "GLFW error %d: %s\n", code, desc); }

}  // namespace

int RunExplorer(const ExplorerOptions& opt) {
  const bool have_display = std::getenv("DISPLAY") || std::getenv("WAYLAND_DISPLAY");
  if (!have_display) {
    NoDisplayMessage("no display found (DISPLAY and WAYLAND_DISPLAY are not set)");
    return 3;
  }
  const fs::path run_dir = opt.run.empty() ? fs::path(DefaultRunDir(opt.runs)) : fs::path(opt.run);
  if (!opt.run.empty() && !fs::exists(run_dir / "config.json")) {
    std::cerr << "headscope: " << run_dir.string() << " is not a run folder (no config.json). "
              << "Train one with `headscope train`, or pick one of the folders under " << opt.runs << "/.\n";
    return 1;
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
  io.IniFilename = "headscope_layout.ini";
  float xscale = 1, yscale = 1;
  glfwGetWindowContentScale(window, &xscale, &yscale);
  const float scale = std::max(1.0f, xscale);
  const char* kFont = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf";
  if (fs::exists(kFont)) io.Fonts->AddFontFromFileTTF(kFont, 15.0f * scale);
  ImGui::StyleColorsLight();
  ImGui::GetStyle().ScaleAllSizes(scale);
  ImGui_ImplGlfw_InitForOpenGL(window, true);
  ImGui_ImplOpenGL3_Init("#version 130");

  BackgroundTrainer trainer;
  train::TrainConfig default_cfg;
  const bool default_run = opt.run.empty();
  const bool complete = fs::exists(run_dir / "checkpoints" / (io::EpochStem(default_cfg.epochs) + ".safetensors"));
  if (default_run && !complete && opt.train_if_missing) trainer.Start(default_cfg, run_dir);

  LossCurvesPanel loss;
  int frame = 0;
  while (!glfwWindowShouldClose(window)) {
    if (opt.frames > 0 && frame >= opt.frames) break;
    glfwPollEvents();
    if (glfwGetWindowAttrib(window, GLFW_ICONIFIED)) {
      glfwWaitEventsTimeout(0.1);
      continue;
    }
    ImGui_ImplOpenGL3_NewFrame();
    ImGui_ImplGlfw_NewFrame();
    ImGui::NewFrame();

    loss.Refresh(run_dir);
    const ImGuiViewport* vp = ImGui::GetMainViewport();
    ImGui::SetNextWindowPos(vp->WorkPos);
    ImGui::SetNextWindowSize(vp->WorkSize);
    ImGui::Begin("headscope", nullptr,
                 ImGuiWindowFlags_NoDecoration | ImGuiWindowFlags_NoMove | ImGuiWindowFlags_NoSavedSettings);
    ImGui::Text("Run: %s", run_dir.string().c_str());
    if (trainer.running || !trainer.error.empty()) {
      std::lock_guard<std::mutex> lock(trainer.mu);
      if (!trainer.error.empty()) {
        ImGui::TextColored(ImVec4(0.8f, 0.1f, 0.1f, 1), "Training failed: %s", trainer.error.c_str());
      } else {
        const auto& p = trainer.progress;
        char overlay[160];
        std::snprintf(overlay, sizeof overlay, "training epoch %d / %d   test acc %.3f   %.1f ms/epoch   ETA %.0f s",
                      p.epoch, p.total_epochs, p.test_acc, p.ms_per_epoch, p.eta_seconds);
        ImGui::ProgressBar(p.total_epochs ? float(p.epoch) / p.total_epochs : 0.f, ImVec2(-1, 0), overlay);
        if (ImGui::IsItemHovered())
          ImGui::SetTooltip("The default run trains in the background; closing the window saves its state\n"
                            "and the next launch resumes it.");
      }
    }
    if (loss.GrokEpoch() >= 0)
      ImGui::Text("Grokking: test accuracy first above 0.9 at epoch %d", loss.GrokEpoch());
    ImGui::Separator();
    loss.Draw(loss.LastEpoch() >= 0 ? float(loss.LastEpoch()) : NAN);
    ImGui::End();

    ImGui::Render();
    int w, h;
    glfwGetFramebufferSize(window, &w, &h);
    glViewport(0, 0, w, h);
    glClearColor(0.95f, 0.95f, 0.95f, 1.0f);
    glClear(GL_COLOR_BUFFER_BIT);
    ImGui_ImplOpenGL3_RenderDrawData(ImGui::GetDrawData());
    ++frame;
    if (!opt.screenshot.empty() && opt.frames > 0 && frame == opt.frames) {
      std::string err;
      if (!WriteFramebufferPng(opt.screenshot, w, h, &err)) std::cerr << "headscope: " << err << "\n";
    }
    glfwSwapBuffers(window);
  }

  ImGui_ImplOpenGL3_Shutdown();
  ImGui_ImplGlfw_Shutdown();
  ImGui::DestroyContext();
  glfwDestroyWindow(window);
  glfwTerminate();
  return 0;
}

}  // namespace hs::app
