// RUN/summary.json for panels (see findings_file.h).
#include "findings_file.h"

#include "analyzers/findings.h"

namespace hs::app {

const nlohmann::json* FindingsFile::Get(const std::filesystem::path& run_dir) {
  const std::filesystem::path path = run_dir / "summary.json";
  const FileSig sig = Signature(path);
  if (run_dir != m_run || sig != m_sig) {
    m_run = run_dir;
    m_sig = sig;
    m_json.reset();
    m_error.clear();
    m_missing = !sig.exists();
    if (!m_missing) {
      try {
        m_json = std::make_shared<const nlohmann::json>(analyzers::ReadFindings(run_dir));
      } catch (const std::exception& e) {
        m_error = e.what();
      }
    }
  }
  return m_json.get();
}

std::vector<widgets::LineBand> PhaseBands(const nlohmann::json* f, std::vector<std::string>& labels) {
  std::vector<widgets::LineBand> bands;
  labels.clear();
  if (!f || !f->contains("phases")) return bands;
  const nlohmann::json& ph = (*f)["phases"];
  const struct {
    const char* key;
    const char* label;
    ImU32 color;
  } kPhases[] = {{"memorisation", "memorisation", IM_COL32(230, 159, 0, 40)},
                 {"circuit_formation", "circuit formation", IM_COL32(86, 180, 233, 40)},
                 {"cleanup", "clean-up", IM_COL32(0, 158, 115, 40)}};
  labels.reserve(3);
  for (const auto& p : kPhases) {
    if (!ph.contains(p.key)) continue;
    const auto& r = ph[p.key];
    if (!r.is_array() || r.size() != 2 || !r[0].is_number() || !r[1].is_number()) continue;
    labels.push_back(p.label);
    bands.push_back({r[0].get<float>(), r[1].get<float>(), labels.back().c_str(), p.color});
  }
  return bands;
}

std::string EpochText(const nlohmann::json& v) { return v.is_number() ? std::to_string(v.get<int>()) : "-"; }

}  // namespace hs::app
