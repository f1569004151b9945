// `headscope export RUN --out FILE.zip`: one archive a Python user opens with
// the standard library and numpy: config.json, family.json, metrics.csv,
// summary.json, every analyzer's summary.npz, the last checkpoint (or all),
// and per-epoch artifacts of the analyzers asked for. Members keep their
// run-relative paths under <variant>/; a MANIFEST.json lists them.
#include <memory>
#include <CLI/CLI.hpp>
#include <iostream>

#include "analyzers/findings.h"
#include "commands.h"
#include "families/miscope_run.h"
#include "families/run_info.h"
#include "io/npz.h"
#include "io/run_dir.h"

namespace hs::app {
namespace fs = std::filesystem;

int RunExport(const ExportOptions& opt) {
  families::RunInfoPtr run;
  try {
    run = families::LoadRunInfo(opt.run);
  } catch (const std::exception& e) {
    std::cerr << "headscope export: " << e.what() << "\n";
    return 1;
  }
  if (opt.out.empty()) {
    std::cerr << "headscope export: give --out FILE.zip\n";
    return 2;
  }
  if (opt.miscope) {
    try {
      families::WriteMiscopeVariant(*run, opt.out);
    } catch (const std::exception& e) {
      std::cerr << "headscope export: " << e.what() << "\n";
      return 1;
    }
    std::cerr << "wrote the MIScope variant folder " << opt.out << "\n";
    return 0;
  }
  const fs::path dir = run->dir;
  std::vector<fs::path> files;  // run-relative
  auto add = [&](const fs::path& rel) {
    if (fs::is_regular_file(dir / rel)) files.push_back(rel);
  };
  add("config.json");
  add("metrics.csv");
  add("summary.json");
  if (fs::is_regular_file(dir.parent_path() / "family.json")) files.push_back("../family.json");
  const fs::path arts = dir / "artifacts";
  std::error_code ec;
  if (fs::is_directory(arts))
    for (const auto& e : fs::directory_iterator(arts, ec))
      if (e.is_directory()) add(fs::path("artifacts") / e.path().filename() / "summary.npz");
  const auto epochs = io::ListCheckpointEpochs(dir);
  const io::RunPaths paths{dir};
  for (size_t i = 0; i < epochs.size(); ++i)
    if (opt.all_checkpoints || i + 1 == epochs.size()) files.push_back(fs::relative(paths.Checkpoint(epochs[i]), dir));
  for (const auto& a : opt.artifacts) {
    if (!fs::is_directory(paths.ArtifactsDir(a))) {
      std::cerr << "headscope export: " << paths.ArtifactsDir(a).string() << " does not exist (analyzer '" << a
                << "' not computed; run headscope analyze " << dir.string() << ")\n";
      return 1;
    }
    for (int e : epochs)
      if (fs::is_regular_file(paths.Artifact(a, e))) files.push_back(fs::relative(paths.Artifact(a, e), dir));
  }
  if (!fs::is_regular_file(dir / "summary.json"))
    std::cerr << "headscope export: note: " << (dir / "summary.json").string()
              << " is absent (run headscope analyze first for the findings)\n";
  std::vector<std::pair<std::string, std::string>> members;
  nlohmann::json manifest = {{"run", run->variant}, {"family", run->family}, {"files", nlohmann::json::array()},
                             {"open_with", "zipfile.ZipFile(path); numpy.load(zf.open(name)) for .npz; json.load for .json"}};
  const std::string root = run->variant + "/";
  try {
    for (const auto& rel : files) {
      const std::string name = rel.string() == "../family.json" ? root + "family.json" : root + rel.generic_string();
      members.emplace_back(name, io::ReadFile(dir / rel));
      manifest["files"].push_back({{"name", name}, {"bytes", members.back().second.size()}});
    }
    members.emplace_back(root + "MANIFEST.json", manifest.dump(2) + "\n");
    io::NpzWriteOptions zo;
    zo.deflate = true;
    zo.level = 6;
    io::WriteZip(opt.out, members, zo);
  } catch (const std::exception& e) {
    std::cerr << "headscope export: " << e.what() << "\n";
    return 1;
  }
  size_t bytes = 0;
  for (const auto& m : members) bytes += m.second.size();
  std::cerr << "wrote " << opt.out << ": " << members.size() << " files (" << bytes / 1024 << " KB before compression, "
            << fs::file_size(opt.out, ec) / 1024 << " KB zipped)\n";
  return 0;
}

namespace {
void AddExport(CLI::App& cli) {
  auto xp = std::make_shared<ExportOptions>();
  auto* exp = cli.add_subcommand("export", "Bundle a run (config, metrics, summaries, last checkpoint) as one .zip");
  exp->add_option("run", xp->run, "Run folder")->required();
  exp->add_option("--out", xp->out, "The .zip to write")->required();
  exp->add_option("--artifacts", xp->artifacts, "Also every epoch's artifact of these analyzers (comma-separated)")->delimiter(',');
  exp->add_flag("--all-checkpoints", xp->all_checkpoints, "Every checkpoint, not just the last");
  exp->add_flag("--miscope", xp->miscope,
                "Write --out as a MIScope variant folder (checkpoints/checkpoint_epoch_NNNNN.safetensors, config.json, "
                "metadata.json) instead of a zip");

  exp->callback([xp] { ExitWith(RunExport(*xp)); });
}
const bool kExportRegistered = RegisterCommand({"export", 35, AddExport});
}  // namespace

}  // namespace hs::app
