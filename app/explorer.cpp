// [SECTION] Index
//   Background training ....... BackgroundTrainer
//   Run state ................. RunState: checkpoints, metrics, shape, refresh
//   Window .................... RunExplorer: GLFW + OpenGL3 + Dear ImGui frame loop
//   Layout .................... DrawTopBar, DrawEpochBar, DrawTabs
// The explorer: one window over a run. A shared epoch slider drives every
// panel; artifacts load or compute in background jobs; the UI thread never
// waits on them.
#include <GLFW/glfw3.h>
#include <backends/imgui_impl_glfw.h>
#include <backends/imgui_impl_opengl3.h>
#include <imgui.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "analyzers/pipeline.h"
#include "artifact_source.h"
#include "commands.h"
#include "gl_textures.h"
#include "io/atomic_file.h"
#include "io/run_dir.h"
#include "panels/attention_grid_panel.h"
#include "panels/compare_panel.h"
#include "run_state.h"
#include "panels/head_freq_panel.h"
#include "panels/loss_curves_panel.h"
#include "panels/neuron_panel.h"
#include "panels/specialization_panel.h"
#include "screenshot.h"
#include "train/trainer.h"

namespace hs::app {
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

// [SECTION] Background training
struct BackgroundTrainer {
  std::thread thread;
  std::atomic<bool> stop{false};
  std::atomic<bool> running{false};
  std::mutex mu;
  train::TrainProgress progress;  // guarded by mu
  std::string error;              // guarded by mu

  void Start(const train::TrainConfig& cfg, const fs::path& run_dir) {
    Stop();
    stop = false;
    running = true;
    thread = std::thread([this, cfg, run_dir] {
      try {
        train::ConfigureTorchForTraining(1);
        train::Trainer t(cfg, run_dir);
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
  void Stop() {  // saves train_state: the run resumes next time
    stop = true;
    if (thread.joinable()) thread.join();
  }
  ~BackgroundTrainer() { Stop(); }
};

void NoDisplayMessage(const char* why) {
  std::cerr << "headscope: cannot open the explorer window: " << why << ".\n"
            << "The explorer needs a display. Headless commands do the same work in batch:\n"
            << "  headscope train [--p 113 ...]              train (or resume) a run\n"
            << "  headscope analyze RUN_DIR                  compute every artifact (numpy-readable .npz)\n"
            << "  headscope shot --run RUN_DIR --epoch N --out FILE.png   render a panel to PNG (uses xvfb-run if needed)\n"
            << "  headscope --help                           all subcommands\n";
}

void GlfwError(int code, const char* desc) { std::fprintf(stderr, "GLFW error %d: %s\n", code, desc); }

const char* kStateFile = "headscope_state.json";

// A panel export requested this frame: written after rendering.
struct ExportRequest {
  std::string path;
  ImVec2 min, max;
};

// A small "PNG" button at the top right of the current child window; the
// child's rectangle is saved as exports/<name>_epoch_N.png after this frame.
void ExportButton(const char* name, int epoch, std::vector<ExportRequest>& out, std::string& status) {
  const float w = ImGui::CalcTextSize("PNG").x + ImGui::GetStyle().FramePadding.x * 2;
  const ImVec2 keep = ImGui::GetCursorPos();
  ImGui::SetCursorPos(ImVec2(ImGui::GetWindowContentRegionMax().x - w, ImGui::GetWindowContentRegionMin().y));
  if (ImGui::SmallButton((std::string("PNG##") + name).c_str())) {
    std::error_code ec;
    fs::create_directories("exports", ec);
    const std::string path = "exports/" + std::string(name) + "_epoch_" + std::to_string(epoch) + ".png";
    out.push_back({path, ImGui::GetWindowPos(),
                   ImVec2(ImGui::GetWindowPos().x + ImGui::GetWindowSize().x, ImGui::GetWindowPos().y + ImGui::GetWindowSize().y)});
    status = "saved " + fs::absolute(path).string();
  }
  if (ImGui::IsItemHovered()) ImGui::SetTooltip("Export this panel to exports/%s_epoch_%d.png", name, epoch);
  ImGui::SetCursorPos(keep);
}  // last run and epoch, beside the layout .ini

}  // namespace

int RunExplorer(const ExplorerOptions& opt) {
  const bool have_display = std::getenv("DISPLAY") || std::getenv("WAYLAND_DISPLAY");
  if (!have_display) {
    NoDisplayMessage("no display found (DISPLAY and WAYLAND_DISPLAY are not set)");
    return 3;
  }
  // Which run: --run, else the remembered one, else the default run.
  fs::path run_dir = opt.run.empty() ? fs::path(DefaultRunDir(opt.runs)) : fs::path(opt.run);
  int remembered_epoch = -1;
  nlohmann::json saved;
  if (opt.run.empty() && opt.frames == 0) {
    try {
      saved = nlohmann::json::parse(io::ReadFile(kStateFile));
      if (fs::exists(fs::path(saved.value("run", "")) / "config.json")) {
        run_dir = saved.value("run", run_dir.string());
        remembered_epoch = saved.value("epoch", -1);
      }
    } catch (const std::exception&) {  // no or unreadable state: defaults
    }
  }
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

  train::ConfigureTorchForTraining(1);
  {
    jobs::JobSystem jobs(1);
    jobs::ArtifactStore store(size_t(768) << 20);
    ArtifactSource source(jobs, store);
    BackgroundTrainer trainer;
    std::atomic<bool> analyzing{false};

    RunState run;
    run.Open(run_dir);
    std::vector<fs::path> all_runs = io::ListRuns(opt.runs);
    const train::TrainConfig default_cfg;
    const bool default_run = run_dir == fs::path(DefaultRunDir(opt.runs));
    const bool complete = fs::exists(io::RunPaths{run_dir}.Checkpoint(default_cfg.epochs));
    if (default_run && !complete && opt.train_if_missing && opt.frames == 0) trainer.Start(default_cfg, run_dir);
    if (!run.valid && default_run) {  // training creates config.json within a moment
      for (int i = 0; i < 50 && !fs::exists(run_dir / "config.json"); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(20));
      run.Open(run_dir);
    }

    std::vector<ExportRequest> exports;
    std::string export_status;
    LossCurvesPanel loss;
    AttentionGridPanel grid;
    HeadFreqPanel head_freq;
    SpecializationPanel spec;
    NeuronPanel neurons;
    ComparePanel compare;
    if (!opt.pair.empty()) std::sscanf(opt.pair.c_str(), "%d,%d", &grid.query_pos, &grid.key_pos);
    int epoch_index = -1;
    int wanted_epoch = opt.epoch >= 0 ? opt.epoch : remembered_epoch;
    bool playing = false, follow_latest = wanted_epoch < 0;
    auto last_play = Clock::now();
    auto last_analyze = Clock::now();
    size_t script_pos = 0;
    std::ofstream frame_log;
    if (!opt.frame_log.empty()) {
      frame_log.open(opt.frame_log);
      frame_log << "frame,epoch,build_ms,total_ms,stale,uploads,latency_ms\n";
    }

    auto start_analysis = [&]() {
      if (analyzing.exchange(true)) return;
      const fs::path dir = run.dir;
      jobs.Submit("analyze_all", jobs::Lane::Model, [&analyzing, dir](const jobs::CancelToken& token) {
        try {
          analyzers::AnalyzeOptions ao;
          ao.threads = 1;
          analyzers::AnalyzeRun(dir, ao, {}, [&token] { return token.cancelled(); });
        } catch (const std::exception& e) {
          std::fprintf(stderr, "headscope: analysis failed: %s\n", e.what());
        }
        analyzing = false;
      });
    };

    int frame = 0;
    int ready_frames = 0;
    Clock::time_point script_moved_at{};
    bool latency_pending = false;  // a scripted move whose panels have not caught up yet
    const auto t_start = Clock::now();
    // With --frames and wait_ready: keep going until two quiet frames in a
    // row (every panel has its data), for at most a minute.
    auto still_waiting = [&] {
      if (script_pos < opt.script_epochs.size() && Clock::now() - t_start < std::chrono::minutes(10)) return true;
      return opt.wait_ready && ready_frames < 2 && Clock::now() - t_start < std::chrono::seconds(60);
    };
    while (!glfwWindowShouldClose(window)) {
      if (opt.frames > 0 && frame >= opt.frames && !still_waiting()) break;
      const auto t_frame = Clock::now();
      glfwPollEvents();
      if (glfwGetWindowAttrib(window, GLFW_ICONIFIED)) {
        glfwWaitEventsTimeout(0.1);
        continue;
      }
      ImGui_ImplOpenGL3_NewFrame();
      ImGui_ImplGlfw_NewFrame();
      ImGui::NewFrame();

      // Run data.
      if (run.Refresh() && follow_latest && !run.epochs.empty()) epoch_index = int(run.epochs.size()) - 1;
      if (epoch_index < 0 && !run.epochs.empty()) {
        epoch_index = int(run.epochs.size()) - 1;
        if (wanted_epoch >= 0) {
          auto it = std::lower_bound(run.epochs.begin(), run.epochs.end(), wanted_epoch);
          epoch_index = it == run.epochs.end() ? int(run.epochs.size()) - 1 : int(it - run.epochs.begin());
        }
      }
      epoch_index = std::min(epoch_index, int(run.epochs.size()) - 1);
      if (script_pos < opt.script_epochs.size() && frame >= 2 && (!opt.script_wait || ready_frames >= 1)) {
        auto it = std::lower_bound(run.epochs.begin(), run.epochs.end(), opt.script_epochs[script_pos++]);
        if (it != run.epochs.end()) epoch_index = int(it - run.epochs.begin());
        script_moved_at = Clock::now();
        latency_pending = true;
      }
      loss.Refresh(run.dir);
      // Live run: keep summaries current while checkpoints land.
      if (trainer.running && Clock::now() - last_analyze > std::chrono::seconds(5)) {
        last_analyze = Clock::now();
        start_analysis();
      }

      ViewContext v;
      v.run = run.dir;
      v.shape = run.shape;
      v.epochs = run.epochs;
      v.epoch = epoch_index >= 0 ? run.epochs[epoch_index] : -1;
      v.grok_epoch = loss.GrokEpoch();
      v.source = &source;

      const ImGuiViewport* vp = ImGui::GetMainViewport();
      ImGui::SetNextWindowPos(vp->WorkPos);
      ImGui::SetNextWindowSize(vp->WorkSize);
      ImGui::Begin("headscope", nullptr,
                   ImGuiWindowFlags_NoDecoration | ImGuiWindowFlags_NoMove | ImGuiWindowFlags_NoSavedSettings |
                       ImGuiWindowFlags_NoBringToFrontOnFocus);
      const float fh = ImGui::GetFontSize();

      if (!opt.panel.empty()) {
        // [SECTION] Single panel (headscope shot --panel NAME)
        if (opt.panel == "heads") grid.Draw(v);
        else if (opt.panel == "head_freq") head_freq.Draw(v);
        else if (opt.panel == "specialization") spec.Draw(v, nullptr);
        else if (opt.panel == "neurons") neurons.Draw(v);
        else if (opt.panel == "compare") compare.Draw(v, all_runs);
        else loss.Draw(v.epoch >= 0 ? float(v.epoch) : NAN);
      } else {
        // [SECTION] Top bar: run picker, training, analysis
        auto short_name = [](const fs::path& d) { return d.parent_path().filename().string() + "/" + d.filename().string(); };
        ImGui::SetNextItemWidth(fh * 20);
        if (ImGui::BeginCombo("run", short_name(run.dir).c_str())) {
          if (ImGui::IsWindowAppearing()) all_runs = io::ListRuns(opt.runs);
          for (const auto& r : all_runs)
            if (ImGui::Selectable(short_name(r).c_str(), r == run.dir)) {
              run.Open(r);
              epoch_index = -1;
              follow_latest = true;
            }
          if (all_runs.empty()) ImGui::TextDisabled("no runs under %s/", opt.runs.c_str());
          ImGui::EndCombo();
        }
        if (ImGui::IsItemHovered())
          ImGui::SetTooltip("%s\nPick any run folder under %s/ (<family>/<variant>)", run.dir.string().c_str(), opt.runs.c_str());
        ImGui::SameLine();
        if (trainer.running) {
          if (ImGui::Button(trainer.stop ? "Pausing..." : "Pause training")) trainer.stop = true;  // never block the UI
          if (ImGui::IsItemHovered()) ImGui::SetTooltip("Stops after the current epoch and saves the state; Resume continues exactly.");
          ImGui::SameLine();
          std::lock_guard<std::mutex> lock(trainer.mu);
          const auto& p = trainer.progress;
          char overlay[160];
          std::snprintf(overlay, sizeof overlay, "epoch %d / %d   test acc %.3f   %.0f ms/epoch   ETA %.0f s", p.epoch,
                        p.total_epochs, p.test_acc, p.ms_per_epoch, p.eta_seconds);
          ImGui::ProgressBar(p.total_epochs ? float(p.epoch) / p.total_epochs : 0.f, ImVec2(fh * 26, 0), overlay);
        } else if (run.valid && !fs::exists(io::RunPaths{run.dir}.Checkpoint(run.cfg.epochs))) {
          if (ImGui::Button(run.epochs.empty() ? "Start training" : "Resume training")) trainer.Start(run.cfg, run.dir);
          if (ImGui::IsItemHovered()) ImGui::SetTooltip("Trains this run in the background; the panels follow new checkpoints.");
        } else if (run.valid) {
          ImGui::TextDisabled("training complete (%d epochs)", run.cfg.epochs);
        }
        {
          std::lock_guard<std::mutex> lock(trainer.mu);
          if (trainer.error.find("being trained by another process") != std::string::npos) {
            ImGui::SameLine();
            ImGui::TextDisabled("another process is training this run; following it live");
          } else if (!trainer.error.empty()) {
            ImGui::SameLine();
            ImGui::TextColored(ImVec4(0.8f, 0.1f, 0.1f, 1), "training failed: %s", trainer.error.c_str());
          }
        }
        ImGui::SameLine();
        ImGui::BeginDisabled(analyzing.load() || run.epochs.empty());
        if (ImGui::Button(analyzing.load() ? "Analyzing..." : "Analyze all")) start_analysis();
        ImGui::EndDisabled();
        if (ImGui::IsItemHovered(ImGuiHoveredFlags_AllowWhenDisabled))
          ImGui::SetTooltip("Compute every analyzer for every checkpoint and the cross-epoch summaries\n(same as `headscope analyze RUN`).");
        if (!export_status.empty()) {
          ImGui::SameLine();
          ImGui::TextDisabled("%s", export_status.c_str());
        }
        if (!run.error.empty()) ImGui::TextColored(ImVec4(0.8f, 0.1f, 0.1f, 1), "%s", run.error.c_str());

        // [SECTION] Epoch bar
        const int n = int(run.epochs.size());
        if (n > 0) {
          if (ImGui::Button(playing ? "Pause" : "Play")) playing = !playing;
          if (ImGui::IsItemHovered()) ImGui::SetTooltip("Step through the checkpoints (about 8 per second)");
          ImGui::SameLine();
          if (ImGui::ArrowButton("##back", ImGuiDir_Left)) epoch_index = std::max(0, epoch_index - 1), follow_latest = false;
          ImGui::SameLine();
          if (ImGui::ArrowButton("##fwd", ImGuiDir_Right)) epoch_index = std::min(n - 1, epoch_index + 1);
          ImGui::SameLine();
          ImGui::SetNextItemWidth(ImGui::GetContentRegionAvail().x - fh * 16);
          char label[64];
          std::snprintf(label, sizeof label, "epoch %d", run.epochs[epoch_index]);
          if (ImGui::SliderInt("##epoch", &epoch_index, 0, n - 1, label)) follow_latest = epoch_index == n - 1;
          if (ImGui::IsItemHovered())
            ImGui::SetTooltip("Checkpoint shown by every panel (%d checkpoints). Left/Right arrow keys step.", n);
          ImGui::SameLine();
          ImGui::Checkbox("follow latest", &follow_latest);
          if (ImGui::IsItemHovered()) ImGui::SetTooltip("Jump to each new checkpoint as training writes it");
          if (!ImGui::GetIO().WantTextInput) {
            if (ImGui::IsKeyPressed(ImGuiKey_LeftArrow)) epoch_index = std::max(0, epoch_index - 1), follow_latest = false;
            if (ImGui::IsKeyPressed(ImGuiKey_RightArrow)) epoch_index = std::min(n - 1, epoch_index + 1);
          }
          if (playing && Clock::now() - last_play > std::chrono::milliseconds(120)) {
            last_play = Clock::now();
            epoch_index = epoch_index + 1 >= n ? 0 : epoch_index + 1;
          }
        } else {
          ImGui::TextDisabled("No checkpoints yet%s.", trainer.running ? ": the first one is written at epoch 0" : "");
        }
        ImGui::Separator();

        // [SECTION] Tabs
        if (ImGui::BeginTabBar("##tabs")) {
          if (ImGui::BeginTabItem("Heads")) {
            const ImVec2 avail = ImGui::GetContentRegionAvail();
            ImGui::BeginChild("##grid", ImVec2(avail.x * 0.5f, 0), true);
            ImGui::TextUnformatted("Attention patterns per head");
            ExportButton("heads", v.epoch, exports, export_status);
            grid.Draw(v);
            ImGui::EndChild();
            ImGui::SameLine();
            ImGui::BeginChild("##right", ImVec2(0, 0), false);
            const float h = ImGui::GetContentRegionAvail().y;
            ImGui::BeginChild("##headfreq", ImVec2(0, h * 0.5f), true);
            ExportButton("head_freq", v.epoch, exports, export_status);
            head_freq.Draw(v);
            ImGui::EndChild();
            ImGui::BeginChild("##spec", ImVec2(0, 0), true);
            ExportButton("specialization", v.epoch, exports, export_status);
            bool want = false;
            const int jump = spec.Draw(v, &want);
            if (want) start_analysis();
            if (jump >= 0 && n > 0) {
              auto it = std::lower_bound(run.epochs.begin(), run.epochs.end(), jump);
              epoch_index = it == run.epochs.end() ? n - 1 : int(it - run.epochs.begin());
              follow_latest = false;
            }
            ImGui::EndChild();
            ImGui::EndChild();
            ImGui::EndTabItem();
          }
          if (ImGui::BeginTabItem("Neurons")) {
            ImGui::BeginChild("##neurons", ImVec2(0, 0), false);
            ExportButton("neurons", v.epoch, exports, export_status);
            neurons.Draw(v);
            ImGui::EndChild();
            ImGui::EndTabItem();
          }
          if (ImGui::BeginTabItem("Compare")) {
            if (ImGui::IsWindowAppearing() || all_runs.empty()) all_runs = io::ListRuns(opt.runs);
            compare.Draw(v, all_runs);
            ImGui::EndTabItem();
          }
          if (ImGui::BeginTabItem("Training curves")) {
            ImGui::BeginChild("##loss", ImVec2(0, 0), false);
            ExportButton("loss_curves", v.epoch, exports, export_status);
            loss.Draw(v.epoch >= 0 ? float(v.epoch) : NAN);
            ImGui::EndChild();
            ImGui::EndTabItem();
          }
          ImGui::EndTabBar();
        }
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
      for (const auto& e : exports) {
        const float sx = io.DisplayFramebufferScale.x, sy = io.DisplayFramebufferScale.y;
        std::string err;
        if (!WriteFramebufferRegionPng(e.path, h, int(e.min.x * sx), int(e.min.y * sy), int((e.max.x - e.min.x) * sx),
                                       int((e.max.y - e.min.y) * sy), &err))
          export_status = "export failed: " + err;
      }
      exports.clear();
      const bool busy = jobs.Pending() + jobs.Running() > 0 || grid.stale();
      ready_frames = busy ? 0 : ready_frames + 1;
      ++frame;
      const bool last = opt.frames > 0 && frame >= opt.frames && !still_waiting();
      if (!opt.screenshot.empty() && last) {
        std::string err;
        if (!WriteFramebufferPng(opt.screenshot, w, h, &err)) std::cerr << "headscope: " << err << "\n";
      }
      glfwSwapBuffers(window);
      if (frame_log.is_open()) {
        glFinish();
        frame_log << frame << "," << v.epoch << "," << build_ms << ","
                  << std::chrono::duration<double, std::milli>(Clock::now() - t_frame).count() << "," << (busy ? 1 : 0)
                  << "," << widgets::TextureUploadCount() << ",";
        if (latency_pending && !grid.stale()) {  // the head heatmaps show the epoch the script moved to
          latency_pending = false;
          frame_log << std::chrono::duration<double, std::milli>(Clock::now() - script_moved_at).count();
        }
        frame_log << "\n";
      }
      if (opt.wait_ready && busy && opt.frames > 0) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    if (opt.frames == 0 && run.valid) {
      try {
        nlohmann::json st = {{"run", run.dir.string()}, {"epoch", epoch_index >= 0 ? run.epochs[epoch_index] : -1}};
        io::WriteFileAtomic(kStateFile, st.dump(2));
      } catch (const std::exception&) {
      }
    }
    trainer.Stop();
    jobs.Shutdown();  // before the store and source its jobs write into go away
    widgets::ReleaseWidgetTextures();
  }

  ImGui_ImplOpenGL3_Shutdown();
  ImGui_ImplGlfw_Shutdown();
  ImGui::DestroyContext();
  glfwDestroyWindow(window);
  glfwTerminate();
  return 0;
}

}  // namespace hs::app
