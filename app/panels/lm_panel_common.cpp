// Helpers shared by the language-model panels (see lm_panel_common.h).
#include "lm_panel_common.h"

#include "line_plot.h"

namespace hs::app {

ImU32 CategoryColor(const std::string& key) {
  const auto& defs = library::HeadCategoryDefs();
  for (size_t i = 0; i < defs.size(); ++i)
    if (defs[i].key == key) return key == "other" ? IM_COL32(120, 120, 120, 255) : widgets::PaletteColor(int(i));
  return IM_COL32(120, 120, 120, 255);
}

std::vector<std::string> TokenLabels(const std::vector<std::string>& text) {
  std::vector<std::string> out;
  for (const auto& t : text) {
    std::string s;
    for (char c : t) s += c == '\n' ? std::string("\\n") : c == '\t' ? std::string("\\t") : c == '\r' ? "\\r" : std::string(1, c);
    if (!s.empty() && s.find_first_not_of(' ') == std::string::npos) {  // a space token: a visible dot per space
      std::string dots;
      for (size_t i = 0; i < s.size(); ++i) dots += "\xc2\xb7";
      s = dots;
    }
    out.push_back(s);
  }
  return out;
}

const char* OffModeWords(lm::AblationMode mode) {
  return mode == lm::AblationMode::kMean ? "its mean output over natural sentences" : "zeros";
}

void HeadMenu(const char* id, bool open, int layer, int head, const LmView& m, PanelOutput& out) {
  ImGuiStorage* st = ImGui::GetStateStorage();
  const ImGuiID kl = ImGui::GetID((std::string(id) + "#layer").c_str()), kh = ImGui::GetID((std::string(id) + "#head").c_str());
  if (open) {
    st->SetInt(kl, layer), st->SetInt(kh, head);
    ImGui::OpenPopup(id);
  }
  if (!ImGui::BeginPopup(id)) return;
  const int l = st->GetInt(kl, -1), h = st->GetInt(kh, -1);
  const bool off = m.IsOff(l, h);
  ImGui::TextDisabled("%s%s", HeadName(l, h).c_str(), off ? " (turned off)" : "");
  ImGui::Separator();
  const bool zero = off && m.off_mode == lm::AblationMode::kZero, mean = off && m.off_mode == lm::AblationMode::kMean;
  if (ImGui::MenuItem("Turn off (zero)", nullptr, zero)) out.head_off = std::make_pair(l, h), out.head_off_mode = 0;
  if (ImGui::IsItemHovered())
    ImGui::SetTooltip("Replace its output (hook_z, before W_O) by zeros, in every view:\n"
                      "later heads and the per-token loss show the model without it.");
  if (ImGui::MenuItem("Turn off (mean)", nullptr, mean)) out.head_off = std::make_pair(l, h), out.head_off_mode = 1;
  if (ImGui::IsItemHovered())
    ImGui::SetTooltip("Replace its output by its mean over natural sentences (mean ablation):\n"
                      "removes what it says about this prompt, keeps its average contribution.\n"
                      "One mode for every turned-off head.");
  if (ImGui::MenuItem("Turn back on", nullptr, false, off)) out.head_on = std::make_pair(l, h);
  if (m.off_heads.size() > (off ? 1u : 0u) && ImGui::MenuItem("Turn every head back on")) out.all_heads_on = true;
  ImGui::Separator();
  if (ImGui::MenuItem("Select it", nullptr, l == m.layer && h == m.head)) out.head = std::make_pair(l, h);
  ImGui::EndPopup();
}

widgets::HeatmapSpec EffectMapSpec(float vmax, const char* title, const char* x_label, const char* y_label,
                                   const char* value_label, const char* value_format,
                                   const std::vector<const char*>& x_ticks, const std::vector<const char*>& y_ticks) {
  widgets::HeatmapSpec spec;
  spec.colormap = widgets::Colormap::Diverging;
  spec.vmin = -vmax, spec.vmax = vmax;
  spec.title = title;
  spec.x_label = x_label;
  spec.y_label = y_label;
  spec.value_label = value_label;
  spec.value_format = value_format;
  spec.x_tick_labels = x_ticks.data();
  spec.y_tick_labels = y_ticks.data();
  spec.colorbar = false;
  spec.equal_aspect = false;
  return spec;
}

std::string TokenLabel(const lm::LanguageModel& lm, int64_t id) {
  try {
    return TokenLabels({lm.tokenizer().TokenText(id)})[0];
  } catch (const std::exception&) {
    return "#" + std::to_string(id);
  }
}

std::string LastTokens(const lm::LanguageModel& lm, const std::vector<int64_t>& ids, size_t n) {
  std::string out = ids.size() > n ? "... " : "";
  for (size_t i = ids.size() > n ? ids.size() - n : 0; i < ids.size(); ++i) out += "[" + TokenLabel(lm, ids[i]) + "]";
  return out;
}

std::string EncodeOneToken(const lm::LanguageModel& lm, const char* what, const std::string& text, int64_t* id) {
  std::vector<int64_t> ids;
  try {
    ids = lm.Encode(text, false);
  } catch (const std::exception& e) {
    return std::string(what) + ": " + e.what();
  }
  if (ids.size() == 1) {
    *id = ids[0];
    return std::string();
  }
  if (ids.empty()) return std::string(what) + " is empty: type one token";
  return std::string(what) + " '" + text + "' is " + std::to_string(ids.size()) + " tokens " +
         LastTokens(lm, ids, ids.size()) + ": it must be a single token" +
         (text.size() > 1 ? " (for this tokenizer, e.g. '" + text.substr(0, 1) + "')" : "");
}

}  // namespace hs::app
