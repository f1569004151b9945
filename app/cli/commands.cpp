// The subcommand registry (see commands.h).
#include "commands.h"

#include "io/hub_cache.h"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <csignal>

namespace hs::app {

CLI::Validator ModelArg() {
  return CLI::Validator(
      [](std::string& arg) -> std::string {
        std::error_code ec;
        io::HubRef ref;
        if (arg.empty() || std::filesystem::exists(arg, ec) || !io::ParseHubId(arg, &ref)) return {};
        try {
          arg = io::ResolveModelArg(arg).string();
          return {};
        } catch (const std::exception& e) {
          return e.what();  // "ORG/NAME: no such folder, and not in the Hugging Face cache ..." 
        }
      },
      "FOLDER|ORG/NAME[@REV]", "model");
}


namespace {
std::atomic<int> g_stop_signals{0};
void OnStopSignal(int) { g_stop_signals.fetch_add(1); }

std::vector<CommandDef>& Registry() {
  static std::vector<CommandDef> r;  // filled during static initialisation, read-only afterwards
  return r;
}
}  // namespace

bool RegisterCommand(CommandDef def) {
  auto& r = Registry();
  r.push_back(std::move(def));
  std::stable_sort(r.begin(), r.end(), [](const CommandDef& a, const CommandDef& b) { return a.order < b.order; });
  return true;
}

const std::vector<CommandDef>& CommandRegistry() { return Registry(); }

void InstallStopSignals() {
  std::signal(SIGINT, OnStopSignal);
  std::signal(SIGTERM, OnStopSignal);
}
bool StopRequested() { return g_stop_signals.load() > 0; }

void ExitWith(int rc) {
  if (rc == 0) throw CLI::Success();
  throw CLI::RuntimeError(rc);
}

}  // namespace hs::app
