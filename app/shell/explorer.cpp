// [SECTION] Index
//   Start ..................... the no-display message, signals
//   Window .................... GLFW + OpenGL3 + Dear ImGui: open, frame, present, close
//   Shell ..................... the requests, both workspaces and the scripts; one frame
//   RunExplorer ............... init / loop / shutdown
// The explorer shell: the window and its frame loop. What it shows lives in
// workspaces (workspace.h), panels register themselves (panel.h), data
// comes through Requests (requests.h), who gets the cores is the thread
// policy's (jobs/thread_policy.h), what is remembered is the state file's.
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
#include "jobs/thread_policy.h"
#include "lm_workspace.h"
#include "screenshot.h"
#include "script_driver.h"
#include "state_file.h"

namespace hs::app {
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

// [SECTION] Start
void NoDisplayMessage(const char* why) {
  std::cerr << "headscope: cannot open the explorer window: " << why << ".\n"
            << "The explorer needs a display. Headless commands do the same work in batch:\n"
            << "  headscope train [--p 113 ...]              train (or resume) a run\n"
            << "  headscope analyze RUN_DIR                  compute every artifact (numpy-readable .npz)\n"
            << "  headscope shot --run RUN_DIR --epoch N --out FILE.png   render a panel to PNG (uses xvfb-run if needed)\n"
            << "  headscope --help                           all subcommands\n";
}

// Ctrl-C / SIGTERM: leave the frame loop so that training saves its state
// at the current epoch. A second signal exits at once.
std::atomic<int> g_quit{0};
void OnQuitSignal(int sig) {
  if (g_quit.fetch_add(1) > 0) {
    std::signal(sig, SIG_DFL);
    std::raise(sig);
  }
}

void GlfwError(int code, const char* desc) { std::fprintf(stderr, "GLFW error %d: %s\n", code, desc); }

// [SECTION] Window
class Window {
 public:
  // Opens the window and Dear ImGui; false (with the message printed) when it cannot.
  bool Open(const ExplorerOptions& opt) {
    glfwSetErrorCallback(GlfwError);
    if (!glfwInit()) return NoDisplayMessage("the display could not be opened"), false;
    glfwWindowHint(GLFW_CONTEXT_VERSION_MAJOR, 3);
    glfwWindowHint(GLFW_CONTEXT_VERSION_MINOR, 0);
    m_window = glfwCreateWindow(opt.width, opt.height, "headscope", nullptr, nullptr);
    if (!m_window) {
      glfwTerminate();
      return NoDisplayMessage("no OpenGL 3 window could be created"), false;
    }
    glfwMakeContextCurrent(m_window);
    glfwSwapInterval(opt.frames > 0 ? 0 : 1);
    IMGUI_CHECKVERSION();
    ImGui::CreateContext();
    ImGuiIO& io = ImGui::GetIO();
    io.IniFilename = opt.frames > 0 ? nullptr : "headscope_layout.ini";
    float xscale = 1, yscale = 1;
    glfwGetWindowContentScale(m_window, &xscale, &yscale);
    const float scale = std::max(1.0f, xscale);
    const char* kFont = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf";
    if (fs::exists(kFont)) io.Fonts->AddFontFromFileTTF(kFont, 15.0f * scale);
    ImGui::StyleColorsLight();
    ImGui::GetStyle().ScaleAllSizes(scale);
    ImGui::GetStyle().FrameRounding = 3;
    ImGui_ImplGlfw_InitForOpenGL(m_window, true);
    ImGui_ImplOpenGL3_Init("#version 130");
    widgets::SetTextureBackend(GlTextureBackend());
    return true;
  }
  void Close() {
    widgets::ReleaseWidgetTextures();
    ImGui_ImplOpenGL3_Shutdown();
    ImGui_ImplGlfw_Shutdown();
    ImGui::DestroyContext();
    glfwDestroyWindow(m_window);
    glfwTerminate();
  }
  bool ShouldClose() const { return glfwWindowShouldClose(m_window); }
  bool Iconified() const { return glfwGetWindowAttrib(m_window, GLFW_ICONIFIED); }
  void Swap() { glfwSwapBuffers(m_window); }
  // Renders the frame built since NewFrame; the framebuffer's size.
  void Render(int* w, int* h) {
    ImGui::Render();
    glfwGetFramebufferSize(m_window, w, h);
    glViewport(0, 0, *w, *h);
    glClearColor(0.95f, 0.95f, 0.95f, 1.0f);
    glClear(GL_COLOR_BUFFER_BIT);
    ImGui_ImplOpenGL3_RenderDrawData(ImGui::GetDrawData());
  }

 private:
  GLFWwindow* m_window = nullptr;
};

// [SECTION] Shell
class Shell {
 public:
  Shell(const ExplorerOptions& opt, const StartView& start)
      : m_opt(opt),
        // Panel computations yield to a training run (nice 19: ~1.5% of a
        // core when the trainer wants both; no effect when the cores are
        // free), so the trainer keeps its headless speed and panels fill its gaps.
        m_requests(size_t(768) << 20, 1, 19),
        m_grokking(GrokkingOptions{opt.runs, opt.compare}, m_requests),
        m_lm(LmOptions{opt.model, opt.prompt, opt.head, opt.step, opt.open_model_picker}, m_requests),
        m_driver(opt),
        m_prompts(opt) {
    const RememberedView& r = start.remembered;
    if (opt.model.empty() && !r.lm_model.empty()) m_lm.SetStartModel(r.lm_model);
    if (opt.prompt.empty() && !r.lm_prompt.empty()) m_lm.SetPrompt(r.lm_prompt);
    if (opt.step < 0 && r.lm_step >= 0) m_lm.SelectStep(r.lm_step);
    m_active = start.lm_first ? static_cast<Workspace*>(&m_lm) : &m_grokking;
    m_grokking.Open(start.run, start.epoch);
    if (start.query_pos >= 0) m_grokking.SetPair(start.query_pos, start.key_pos);
    // The default run trains when it is missing or unfinished (with
    // --frames only when asked: screenshots of a live run).
    if (!start.lm_first && start.run == fs::path(DefaultRunDir(opt.runs)) && opt.train_if_missing &&
        (opt.frames == 0 || opt.train_scripted))
      m_grokking.TrainIfIncomplete();
    // A finished job wakes the frame loop, which otherwise sleeps between
    // events while a language model computes (software GL would take the
    // cores the forward needs).
    m_requests.SetOnFinish([] { glfwPostEmptyEvent(); });
    m_start = Clock::now();
  }

  // Frames until the window closes, a signal arrives, or a scripted run ends.
  int Loop(Window& window) {
    int rc = 0;
    while (!window.ShouldClose() && g_quit == 0) {
      if (m_opt.frames > 0 && m_frame >= m_opt.frames && !StillWaiting() &&
          (m_opt.screenshot.empty() || m_shot_written))
        break;
      WaitForWork();
      const auto t_frame = Clock::now();
      glfwPollEvents();
      if (window.Iconified()) {
        glfwWaitEventsTimeout(0.1);
        continue;
      }
      m_grokking.Update();
      if (m_active == &m_lm) m_lm.Update();
      m_threads.Update(m_active == &m_lm, m_grokking.trainer().running(), !m_requests.Busy());
      m_prompts.BeforeFrame(m_lm, m_ready_frames >= 1);
      m_driver.BeforeFrame(m_grokking, m_frame, m_ready_frames >= 1);
      BuildFrame();
      const double build_ms = std::chrono::duration<double, std::milli>(Clock::now() - t_frame).count();
      int w = 0, h = 0;
      window.Render(&w, &h);
      WriteExports(h);
      const bool ready = !m_active->Waiting() && !m_requests.Busy();
      m_ready_frames = ready ? m_ready_frames + 1 : 0;
      ++m_frame;
      if (m_opt.frame_log.size() || m_opt.script_shots.size()) glFinish();
      m_driver.AfterFrame(m_grokking, m_frame, ready, build_ms,
                          std::chrono::duration<double, std::milli>(Clock::now() - t_frame).count(), w, h);
      if (!m_opt.screenshot.empty() && m_opt.frames > 0 && m_frame >= m_opt.frames && !StillWaiting()) {
        std::string err;
        if (!WriteFramebufferPng(m_opt.screenshot, w, h, &err)) std::cerr << "headscope: " << err << "\n", rc = 1;
        m_shot_written = true;
      }
      window.Swap();
      if (m_opt.wait_ready && !ready && m_opt.frames > 0) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return rc;
  }

  // Reports what a scripted run could not draw, remembers the view, and
  // stops the background work (training saves its state).
  int Shutdown() {
    int rc = 0;
    if (m_opt.wait_ready) {  // scripts (shot) learn when a panel could not draw its data
      for (const auto& e : m_active->Errors()) std::cerr << "headscope shot: " << e << "\n", rc = 1;
      for (const auto& w : m_active->Warnings()) std::cerr << "headscope shot: warning: " << w << "\n";
      if (m_active->Waiting() && g_quit == 0 && m_opt.capture_after_s < 0) {
        std::cerr << "headscope shot: gave up after 60 s: a panel is still waiting for its data\n";
        rc = 1;
      }
    }
    if (m_opt.frames == 0) {
      nlohmann::json state = m_grokking.run().valid() ? m_grokking.SaveState() : nlohmann::json::object();
      state["lm"] = m_lm.SaveState();
      state["workspace"] = m_active == &m_lm ? "lm" : "grokking";
      SaveRememberedView(state);
    }
    if (g_quit > 0) std::cerr << "headscope: interrupted; stopping background work (training state is saved)\n";
    if (!m_prompts.Finish()) rc = 1;
    m_grokking.Stop();  // training saves train_state at the current epoch
    m_requests.Shutdown();
    return rc;
  }

 private:
  // With --frames and wait_ready: keep going until two quiet frames in a
  // row (every panel has its data), for at most a minute (ten while a
  // script runs).
  bool m_shot_written = false;  // the screenshot of a scripted run is on disk
  bool StillWaiting() const {
    if (m_opt.capture_after_s >= 0) return Clock::now() - m_start < std::chrono::duration<double>(m_opt.capture_after_s);
    if ((m_driver.Active() || m_prompts.Active()) && Clock::now() - m_start < std::chrono::minutes(10)) return true;
    return m_opt.wait_ready && m_ready_frames < 2 && Clock::now() - m_start < std::chrono::seconds(60);
  }

  // While a language model computes, sleep until its result wakes the loop
  // (at most 0.1 s). Interactive otherwise: draw when something happens, not
  // as fast as the GPU (or llvmpipe) allows; the frames would take the cores
  // that training and analysis need. Input wakes the loop at once. While a
  // run trains, 5 frames a second follow it (llvmpipe took 20% of a core at
  // 10); while the slider plays or panels compute, 30; otherwise 4.
  void WaitForWork() {
    if (m_active == &m_lm && m_requests.Busy() && !m_driver.Active()) {
      glfwWaitEventsTimeout(0.1);
      return;
    }
    if (m_opt.frames > 0) return;
    const double fps = m_grokking.Animating()          ? 30
                       : m_grokking.trainer().running() ? 5
                       : m_requests.Busy()              ? 30
                                                        : 4;
    glfwWaitEventsTimeout(1.0 / fps);
  }

  void BuildFrame() {
    ImGui_ImplOpenGL3_NewFrame();
    ImGui_ImplGlfw_NewFrame();
    // Scripted runs and shots: the pointer Xvfb leaves mid-screen must not
    // hover a widget (a tooltip would cover the picture).
    if (m_opt.frames > 0) ImGui::GetIO().MousePos = ImVec2(-FLT_MAX, -FLT_MAX);
    ImGui::NewFrame();
    const ImGuiViewport* vp = ImGui::GetMainViewport();
    ImGui::SetNextWindowPos(vp->WorkPos);
    ImGui::SetNextWindowSize(vp->WorkSize);
    ImGui::Begin("headscope", nullptr,
                 ImGuiWindowFlags_NoDecoration | ImGuiWindowFlags_NoMove | ImGuiWindowFlags_NoSavedSettings |
                     ImGuiWindowFlags_NoBringToFrontOnFocus);
    if (m_opt.panel.empty()) {
      // The two workspaces, as a segmented control on the first line.
      ImGui::AlignTextToFramePadding();
      ImGui::TextDisabled("headscope");
      ImGui::SameLine();
      if (ImGui::RadioButton("Grokking workbench", m_active == &m_grokking)) m_active = &m_grokking;
      if (ImGui::IsItemHovered()) ImGui::SetTooltip("Modular addition: train, checkpoints, Fourier analyzers");
      ImGui::SameLine();
      if (ImGui::RadioButton("Language models", m_active == &m_lm)) m_active = &m_lm;
      if (ImGui::IsItemHovered())
        ImGui::SetTooltip("Hugging Face models and the demo LM: head roles on your prompt, roles forming in training");
      ImGui::SameLine();
      ImGui::TextDisabled("|");
      ImGui::SameLine();
      m_active->Draw(m_exports);
    } else {
      m_active->DrawSinglePanel(m_opt.panel, m_exports);
    }
    ImGui::End();
  }

  // Panel PNGs asked for this frame, cut from the rendered framebuffer.
  void WriteExports(int fb_height) {
    const ImGuiIO& io = ImGui::GetIO();
    for (const auto& e : m_exports.requests) {
      const float sx = io.DisplayFramebufferScale.x, sy = io.DisplayFramebufferScale.y;
      std::string err;
      if (!WriteFramebufferRegionPng(e.path, fb_height, int(e.min.x * sx), int(e.min.y * sy),
                                     int((e.max.x - e.min.x) * sx), int((e.max.y - e.min.y) * sy), &err))
        m_exports.status = "export failed: " + err;
    }
    m_exports.requests.clear();
  }

  const ExplorerOptions& m_opt;
  // Declared first, destroyed last: the workspaces (and their panels) go
  // before the requests they hold results of; Requests joins its workers
  // before its store goes.
  Requests m_requests;
  GrokkingWorkspace m_grokking;
  LmWorkspace m_lm;
  Workspace* m_active = nullptr;
  ScriptDriver m_driver;
  PromptScript m_prompts;
  jobs::InferenceThreads m_threads;
  ExportQueue m_exports;
  int m_frame = 0, m_ready_frames = 0;
  Clock::time_point m_start;
};

}  // namespace

// [SECTION] RunExplorer
int RunExplorer(const ExplorerOptions& opt) {
  if (!std::getenv("DISPLAY") && !std::getenv("WAYLAND_DISPLAY")) {
    NoDisplayMessage("no display found (DISPLAY and WAYLAND_DISPLAY are not set)");
    return 3;
  }
  StartView start;
  if (const int rc = ResolveStart(opt, &start)) return rc;
  Window window;
  if (!window.Open(opt)) return 3;
  g_quit = 0;
  auto old_int = std::signal(SIGINT, OnQuitSignal);
  auto old_term = std::signal(SIGTERM, OnQuitSignal);
  int rc = 0;
  {
    Shell shell(opt, start);
    rc = shell.Loop(window);
    rc = shell.Shutdown() != 0 ? 1 : rc;
  }
  std::signal(SIGINT, old_int);
  std::signal(SIGTERM, old_term);
  window.Close();
  return rc;
}

}  // namespace hs::app
