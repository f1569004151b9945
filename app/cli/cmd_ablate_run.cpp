// `headscope ablate RUN --epoch E [--heads H,...] [--neurons N,...] [--freqs k,...] [--json]`:
// a grokking run's train and test loss and accuracy at one checkpoint, clean
// and with heads (hook_z), neurons (hook_post) and key frequencies (their
// cos/sin(w_k(a+b)) directions in the neuron activations) turned off
// (families/modadd_ablation.h). cmd_ablate.cpp dispatches here.
#include "ablate_run.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "families/modadd_ablation.h"
#include "families/run_info.h"
#include "io/run_dir.h"
#include "jobs/thread_policy.h"

namespace hs::app {
namespace fs = std::filesystem;

namespace {

// "0, 3,12" -> {0, 3, 12}: non-negative integers separated by commas.
bool ParseIndexList(const std::string& text, const char* what, std::vector<int>* out, std::string* error) {
  out->clear();
  if (text.empty()) return true;
  for (size_t pos = 0; pos <= text.size();) {
    size_t end = text.find(',', pos);
    if (end == std::string::npos) end = text.size();
    std::string item = text.substr(pos, end - pos);
    item.erase(0, item.find_first_not_of(" \t"));
    item.erase(item.find_last_not_of(" \t") + 1);
    const bool digits = !item.empty() && item.size() <= 9 &&
                        std::all_of(item.begin(), item.end(), [](char c) { return std::isdigit((unsigned char)c); });
    if (!digits) {
      *error = std::string("--") + what + ": '" + item + "' is not a " +
               (std::string(what) == "freqs" ? "frequency k >= 1" : "non-negative index") + "; give e.g. --" + what +
               (std::string(what) == "freqs" ? " 14,35" : " 0,3");
      return false;
    }
    out->push_back(std::stoi(item));
    pos = end + 1;
  }
  return true;
}

std::string NearestCheckpoints(const std::vector<int>& epochs, int epoch) {
  auto it = std::lower_bound(epochs.begin(), epochs.end(), epoch);
  std::vector<int> near;
  if (it != epochs.begin()) near.push_back(*(it - 1));
  if (it != epochs.end()) near.push_back(*it);
  std::string s = near.size() == 2 ? std::to_string(near[0]) + " and " + std::to_string(near[1])
                                   : std::to_string(near.at(0));
  return "the nearest " + std::string(near.size() == 2 ? "are " : "is ") + s + " (" + std::to_string(epochs.size()) +
         " checkpoints, epochs " + std::to_string(epochs.front()) + " to " + std::to_string(epochs.back()) + ")";
}

nlohmann::json ScoresJson(const families::ModAddScores& s) {
  return {{"train_loss", s.train_loss}, {"test_loss", s.test_loss}, {"train_acc", s.train_acc}, {"test_acc", s.test_acc}};
}

void PrintTable(const std::string& run, int p, const families::ModAddAblation& a,
                const families::ModAddAblationResult& r) {
  std::printf("%s, epoch %d\n", run.c_str(), r.epoch);
  if (a.empty()) {
    std::printf("nothing turned off (give --heads, --neurons or --freqs); the clean model:\n");
  } else {
    std::string what;
    auto add = [&](const families::ModAddAblation& part, const char* how) {
      if (!part.empty()) what += (what.empty() ? "" : "; ") + part.Describe() + " " + how;
    };
    add({a.heads, {}, {}}, "(hook_z = 0)");
    add({{}, a.neurons, {}}, "(hook_post = 0)");
    add({{}, {}, a.freqs}, "(removed from the neuron activations)");
    std::printf("turned off: %s\n", what.c_str());
  }
  std::printf("%-9s %12s %12s %10s %10s\n", "", "train loss", "test loss", "train acc", "test acc");
  auto row = [](const char* name, const families::ModAddScores& s) {
    std::printf("%-9s %12.4g %12.4g %9.2f%% %9.2f%%\n", name, s.train_loss, s.test_loss, 100 * s.train_acc,
                100 * s.test_acc);
  };
  row("clean", r.clean);
  if (!a.empty()) {
    row("ablated", r.ablated);
    std::printf("%-9s %+12.4g %+12.4g %+9.2f%% %+9.2f%%\n", "change", r.ablated.train_loss - r.clean.train_loss,
                r.ablated.test_loss - r.clean.test_loss, 100 * (r.ablated.train_acc - r.clean.train_acc),
                100 * (r.ablated.test_acc - r.clean.test_acc));
  }
  std::printf("loss: mean cross-entropy (nats) at the last position; chance: loss ln %d = %.2f, accuracy %.2f%%\n", p,
              std::log(double(p)), 100.0 / p);
}

}  // namespace

bool IsTrainingRunDir(const std::string& dir_text) {
  std::error_code ec;
  const fs::path dir(dir_text);
  if (dir_text.empty() || !fs::is_directory(dir, ec) || !fs::exists(dir / "config.json", ec)) return false;
  // A Hugging Face model folder has model_type; a headscope run names its
  // family (older runs: checkpoints/epoch_*.safetensors).
  try {
    std::ifstream f(dir / "config.json");
    const nlohmann::json c = nlohmann::json::parse(f);
    if (c.is_object() && c.contains("model_type")) return false;
    if (c.is_object() && c.contains("family")) return true;
  } catch (const std::exception&) {
  }
  return !io::ListCheckpointEpochs(dir).empty();
}

int AblateRun(const AblateRunArgs& args) {
  auto fail = [](int code, const std::string& what) {
    std::cerr << "headscope ablate: " << what << "\n";
    return code;
  };
  if (!IsTrainingRunDir(args.run_dir))
    return fail(1, args.run_dir + " is not a training run folder (runs/<family>/<variant> with config.json and "
                                  "checkpoints/, written by `headscope train`)");
  families::ModAddAblation a;
  std::string error;
  if (!ParseIndexList(args.heads, "heads", &a.heads, &error) ||
      !ParseIndexList(args.neurons, "neurons", &a.neurons, &error) ||
      !ParseIndexList(args.freqs, "freqs", &a.freqs, &error))
    return fail(2, error);
  if (args.epoch < 0) return fail(2, "give --epoch E: the checkpoint to ablate (a grokking run's epoch)");
  try {
    const families::RunInfoPtr run = families::LoadRunInfo(args.run_dir);
    families::CheckAblation(*run, a);  // indices out of range, a model the forward does not cover
    const std::vector<int> epochs = io::ListCheckpointEpochs(run->dir);
    if (epochs.empty()) return fail(1, args.run_dir + " has no checkpoints yet");
    if (!std::binary_search(epochs.begin(), epochs.end(), args.epoch))
      return fail(1, "no checkpoint at epoch " + std::to_string(args.epoch) + " in " + args.run_dir + "; " +
                         NearestCheckpoints(epochs, args.epoch));
    jobs::ConfigureTorchForInference(2);
    const families::ModAddAblationResult r = families::AblateCheckpoint(*run, args.epoch, a);
    const families::ModAddAblation n = a.Normalised();
    if (args.json) {
      const nlohmann::json j = {{"run", args.run_dir},    {"epoch", args.epoch},     {"heads", n.heads},
                                {"neurons", n.neurons},   {"freqs", n.freqs},        {"clean", ScoresJson(r.clean)},
                                {"ablated", ScoresJson(r.ablated)}};
      std::cout << j.dump() << "\n";
    } else {
      PrintTable(args.run_dir, run->p, n, r);
    }
    return 0;
  } catch (const std::exception& e) {
    return fail(1, e.what());
  }
}

}  // namespace hs::app
