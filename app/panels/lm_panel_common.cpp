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
    out.push_back(s);
  }
  return out;
}

}  // namespace hs::app
