// RunInfo (see run_info.h).
#include "families/run_info.h"

#include "families/miscope_run.h"

#include <algorithm>

#include "io/atomic_file.h"

namespace hs::families {
namespace fs = std::filesystem;

std::string RunInfo::PositionName(int pos) const {
  return pos >= 0 && pos < int(positions.size()) ? positions[pos] : "pos " + std::to_string(pos);
}

std::string RunInfo::HeadLabel(int unit) const {
  if (model.n_layers <= 1) return "Head " + std::to_string(unit);
  return "L" + std::to_string(unit / model.n_heads) + " H" + std::to_string(unit % model.n_heads);
}

std::string RunInfo::PairLabel(int q, int k) const {
  return PositionName(q) + " attending to " + PositionName(k) + (q == k ? " (itself)" : "");
}

nlohmann::json RunInfo::AnalyzerParams(const std::string& analyzer) const {
  return analyzer_params.is_object() ? analyzer_params.value(analyzer, nlohmann::json::object())
                                     : nlohmann::json::object();
}

namespace {

nlohmann::json ParseJsonFile(const fs::path& path, const std::string& hint) {
  const std::string text = io::ReadFile(path);
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    throw io::IoError(path.string() + ": not valid JSON (" + e.what() + ")" + hint);
  }
}

}  // namespace

RunInfoPtr LoadRunInfo(const fs::path& run_dir_arg) {
  // "runs/f/v/" (shell completion) names the same folder as "runs/f/v": without
  // this, filename() is empty and parent_path() is the variant itself.
  fs::path run_dir = run_dir_arg.lexically_normal();
  if (!run_dir.has_filename() && run_dir.has_parent_path()) run_dir = run_dir.parent_path();
  if (!fs::is_directory(run_dir)) throw io::IoError(run_dir.string() + ": no such run folder");
  const fs::path cfg_path = run_dir / "config.json";
  if (!fs::exists(cfg_path)) throw io::IoError(run_dir.string() + " is not a run folder (no config.json)");
  if (IsMiscopeVariant(run_dir))  // its config.json is MIScope's; headscope reads it through a side folder
    throw io::IoError(run_dir.string() +
                      ": a MIScope variant folder; headscope opens it read-only through its side folder "
                      "(families::ResolveRunDir: --run, analyze, shot --run and report do)");
  auto info = std::make_shared<RunInfo>();
  info->dir = run_dir;
  info->config = ParseJsonFile(cfg_path, "");
  const nlohmann::json& c = info->config;
  try {
    info->family = c.value("family", std::string("modadd_1l"));
    info->variant = c.value("variant", run_dir.filename().string());
    info->p = c.at("p").get<int>();
    info->total_epochs = c.at("epochs").get<int>();
    info->model = c.at("model").get<model::TransformerConfig>();
  } catch (const nlohmann::json::exception& e) {
    throw io::IoError(cfg_path.string() + ": not a valid run config (" + e.what() + ")");
  }
  auto bad_cfg = [&](const std::string& what) { throw io::IoError(cfg_path.string() + ": " + what); };
  if (info->p < 3) bad_cfg("p = " + std::to_string(info->p) + " (needs a prime >= 3)");
  if (info->total_epochs < 0) bad_cfg("epochs = " + std::to_string(info->total_epochs) + " is negative");
  try {
    info->model.Validate();
  } catch (const std::invalid_argument& e) {
    bad_cfg(std::string("model: ") + e.what());
  }
  if (info->model.d_vocab < info->p + 1 || info->model.d_vocab_out < info->p)
    bad_cfg("model vocabulary (" + std::to_string(info->model.d_vocab) + " in, " +
            std::to_string(info->model.d_vocab_out) + " out) is too small for p = " + std::to_string(info->p));

  // runs/<family>/family.json, written from the built-in definition if absent.
  const fs::path fam_path = run_dir.parent_path() / "family.json";
  nlohmann::json fam;
  const auto builtin = BuiltinFamilies().find(info->family);
  if (fs::exists(fam_path)) {
    fam = ParseJsonFile(fam_path, "; delete it to restore the default");
    // A copy written by an older headscope lacks newer keys ("on_demand"):
    // the built-in definition fills them; keys in the file win.
    if (builtin != BuiltinFamilies().end() && fam.is_object()) {
      const nlohmann::json defaults = nlohmann::json::parse(builtin->second);
      for (const auto& [key, value] : defaults.items())
        if (!fam.contains(key)) fam[key] = value;
      // Run-level analyzers added since (progress_measures, with summary.json)
      // join a file's own list, unless it names them under "disabled".
      if (fam.contains("analyzers") && fam["analyzers"].is_array() && defaults.contains("analyzers")) {
        const nlohmann::json disabled = fam.value("disabled", nlohmann::json::array());
        for (const auto& a : defaults["analyzers"])
          if (a == "progress_measures" && std::find(fam["analyzers"].begin(), fam["analyzers"].end(), a) == fam["analyzers"].end() &&
              (!disabled.is_array() || std::find(disabled.begin(), disabled.end(), a) == disabled.end()))
            fam["analyzers"].push_back(a);
      }
    }
  } else if (builtin != BuiltinFamilies().end()) {
    fam = nlohmann::json::parse(builtin->second);
    try {
      io::WriteFileAtomic(fam_path, fam.dump(2) + "\n");
    } catch (const std::exception&) {  // a read-only runs folder is still viewable
    }
  } else {
    throw io::IoError(fam_path.string() + ": missing, and '" + info->family + "' is not a built-in family");
  }
  auto bad_fam = [&](const std::string& what) { throw io::IoError(fam_path.string() + ": " + what); };
  try {
    info->title = fam.value("title", info->family);
    if (!fam.contains("positions")) bad_fam("lacks \"positions\" (what each input position holds, e.g. [\"a\", \"b\", \"=\"])");
    info->positions = fam.at("positions").get<std::vector<std::string>>();
    if (fam.contains("analyzers")) info->analyzers = fam["analyzers"].get<std::vector<std::string>>();
    if (fam.contains("on_demand")) info->on_demand = fam["on_demand"].get<std::vector<std::string>>();
    if (fam.contains("analyzer_params")) info->analyzer_params = fam["analyzer_params"];
  } catch (const nlohmann::json::exception& e) {
    bad_fam(std::string("malformed (") + e.what() + ")");
  }
  if (int(info->positions.size()) != info->model.n_ctx)
    bad_fam(std::to_string(info->positions.size()) + " positions, but " + cfg_path.string() + " has n_ctx = " +
            std::to_string(info->model.n_ctx));
  for (int i = 0; i < int(info->positions.size()); ++i) {
    const std::string& s = info->positions[i];
    if (s == "a") info->a_pos = i;
    else if (s == "b") info->b_pos = i;
    else if (s != "=") bad_fam("position " + std::to_string(i) + " is '" + s + "'; positions are \"a\", \"b\" or \"=\"");
  }
  if (info->a_pos < 0 || info->b_pos < 0) bad_fam("positions must hold both operands \"a\" and \"b\"");
  if (!info->analyzer_params.is_object()) bad_fam("\"analyzer_params\" must be an object");
  for (const auto& [name, params] : info->analyzer_params.items()) {
    if (!params.is_object()) bad_fam("\"analyzer_params\"." + name + " must be an object, got " + params.dump());
    for (const auto& [key, value] : params.items())
      if ((key == "query_pos" || key == "key_pos") && !value.is_number_integer())
        bad_fam("\"analyzer_params\"." + name + "." + key + " must be an integer position, got " + value.dump());
  }
  return info;
}

}  // namespace hs::families
