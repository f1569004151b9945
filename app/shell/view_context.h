// What every panel sees each frame, read-only: the run, the workspace's
// selection (epoch, position pair), the run's metrics, and the requests
// service panels ask for data through.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "families/run_info.h"
#include "heatmap.h"
#include "io/npz.h"
#include "requests.h"

namespace hs::app {

struct LmView;  // lm_view.h

struct ViewContext {
  families::RunInfoPtr run;  // null: no run open (or its config is unreadable)
  std::vector<int> epochs;   // checkpoints present, ascending
  int epoch = -1;            // the selected checkpoint epoch (-1: none yet)
  int query_pos = -1, key_pos = -1;  // the selected position pair
  std::shared_ptr<const MetricsData> metrics;  // null until metrics.csv is read
  int grok_epoch = -1;       // first epoch with test accuracy > kGrokTestAccuracy, -1 if not yet
  bool analyzing = false;    // "Analyze all" is running for this run
  std::vector<std::filesystem::path> all_runs;  // every run under the runs folder (Compare)
  std::vector<std::filesystem::path> compare_with;  // runs to compare with first (--compare)
  Requests* requests = nullptr;
  std::string metrics_error; // why metrics.csv could not be read (names the file)
  const LmView* lm = nullptr; // the language-model workspace's state (its panels only)
};

// What a panel reports about its last frame (Panel::Waiting, Panel::Errors).
struct PanelStatus {
  bool waiting = false;             // some data it needs is still loading
  std::vector<std::string> errors;  // the errors it showed, each naming its file
  void Reset() { waiting = false, errors.clear(); }
};

// One per-epoch artifact a panel shows. Fetch requests it for the selected
// epoch, keeps the last value while the next one loads (drawn stale; dropped
// when the run changes), draws and records an error, and marks the panel
// waiting while the selected epoch's value is not there.
class PanelArtifact {
 public:
  PanelArtifact(std::string slot, std::string analyzer) : m_slot(std::move(slot)), m_analyzer(std::move(analyzer)) {}
  // The value to draw (possibly an earlier epoch's: see stale()), or null.
  const io::NpzArchive* Fetch(const ViewContext& v, PanelStatus& status);
  bool stale(int epoch) const { return m_shown.stale(epoch); }
  int epoch() const { return m_shown.epoch; }  // the epoch the value belongs to
  bool failed() const { return !m_error.empty(); }

 private:
  std::string m_slot, m_analyzer, m_error;
  Shown<io::NpzArchive> m_shown;
};

// One analyzer's cross-epoch summary (artifacts/<analyzer>/summary.npz) a
// panel shows: requested every frame, the last value kept while a changed
// file loads, dropped when the run changes or the file disappears; an error
// is drawn and recorded in the panel's status.
class PanelSummary {
 public:
  PanelSummary(std::string slot, std::string analyzer) : m_slot(std::move(slot)), m_analyzer(std::move(analyzer)) {}
  // The summary to draw, or null: then, unless there was an error, the panel
  // draws SummaryEmptyState.
  std::shared_ptr<const io::NpzArchive> Fetch(const ViewContext& v, PanelStatus& status);

 private:
  std::string m_slot, m_analyzer;
  Shown<io::NpzArchive> m_shown;
};

// The empty state of a panel whose summary is not there yet: "reading" while
// its file loads, else what is happening, and an "Analyze all checkpoints"
// button when nothing is.
void SummaryEmptyState(const ViewContext& v, const PanelStatus& status, const char* while_analysing, const char* otherwise,
                       bool* analyze_all);

// Pointer to a float32 array's data if `a` holds `key` with `numel`
// elements, else nullptr.
const float* FloatData(const io::NpzArchive& a, const std::string& key, int64_t numel);

// The spec of a frequency x unit heatmap of variance fractions (rows k =
// 1..n_freq, values in [0, 1]) showing `epoch`'s data while `wanted` is selected.
widgets::HeatmapSpec FrequencyHeatmapSpec(const char* title, const char* unit, int epoch, int wanted);

// The start of every per-epoch panel: true when there is a run and a
// checkpoint to show; otherwise draws the empty state and returns false.
bool HasEpochToShow(const ViewContext& v);

// "parent/name" of a folder, for pickers.
std::string ShortName(const std::filesystem::path& dir);

// Draws a centred explanatory line in the remaining space (empty states).
void EmptyState(const char* text);
// An error line in the panel's colour for problems (wrapped).
void ErrorText(const std::string& text);
// A warning line (amber, wrapped): something did not work, the panel still does.
void WarningText(const std::string& text);

}  // namespace hs::app
