// A workspace is what the window shows about one subject: its controls (top
// bar, selectors), its selection, and its panels, laid out in tabs from the
// panel registry. The grokking workspace is a run with an epoch slider and a
// position pair; the language-model workspace is a model and a prompt.
#pragma once

#include <imgui.h>

#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "panel.h"

namespace hs::app {

// A panel PNG export requested this frame, written by the shell after
// rendering.
struct ExportRequest {
  std::string path;
  ImVec2 min, max;
};
struct ExportQueue {
  std::vector<ExportRequest> requests;
  std::string status;  // last "saved ..." or error, shown in the top bar
};

// A workspace owns its registered panels and draws them in tabs under its
// own bars (DrawBars); the shell calls Update, Draw and the queries below.
class Workspace {
 public:
  explicit Workspace(WorkspaceKind kind);
  virtual ~Workspace() = default;
  virtual const char* name() const = 0;
  // Per frame: refresh what the workspace shows (files, live runs, requests).
  virtual void Update() = 0;
  // The whole workspace: its bars, then the tabs of its registered panels.
  void Draw(ExportQueue& exports);
  // One registered panel filling the window (`headscope shot --panel`).
  void DrawSinglePanel(const std::string& panel, ExportQueue& exports);
  // Whether the named panel (or any panel drawn this frame when empty), or
  // the workspace itself, is still waiting for data.
  bool Waiting(const std::string& panel = {}) const;
  // Errors shown this frame: the workspace's own, then "panel: message".
  std::vector<std::string> Errors() const;
  // Problems shown that do not stop the work (a cache file not saved).
  virtual std::vector<std::string> Warnings() const { return {}; }
  // What to remember across sessions.
  virtual nlohmann::json SaveState() const = 0;
  // The scripted test driver moves the selection: nearest checkpoint at or
  // after `epoch`; returns the epoch selected (-1: none yet, or no epochs).
  virtual int SelectEpoch(int) { return -1; }
  virtual int SelectedEpoch() const { return -1; }
  // Stops background work that must save state (training) before exit.
  virtual void Stop() {}

 protected:
  // The controls above the tabs (top bar, selectors, status lines).
  virtual void DrawBars() = 0;
  // What the panels see this frame, and what they asked for.
  virtual ViewContext Context() const = 0;
  virtual void Apply(const PanelOutput& out) = 0;
  virtual bool WaitingSelf() const { return false; }
  virtual void AppendErrors(std::vector<std::string>&) const {}

 private:
  WorkspaceKind m_kind;
  std::map<std::string, std::unique_ptr<Panel>> m_panels;  // registry name -> instance
  std::vector<std::string> m_drawn;                        // panels drawn this frame
};

// Draws a registered panel in a bordered child of `size`: a header line with
// its title and a "PNG" button at the right (never over the panel's
// content), then the panel.
void DrawPanelFrame(const PanelDef& def, Panel& panel, const ViewContext& v, PanelOutput& out, ImVec2 size,
                    ExportQueue& exports, bool export_button = true);

// A progress bar as wide as its text (never clips it); fraction < 0 draws empty.
void TextProgressBar(float fraction, const char* text);

}  // namespace hs::app
