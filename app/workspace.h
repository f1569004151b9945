// A workspace is what the window shows about one subject: its controls (top
// bar, selectors), its selection, and its panels, laid out in tabs from the
// panel registry. The grokking workspace is a run with an epoch slider and a
// position pair; the language-model workspace will be a model and a prompt.
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

class Workspace {
 public:
  virtual ~Workspace() = default;
  virtual const char* name() const = 0;
  // Per frame: refresh what the workspace shows (files, live runs).
  virtual void Update() = 0;
  // The whole workspace: controls, then the tabs of registered panels.
  virtual void Draw(ExportQueue& exports) = 0;
  // One registered panel filling the window (`headscope shot --panel`).
  virtual void DrawSinglePanel(const std::string& panel, ExportQueue& exports) = 0;
  // Whether the named panel (or any panel drawn this frame when empty) is
  // still waiting for its data.
  virtual bool Waiting(const std::string& panel = {}) const = 0;
  // Errors shown by the panels drawn this frame, "panel: message".
  virtual std::vector<std::string> Errors() const = 0;
  // What to remember across sessions, and restoring it.
  virtual nlohmann::json SaveState() const = 0;
  // The scripted test driver moves the selection: nearest checkpoint at or
  // after `epoch`; returns the epoch selected (-1: none yet).
  virtual int SelectEpoch(int epoch) = 0;
  virtual int SelectedEpoch() const = 0;
  // Stops background work that must save state (training) before exit.
  virtual void Stop() = 0;
};

// Draws a registered panel in a bordered child of `size`: a header line with
// its title and a "PNG" button at the right (never over the panel's
// content), then the panel.
void DrawPanelFrame(const PanelDef& def, Panel& panel, const ViewContext& v, PanelOutput& out, ImVec2 size,
                    ExportQueue& exports, bool export_button = true);

// The workspace's registered panels in tabs (tabs in the order of their
// first panel; in a tab, a left and an optional right column with the
// panels' height fractions). Appends the names of the panels drawn.
using PanelMap = std::map<std::string, std::unique_ptr<Panel>>;
void DrawRegisteredTabs(WorkspaceKind kind, PanelMap& panels, const ViewContext& v, PanelOutput& out,
                        ExportQueue& exports, std::vector<std::string>& drawn);
// A progress bar as wide as its text (never clips it); fraction < 0 draws empty.
void TextProgressBar(float fraction, const char* text);
// "parent/name" of a folder, for pickers.
std::string ShortName(const std::filesystem::path& dir);

// Every registered panel of `kind`, instantiated.
PanelMap MakePanels(WorkspaceKind kind);
// One registered panel filling the window (`shot --panel`); appends it to `drawn`.
void DrawSingleRegisteredPanel(const std::string& name, PanelMap& panels, const ViewContext& v, PanelOutput& out,
                               ExportQueue& exports, std::vector<std::string>& drawn);
// Workspace::Waiting and Errors over the panels: the named one, or those drawn this frame.
bool PanelsWaiting(const PanelMap& panels, const std::vector<std::string>& drawn, const std::string& panel);
void AppendPanelErrors(const PanelMap& panels, const std::vector<std::string>& drawn, std::vector<std::string>& out);

}  // namespace hs::app
