// The subcommand registry (see commands.h).
#include "commands.h"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <cctype>
#include <cstdio>
#include <csignal>

#include "io/hub_cache.h"

namespace hs::app {

bool ParseLayerPairs(const std::string& text, const char* what, std::vector<std::pair<int, int>>* out,
                     std::string* error) {
  out->clear();
  if (text.empty()) return true;
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t end = text.find(',', pos);
    if (end == std::string::npos) end = text.size();
    const std::string item = text.substr(pos, end - pos);
    int l = -1, h = -1;
    char extra = 0;
    if (std::sscanf(item.c_str(), "%d.%d%c", &l, &h, &extra) != 2 || l < 0 || h < 0) {
      std::string lower = what;
      for (char& ch : lower) ch = char(std::tolower(static_cast<unsigned char>(ch)));
      *error = "'" + item + "' is not LAYER." + what + " (e.g. 1.2 for layer 1, " + lower + " 2)";
      return false;
    }
    out->emplace_back(l, h);
    pos = end + 1;
  }
  return true;
}

// "1,2,3" -> ids: decimal integers separated by commas, nothing else (an empty item, a sign without
// digits or an id past int64 is an error saying which item).
bool ParseTokenIds(const std::string& text, std::vector<int64_t>* ids, std::string* error) {
  ids->clear();
  size_t item = 0;
  for (size_t pos = 0; pos <= text.size();) {
    size_t end = text.find(',', pos);
    if (end == std::string::npos) end = text.size();
    const std::string s = text.substr(pos, end - pos);
    ++item;
    size_t used = 0;
    long long v = 0;
    try {
      v = std::stoll(s, &used, 10);
    } catch (const std::out_of_range&) {
      *error = "id " + std::to_string(item) + " ('" + s + "') is out of range";
      return false;
    } catch (const std::exception&) {
      used = 0;
    }
    if (s.empty() || used != s.size() || std::isspace(static_cast<unsigned char>(s[0]))) {
      *error = "id " + std::to_string(item) + " ('" + s + "') is not an integer; give ids like 1,2,3";
      return false;
    }
    ids->push_back(v);
    pos = end + 1;
  }
  return true;
}

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
