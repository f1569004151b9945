// Panel registry (see panel.h).
#include "panel.h"

#include <algorithm>

namespace hs::app {

namespace {
std::vector<PanelDef>& Registry() {
  static std::vector<PanelDef> r;  // filled during static initialisation, read-only afterwards
  return r;
}
}  // namespace

bool RegisterPanel(PanelDef def) {
  auto& r = Registry();
  r.push_back(std::move(def));
  std::stable_sort(r.begin(), r.end(), [](const PanelDef& a, const PanelDef& b) { return a.order < b.order; });
  return true;
}

const std::vector<PanelDef>& PanelRegistry() { return Registry(); }

const PanelDef* FindPanel(const std::string& name) {
  for (const auto& d : Registry())
    if (d.name == name) return &d;
  return nullptr;
}

std::string PanelNameList(WorkspaceKind ws) {
  std::string s;
  for (const auto& d : Registry())
    if (d.workspace == ws) s += (s.empty() ? "" : ", ") + d.name;
  return s;
}

}  // namespace hs::app
