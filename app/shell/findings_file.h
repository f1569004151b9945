// RUN/summary.json (analyzers/findings.h) as panels show it: re-read only
// when the file changes (one stat per frame), errors name the file. Also the
// phase bands the progress plots shade.
#pragma once

#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "line_plot.h"
#include "requests.h"

namespace hs::app {

class FindingsFile {
 public:
  // The findings of `run_dir`, or null when summary.json is absent (missing()
  // true) or unreadable (error() says why).
  const nlohmann::json* Get(const std::filesystem::path& run_dir);
  const std::string& error() const { return m_error; }
  bool missing() const { return m_missing; }

 private:
  std::filesystem::path m_run;
  FileSig m_sig;
  std::shared_ptr<const nlohmann::json> m_json;
  std::string m_error;
  bool m_missing = false;
};

// The three phases of summary.json as shaded bands (labels live in `labels`).
std::vector<widgets::LineBand> PhaseBands(const nlohmann::json* findings, std::vector<std::string>& labels);

// "12,345" style epoch or "-" for null.
std::string EpochText(const nlohmann::json& v);

}  // namespace hs::app
