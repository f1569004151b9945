// The panel interface and registry. A panel is one struct in one file under
// app/panels/; it registers itself with a PanelDef (the name `headscope shot
// --panel` uses, its workspace, its tab and place in the tab's layout) and
// draws from a read-only ViewContext. Adding a panel is adding one file (its
// names unique to the file: the app compiles as unity batches):
//
//   namespace {
//   struct MyPanel : Panel {
//     void Draw(const ViewContext& v, PanelOutput& out) override { ... }
//   };
//   const bool kMyPanelRegistered = RegisterPanel({"my_panel", "My title", WorkspaceKind::Grokking, "Heads", 40,
//                                           /*column=*/1, /*height=*/0.5f, true,
//                                           [] { return std::make_unique<MyPanel>(); }});
//   }  // namespace
//
// headscope_app is an OBJECT library so that every panel file is linked and
// its registration runs.
#pragma once

#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "view_context.h"

namespace hs::app {

enum class WorkspaceKind { Grokking, LanguageModel };

// What a panel asks of its workspace this frame (the context is read-only).
struct PanelOutput {
  int jump_to_epoch = -1;                    // the user clicked an epoch
  bool analyze_all = false;                  // "Analyze all" from an empty state
  std::optional<std::pair<int, int>> pair;   // a new position pair (query, key)
  std::optional<std::vector<std::filesystem::path>> report;  // write a report of these runs
  // Language-model workspace:
  std::optional<std::pair<int, int>> head;   // select a head (layer, head)
  std::optional<std::string> prompt;         // replace the prompt (a suggested prompt)
  std::optional<std::string> category;       // select a category (role grid)
  std::optional<int> step;                   // select a checkpoint step (-1: final weights)
  std::optional<bool> without_sink;          // attention views without the first key (LmView::without_sink)
  bool compute_plasticity = false;           // capture and analyse every head now
  bool cancel_plasticity = false;
  // Heads turned off (a head's context menu) and back on; one mode for all.
  std::optional<std::pair<int, int>> head_off;  // turn this head off ...
  int head_off_mode = 0;                        // ... 0: zero ablation, 1: mean ablation
  std::optional<std::pair<int, int>> head_on;   // turn this head back on
  bool all_heads_on = false;                    // turn every head back on
};

class Panel {
 public:
  virtual ~Panel() = default;
  virtual void Draw(const ViewContext& v, PanelOutput& out) = 0;
  // True while the panel lacks data it is waiting for (shot waits for it;
  // the frame log measures latency until it clears).
  virtual bool Waiting() const { return false; }
  // The header line when it depends on what is shown ("" : PanelDef::title).
  virtual std::string Title(const ViewContext&) const { return {}; }
  // The errors the panel showed in its last frame (shot prints them and
  // exits non-zero).
  virtual std::vector<std::string> Errors() const { return {}; }
  // Problems it showed that do not stop it (a cache file not saved).
  virtual std::vector<std::string> Warnings() const { return {}; }
};

// A panel whose state is a PanelStatus (view_context.h): Waiting and Errors
// read it, and a per-epoch panel's Draw opens with BeginEpoch.
class StatusPanel : public Panel {
 public:
  bool Waiting() const override { return m_status.waiting; }
  std::vector<std::string> Errors() const override { return m_status.errors; }

 protected:
  // Resets the status; true when there is a run and a checkpoint to show,
  // else draws the empty state and returns false.
  bool BeginEpoch(const ViewContext& v) {
    m_status.Reset();
    return HasEpochToShow(v);
  }
  PanelStatus m_status;
};

struct PanelDef {
  std::string name;   // `headscope shot --panel NAME`; also the export file name
  std::string title;  // header line above the panel
  WorkspaceKind workspace = WorkspaceKind::Grokking;
  std::string tab;    // the tab it lives in; tabs appear in the order of their first panel
  int order = 0;      // position in the tab (and of the tab)
  int column = 0;     // 0: left (or full width when the tab has no right column); 1: right
  float height = 1;   // fraction of its column's height (the last panel takes the rest)
  bool exportable = true;  // "PNG" button in the header
  std::function<std::unique_ptr<Panel>()> make;
};

// Registers a panel; returns true (for a namespace-scope constant).
bool RegisterPanel(PanelDef def);
// Every registered panel, ordered by `order`.
const std::vector<PanelDef>& PanelRegistry();
const PanelDef* FindPanel(const std::string& name);
// "heads, head_freq, ..." for help texts and errors.
std::string PanelNameList(WorkspaceKind ws);

}  // namespace hs::app
