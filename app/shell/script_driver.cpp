// Scripted test driver (see script_driver.h).
#include "script_driver.h"

#include <iostream>

#include "lm_workspace.h"

#include <filesystem>
#include <iostream>

#include "screenshot.h"
#include "texture.h"

namespace hs::app {
using Clock = std::chrono::steady_clock;

ScriptDriver::ScriptDriver(const ExplorerOptions& opt) : m_opt(opt) {
  if (!opt.frame_log.empty() && opt.script_prompts.empty()) {  // with prompts, PromptScript logs
    m_log.open(opt.frame_log);
    m_log << "frame,epoch,build_ms,total_ms,stale,uploads,latency_ms\n";
  }
  if (!opt.script_shots.empty()) std::filesystem::create_directories(opt.script_shots);
}

bool ScriptDriver::Active() const { return m_pos < m_opt.script_epochs.size() || !m_step_shot; }

void ScriptDriver::BeforeFrame(Workspace& ws, int frame, bool ready) {
  if (m_pos >= m_opt.script_epochs.size() || frame < 2 || !m_step_shot) return;
  if (m_opt.script_wait && !ready) return;
  ws.SelectEpoch(m_opt.script_epochs[m_pos]);
  m_step = int(m_pos++);
  m_step_shot = m_opt.script_shots.empty();
  m_moved_at = Clock::now();
  m_latency_pending = true;
}

void ScriptDriver::AfterFrame(Workspace& ws, int frame, bool ready, double build_ms, double total_ms, int fb_w,
                              int fb_h) {
  if (!m_step_shot && ready && m_step >= 0) {
    const std::string path = m_opt.script_shots + "/step_" + std::to_string(m_step) + ".png";
    std::string err;
    if (!WriteFramebufferPng(path, fb_w, fb_h, &err)) std::cerr << "headscope: " << err << "\n";
    m_step_shot = true;
  }
  if (!m_log.is_open()) return;
  m_log << frame << "," << ws.SelectedEpoch() << "," << build_ms << "," << total_ms << "," << (ready ? 0 : 1) << ","
        << widgets::TextureUploadCount() << ",";
  if (m_latency_pending && !ws.Waiting("heads")) {  // the head grid shows the epoch the script moved to
    m_latency_pending = false;
    m_log << std::chrono::duration<double, std::milli>(Clock::now() - m_moved_at).count();
  }
  m_log << "\n";
}

PromptScript::PromptScript(const ExplorerOptions& opt) {
  if (opt.script_prompts.empty()) return;
  std::ifstream in(opt.script_prompts);
  if (!in) {
    std::cerr << "headscope: --script-prompts " << opt.script_prompts << ": cannot be read\n";
    m_ok = false;
    return;
  }
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) m_prompts.push_back(line);
  m_active = !m_prompts.empty();
  if (!opt.frame_log.empty()) {
    m_log.open(opt.frame_log);
    m_log << "index,tokens,edit_to_drawn_ms,compute_ms\n";
  }
}

void PromptScript::BeforeFrame(LmWorkspace& ws, bool ready) {
  if (!m_active || !ready) return;
  const auto now = std::chrono::steady_clock::now();
  if (m_pending) {  // the previous edit's result was drawn in the last frame
    const auto& a = ws.view().analysis;
    if (!a || !ws.view().analysis_current || a->prompt != m_prompts[m_pos - 1]) return;
    if (m_log.is_open() && a)
      m_log << m_pos - 1 << "," << a->T() << ","
            << std::chrono::duration<double, std::milli>(now - m_edit_at).count() << "," << a->compute_ms << "\n";
    m_pending = false;
  }
  if (m_pos >= m_prompts.size()) {
    m_active = false;
    m_log.flush();
    return;
  }
  ws.SetPrompt(m_prompts[m_pos++]);
  m_edit_at = now;
  m_pending = true;
}

}  // namespace hs::app
