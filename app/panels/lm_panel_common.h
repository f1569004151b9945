// Shared by the language-model panels, in one place: the empty states before a prompt's
// analysis is there, category colours, readable token labels.
#pragma once

#include <imgui.h>

#include <string>
#include <vector>

#include "heatmap.h"
#include "lm_view.h"
#include "panel.h"

namespace hs::app {

// True when there is an analysed prompt to draw; otherwise draws the empty
// state (loading, error, no prompt) and returns false.
inline bool HasPromptToShow(const ViewContext& v) {
  if (!v.lm) return false;
  const LmView& m = *v.lm;
  if (!m.error.empty()) return ErrorText(m.error), false;
  if (!m.model) return EmptyState(m.loading.empty() ? "No model open." : "Loading the model..."), false;
  if (!m.analysis) return EmptyState("Running the prompt..."), false;
  if (!m.analysis->ok()) {
    EmptyState(m.analysis->error.empty() ? "Type a prompt above." : m.analysis->error.c_str());
    return false;
  }
  return true;
}

// True when a model is loaded; otherwise draws the loading or error state.
inline bool HasModelToShow(const ViewContext& v) {
  if (!v.lm) return false;
  if (v.lm->model) return true;
  if (!v.lm->error.empty()) ErrorText(v.lm->error);
  else EmptyState("Loading the model...");
  return false;
}

// A panel that draws the current prompt's analysis: it waits while the
// model loads or the prompt is being run.
class PromptPanel : public Panel {
 public:
  bool Waiting() const override { return m_waiting || m_status.waiting; }
  std::vector<std::string> Errors() const override { return m_status.errors; }
  std::vector<std::string> Warnings() const override { return m_warnings; }

 protected:
  // The start of Draw: true when there is an analysis to draw. Resets m_status.
  bool Begin(const ViewContext& v) {
    m_status.Reset();
    m_waiting = v.lm && (!v.lm->model || !v.lm->analysis_current);
    return HasPromptToShow(v);
  }
  // The panel's own requests: still waiting for one, the errors it showed.
  PanelStatus m_status;
  // The model's cache files that could not be saved, each naming its file.
  void DrawModelWarnings(const ViewContext& v) {
    m_warnings.clear();
    if (!v.lm) return;
    for (const auto& w : v.lm->warnings) WarningText(w), m_warnings.push_back(w);
  }

 private:
  bool m_waiting = false;
  std::vector<std::string> m_warnings;
};

// Colour of a category (display order), from the colour-blind-safe palette.
ImU32 CategoryColor(const std::string& key);

// Token text for axis labels: newline, tab and carriage return made visible,
// and a token of spaces shown as middle dots.
std::vector<std::string> TokenLabels(const std::vector<std::string>& text);

// One token's readable text (TokenLabels), "#id" when the tokenizer cannot say.
std::string TokenLabel(const lm::LanguageModel& lm, int64_t id);
// "[The][ cat]" of the last `n` tokens of `ids` ("... " before when cut).
std::string LastTokens(const lm::LanguageModel& lm, const std::vector<int64_t>& ids, size_t n);
// Encodes `text` (no BOS) as exactly one token into *id; otherwise returns
// what is wrong, starting with `what` ("the answer is 2 tokens [m][a]: it
// must be a single token ...").
std::string EncodeOneToken(const lm::LanguageModel& lm, const char* what, const std::string& text, int64_t* id);

// "L1H2"
inline std::string HeadName(int layer, int head) { return "L" + std::to_string(layer) + "H" + std::to_string(head); }

// A head's right-click menu (every LM view that shows heads): turn it off
// (zero or mean ablation of its output, in every view) or back on, select
// it. Call it every frame after the widget; `open`: head (layer, head) was
// right-clicked this frame.
void HeadMenu(const char* id, bool open, int layer, int head, const LmView& m, PanelOutput& out);
// The mouse's right button went down over a hovered item or cell this frame.
inline bool RightClicked(bool hovered) { return hovered && ImGui::IsMouseClicked(ImGuiMouseButton_Right); }
// A heads x positions map of signed effects (Head effects, Patching): the
// diverging colormap over [-vmax, vmax], the tick labels, no colour bar (the
// panel draws its own, labelled), not square.
widgets::HeatmapSpec EffectMapSpec(float vmax, const char* title, const char* x_label, const char* y_label,
                                   const char* value_label, const char* value_format,
                                   const std::vector<const char*>& x_ticks, const std::vector<const char*>& y_ticks);

// "zero" / "mean": what the turned-off heads' outputs are replaced by, in words.
const char* OffModeWords(lm::AblationMode mode);

}  // namespace hs::app
