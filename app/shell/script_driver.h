// The scripted test driver: moves the workspace's epoch selection one step
// per ready frame (tests, benchmarks), writes a per-frame log (build and
// total time, whether panels wait, texture uploads, and the latency from a
// move until the head grid shows the new epoch), and optionally a PNG of the
// window after each step once every panel shows it.
#pragma once

#include <chrono>
#include <fstream>
#include <string>
#include <vector>

#include "commands.h"
#include "workspace.h"

namespace hs::app {

class ScriptDriver {
 public:
  explicit ScriptDriver(const ExplorerOptions& opt);
  // Steps remain (or a step's picture is not written yet).
  bool Active() const;
  // Before drawing frame `frame`: selects the next scripted epoch when the
  // previous step is done (with script_wait: once every panel shows it).
  void BeforeFrame(Workspace& ws, int frame, bool ready);
  // After rendering, before the swap: the frame log line and the step's PNG.
  void AfterFrame(Workspace& ws, int frame, bool ready, double build_ms, double total_ms, int fb_w, int fb_h);

 private:
  const ExplorerOptions& m_opt;
  size_t m_pos = 0;          // next scripted step
  int m_step = -1;           // the step shown now
  bool m_step_shot = true;   // its PNG is written (or none is wanted)
  bool m_latency_pending = false;
  std::chrono::steady_clock::time_point m_moved_at{};
  std::ofstream m_log;
};

class LmWorkspace;

// Types the prompts of opt.script_prompts (one per line) into the
// language-model workspace one after another: each as soon as the previous
// one's panels are drawn with its result. With opt.frame_log, writes per
// edit "index,tokens,edit_to_drawn_ms,compute_ms" (bench/head_roles_latency).
class PromptScript {
 public:
  explicit PromptScript(const ExplorerOptions& opt);
  bool Active() const { return m_active; }
  void BeforeFrame(LmWorkspace& ws, bool ready);
  // False when the file could not be read.
  bool Finish() const { return m_ok; }

 private:
  std::vector<std::string> m_prompts;
  size_t m_pos = 0;
  bool m_active = false, m_ok = true, m_pending = false;
  std::chrono::steady_clock::time_point m_edit_at{};
  std::ofstream m_log;
};

}  // namespace hs::app
