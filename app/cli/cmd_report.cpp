// `headscope report RUN [RUN ...] --out DIR`: a self-contained HTML page
// (figures embedded as PNG, tables, configs) and a Markdown version with the
// figures beside it. Each run is analysed first (resumable, skipped when
// current); the figures are the explorer's own panels rendered off-screen by
// `headscope shot` child processes on an Xvfb server of the report's own (the user's display only without Xvfb).
#include <memory>
#include <CLI/CLI.hpp>
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cmath>
#include <cstring>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include "analyzers/findings.h"
#include "analyzers/seeds.h"
#include "analyzers/pipeline.h"
#include "commands.h"
#include "families/miscope_run.h"
#include "families/run_info.h"
#include "io/atomic_file.h"
#include "io/run_dir.h"
#include "jobs/thread_policy.h"

extern char** environ;

namespace hs::app {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

std::string Html(const std::string& s) {
  std::string o;
  for (char c : s) {
    switch (c) {
      case '&': o += "&amp;"; break;
      case '<': o += "&lt;"; break;
      case '>': o += "&gt;"; break;
      case '"': o += "&quot;"; break;
      default: o += c;
    }
  }
  return o;
}

std::string Md(const std::string& s) {  // table cells: no pipes or newlines
  std::string o;
  for (char c : s) o += c == '|' ? std::string("\\|") : c == '\n' ? std::string("<br>") : std::string(1, c);
  return o;
}

std::string Base64(const std::string& in) {
  static const char* k = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    const unsigned v = (unsigned char)in[i] << 16 | (unsigned char)in[i + 1] << 8 | (unsigned char)in[i + 2];
    out += k[v >> 18 & 63], out += k[v >> 12 & 63], out += k[v >> 6 & 63], out += k[v & 63];
  }
  if (i + 1 == in.size()) {
    const unsigned v = (unsigned char)in[i] << 16;
    out += k[v >> 18 & 63], out += k[v >> 12 & 63], out += "==";
  } else if (i + 2 == in.size()) {
    const unsigned v = (unsigned char)in[i] << 16 | (unsigned char)in[i + 1] << 8;
    out += k[v >> 18 & 63], out += k[v >> 12 & 63], out += k[v >> 6 & 63], out += '=';
  }
  return out;
}

bool OnPath(const char* prog) {
  const char* path = std::getenv("PATH");
  std::stringstream ss(path ? path : "/usr/bin:/bin");
  std::string d;
  while (std::getline(ss, d, ':'))
    if (!d.empty() && ::access((fs::path(d) / prog).c_str(), X_OK) == 0) return true;
  return false;
}

// Runs argv with the environment `env`, waits; returns its exit code (127
// when it could not start).
int Spawn(const std::vector<std::string>& argv, const std::vector<std::string>& env) {
  std::vector<char*> a, e;
  for (const auto& s : argv) a.push_back(const_cast<char*>(s.c_str()));
  a.push_back(nullptr);
  for (const auto& s : env) e.push_back(const_cast<char*>(s.c_str()));
  e.push_back(nullptr);
  pid_t pid;
  if (posix_spawnp(&pid, a[0], nullptr, nullptr, a.data(), e.data()) != 0) return 127;
  int st = 0;
  while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
}

// An Xvfb server for the report's figure windows: it picks a free display
// itself (-displayfd) and is stopped when this goes.
class PrivateXvfb {
 public:
  ~PrivateXvfb() {
    if (m_pid > 0) {
      ::kill(m_pid, SIGTERM);
      int st = 0;
      ::waitpid(m_pid, &st, 0);
    }
  }
  bool Start(int width, int height, std::string* why) {
    int fds[2];
    if (::pipe(fds) != 0) return *why = "cannot start Xvfb (pipe)", false;
    const std::string screen = std::to_string(std::max(width, 640)) + "x" + std::to_string(std::max(height, 480)) + "x24";
    const std::vector<std::string> argv = {"Xvfb", "-displayfd", std::to_string(fds[1]), "-screen", "0", screen,
                                           "-nolisten", "tcp", "-noreset"};
    std::vector<char*> a;
    for (const auto& s : argv) a.push_back(const_cast<char*>(s.c_str()));
    a.push_back(nullptr);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addclose(&fa, fds[0]);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);  // its chatter
    const int rc = posix_spawnp(&m_pid, a[0], &fa, nullptr, a.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    ::close(fds[1]);
    if (rc != 0) {
      ::close(fds[0]);
      m_pid = -1;
      return *why = std::string("cannot start Xvfb: ") + std::strerror(rc), false;
    }
    // The server writes its display number once it accepts connections.
    std::string num;
    char c;
    while (::read(fds[0], &c, 1) == 1 && c != '\n') num += c;
    ::close(fds[0]);
    if (num.empty()) return *why = "Xvfb did not start (no display number)", false;
    m_display = ":" + num;
    return true;
  }
  const std::string& display() const { return m_display; }

 private:
  pid_t m_pid = -1;
  std::string m_display;
};

// A table in both documents: the header row and the rows, each cell escaped.
void WriteTable(std::ostream& h, std::ostream& md, const std::vector<std::string>& cols,
                const std::vector<std::vector<std::string>>& rows) {
  h << "<table><tr>";
  md << "|";
  for (const auto& c : cols) h << "<th>" << Html(c) << "</th>", md << " " << Md(c) << " |";
  h << "</tr>\n";
  md << "\n|";
  for (size_t c = 0; c < cols.size(); ++c) md << "---|";
  md << "\n";
  for (const auto& r : rows) {
    h << "<tr>";
    md << "|";
    for (const auto& cell : r) h << "<td>" << Html(cell) << "</td>", md << " " << Md(cell) << " |";
    h << "</tr>\n";
    md << "\n";
  }
  h << "</table>\n";
  md << "\n";
}

struct Figure {
  std::string file;     // under figures/
  std::string caption;
  std::string run;      // variant, or "" for the comparison
};

std::string RunLabel(const families::RunInfo& r) { return r.dir.parent_path().filename().string() + "/" + r.variant; }

}  // namespace

int RunReport(const ReportOptions& in) {
  ReportOptions opt = in;
  if (opt.seeds) {  // one seed group: the runs given, or the largest under --runs
    if (opt.runs.empty()) {
      std::vector<fs::path> all;
      try {
        for (const auto& r : io::ListRuns(opt.runs_root)) all.push_back(r);
      } catch (const std::exception& e) {
        std::cerr << "headscope report: " << e.what() << "\n";
        return 1;
      }
      const auto groups = analyzers::FindSeedGroups(all);
      if (groups.empty()) {
        std::cerr << "headscope report --seeds: no two runs under " << opt.runs_root
                  << " differ only in the seed; train some: headscope sweep --seed 1,2,3,4,5 --out " << opt.runs_root
                  << "\n";
        return 1;
      }
      for (size_t i = 1; i < groups.size() && !opt.quiet; ++i)
        std::cerr << "report: also a seed group of " << groups[i].runs.size() << " runs (" << groups[i].label
                  << "); give its runs to report it\n";
      for (const auto& r : groups[0].runs) opt.runs.push_back(r.string());
    } else {
      std::vector<fs::path> given(opt.runs.begin(), opt.runs.end());
      std::string why;
      try {
        why = analyzers::SeedGroupMismatch(given);
      } catch (const std::exception& e) {
        why = e.what();
      }
      if (!why.empty()) {
        std::cerr << "headscope report --seeds: " << why << "\n";
        return 2;
      }
    }
  }
  if (opt.runs.empty()) {
    std::cerr << "headscope report: give at least one run folder (or --seeds to find a seed group under --runs)\n";
    return 2;
  }
  for (auto& r : opt.runs) {  // MIScope variant folders: their side folders
    try {
      r = families::ResolveRunDir(r).string();
    } catch (const std::exception& e) {
      std::cerr << "headscope report: " << e.what() << "\n";
      return 1;
    }
  }
  std::vector<families::RunInfoPtr> runs;
  std::vector<std::string> seen;
  for (const auto& r : opt.runs) {
    std::error_code canon_ec;
    const std::string key = fs::weakly_canonical(r, canon_ec).string();
    if (std::find(seen.begin(), seen.end(), key) != seen.end()) continue;  // the same run twice
    seen.push_back(key);
    try {
      runs.push_back(families::LoadRunInfo(r));
    } catch (const std::exception& e) {
      std::cerr << "headscope report: " << e.what() << "\n";
      return 1;
    }
    if (io::ListCheckpointEpochs(r).empty()) {
      std::cerr << "headscope report: " << r << " has no checkpoints; train it first (headscope train ...)\n";
      return 1;
    }
  }
  // Figure names: the variant, or run<i>_<variant> when two runs share one.
  std::vector<std::string> stems;
  for (size_t i = 0; i < runs.size(); ++i) {
    int same = 0;
    for (const auto& r : runs) same += r->variant == runs[i]->variant;
    stems.push_back(same > 1 ? "run" + std::to_string(i + 1) + "_" + runs[i]->variant : runs[i]->variant);
  }
  const fs::path out = opt.out;
  std::error_code ec;
  // A previous report's figures go (only when the folder holds nothing but PNGs).
  if (fs::is_directory(out / "figures", ec)) {
    bool only_png = true;
    for (const auto& e : fs::directory_iterator(out / "figures", ec)) only_png = only_png && e.path().extension() == ".png";
    if (only_png) fs::remove_all(out / "figures", ec);
  }
  fs::create_directories(out / "figures", ec);
  if (ec) {
    std::cerr << "headscope report: cannot create " << (out / "figures") << ": " << ec.message() << "\n";
    return 1;
  }
  // 1. Analyse (resumable: current artifacts are skipped by stat).
  std::vector<json> findings;
  for (const auto& run : runs) {
    if (!opt.no_analyze) {
      if (!opt.quiet) std::cerr << "report: analysing " << run->dir.string() << " ...\n";
      jobs::ConfigureTorchForTraining(1);
      analyzers::AnalyzeOptions ao;
      ao.threads = opt.threads;
      try {
        const auto rep = analyzers::AnalyzeRun(run->dir, ao);
        for (const auto& w : rep.warnings) std::cerr << "warning: " << w << "\n";
      } catch (const std::exception& e) {
        std::cerr << "headscope report: " << e.what() << "\n";
        return 1;
      }
    }
    try {
      findings.push_back(analyzers::ReadFindings(run->dir));
    } catch (const std::exception& e) {
      std::cerr << "headscope report: " << e.what() << (opt.no_analyze ? " (run without --no-analyze to write it)" : "")
                << "\n";
      return 1;
    }
  }
  // 2. Figures: the panels, rendered by `headscope shot` (a real GL window)
  // on an X server of the report's own, so no window appears on the user's
  // screen; without Xvfb, on the user's display.
  PrivateXvfb xvfb;
  if (OnPath("Xvfb")) {
    std::string why;
    if (!xvfb.Start(opt.width, opt.height, &why)) {
      std::cerr << "headscope report: " << why << "\n";
      return 3;
    }
  } else if (!std::getenv("DISPLAY")) {
    std::cerr << "headscope report: the figures are rendered in a window, and there is no display and no Xvfb; "
                 "install xvfb (apt-get install xvfb) or run with a DISPLAY\n";
    return 3;
  }
  std::vector<std::string> env_strings;
  for (char** e = environ; *e; ++e)
    if (std::strncmp(*e, "DISPLAY=", 8) != 0 || xvfb.display().empty()) env_strings.push_back(*e);
  if (!xvfb.display().empty()) env_strings.push_back("DISPLAY=" + xvfb.display());
  const std::string exe = fs::read_symlink("/proc/self/exe", ec).string();
  std::vector<Figure> figs;
  auto shoot = [&](const families::RunInfo& run, const std::string& panel, int epoch, const std::string& file,
                   const std::string& caption, const std::vector<std::string>& extra = {}) {
    std::vector<std::string> argv;
    for (const std::string& s : {exe.empty() ? std::string("headscope") : exe, std::string("shot"), std::string("--run"),
                                 run.dir.string(), std::string("--epoch"), std::to_string(epoch), std::string("--panel"), panel,
                                 std::string("--out"), (out / "figures" / file).string(), std::string("--width"),
                                 std::to_string(opt.width), std::string("--height"), std::to_string(opt.height)})
      argv.push_back(s);
    for (const auto& e : extra) argv.push_back(e);
    if (!opt.quiet) std::cerr << "report: figure " << file << "\n";
    const int rc = Spawn(argv, env_strings);
    if (rc != 0 || !fs::exists(out / "figures" / file)) {
      std::cerr << "headscope report: rendering " << panel << " of " << run.dir.string() << " failed (exit " << rc << ")\n";
      return false;
    }
    figs.push_back({file, caption, extra.empty() ? run.variant : ""});
    return true;
  };
  if (runs.size() >= 2) {
    std::string others;
    for (size_t i = 1; i < runs.size(); ++i) others += (others.empty() ? "" : ",") + runs[i]->dir.string();
    const int last = io::ListCheckpointEpochs(runs[0]->dir).back();
    if (!shoot(*runs[0], "compare_runs", last, "compare_runs.png",
               "The runs overlaid: test accuracy, test loss, restricted loss and the Gini coefficient of W_L's Fourier norms; "
               "their findings side by side.",
               {"--compare", others}))
      return 1;
  }
  json seeds;  // the across-seeds summary (--seeds)
  if (opt.seeds) {
    try {
      seeds = analyzers::SeedSummary([&] {
        std::vector<fs::path> d;
        for (const auto& r : runs) d.push_back(r->dir);
        return d;
      }());
    } catch (const std::exception& e) {
      std::cerr << "headscope report: " << e.what() << "\n";
      return 1;
    }
    const int last = io::ListCheckpointEpochs(runs[0]->dir).back();
    if (!shoot(*runs[0], "seeds", last, "seeds.png",
               "Across seeds: each seed's curve (thin), their mean (thick) and range (band); the findings of every seed "
               "with the paper's values.",
               {"--runs", runs[0]->dir.parent_path().parent_path().string()}))
      return 1;
  }
  for (size_t i = 0; i < runs.size(); ++i) {
    if (opt.seeds && i > 0) break;  // one run's figures stand for the group (the rest is in the tables)
    const auto& run = runs[i];
    const int last = io::ListCheckpointEpochs(run->dir).back();
    const std::string& v = stems[i];
    const struct {
      const char* panel;
      const char* caption;
    } kFigs[] = {
        {"loss", "Loss and accuracy (train every epoch, test where evaluated); the dashed line marks test accuracy > 0.9."},
        {"progress", "Progress measures: restricted loss (key frequencies only, all pairs), excluded loss (key frequencies "
                     "removed, training pairs), train and test loss; Gini coefficients of W_E's and W_L's Fourier norms. "
                     "Shaded: the phases of summary.json."},
        {"trajectory", "The parameter trajectory on its first two principal components (coloured by epoch) and each weight "
                       "matrix's participation ratio."},
        {"specialization", "Each head's largest variance fraction in one frequency (= attending to a) and its dominant "
                           "frequency over training."},
        {"heads", "Attention patterns of every head at the last checkpoint (= attending to a, over all (a, b))."},
        {"neurons", "Neuron frequencies at the last checkpoint."},
    };
    for (const auto& f : kFigs)
      if (!shoot(*run, f.panel, last, v + "_" + f.panel + ".png", std::string(f.caption) + " (epoch " + std::to_string(last) + ")"))
        return 1;
  }

  // 3. The page and its Markdown twin.
  std::ostringstream h, md;
  const auto now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  char when[64];
  std::strftime(when, sizeof when, "%Y-%m-%d %H:%M UTC", std::gmtime(&now));
  std::string title = "headscope report: ";
  for (size_t i = 0; i < runs.size(); ++i) title += (i ? " vs " : "") + runs[i]->variant;
  h << "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>" << Html(title) << "</title>\n"
    << "<style>body{font-family:DejaVu Sans,Helvetica,Arial,sans-serif;max-width:1500px;margin:2em auto;padding:0 1em;"
       "color:#222}table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 8px;"
       "vertical-align:top;text-align:left}th{background:#e8eef7}figure{margin:1.5em 0}img{max-width:100%;"
       "border:1px solid #ccc}figcaption{color:#555;font-size:0.9em}pre{background:#f6f6f6;padding:0.8em;"
       "overflow:auto}.ref{color:#555}</style></head><body>\n";
  h << "<h1>" << Html(title) << "</h1>\n<p>Written by <code>headscope report</code> on " << when
    << ". Self-contained: every figure is embedded; nothing is fetched.</p>\n";
  md << "# " << title << "\n\nWritten by `headscope report` on " << when << ". Figures are in `figures/`.\n\n";

  // What happened, in words.
  h << "<h2>Summary</h2>\n<ul>\n";
  md << "## Summary\n\n";
  for (size_t i = 0; i < runs.size(); ++i) {
    const json& f = findings[i];
    std::string line = runs[i]->variant + ": ";
    const json c9 = f["test_accuracy_crossings"].value("0.9", json());
    const json fa = f.contains("final") && f["final"].is_object() ? f["final"].value("test_acc", json()) : json();
    const double final_acc = fa.is_number() ? fa.get<double>() : NAN;  // null: not recorded (a MIScope run)
    char buf[256];
    if (c9.is_number()) {
      std::snprintf(buf, sizeof buf, "groks: test accuracy passes 0.9 at epoch %d", c9.get<int>());
      line += buf;
      const auto& ph = f["phases"];
      auto end_of = [&](const char* phase) {
        const json& r = ph[phase];
        return r.is_array() && r.size() == 2 && r[1].is_number() ? std::to_string(r[1].get<int>()) : std::string("not ended");
      };
      line += "; phases: memorisation to " + end_of("memorisation") + ", circuit formation to " + end_of("circuit_formation") +
              ", clean-up to " + end_of("cleanup");
    } else if (std::isnan(final_acc)) {
      line += "test accuracy not recorded (a MIScope run: its files keep the losses only); final test loss " +
              (f.contains("final") && f["final"].is_object() ? f["final"].value("test_loss", json()).dump() : std::string("-"));
    } else {
      std::snprintf(buf, sizeof buf, "does not grok: final test accuracy %.3f after %d epochs", final_acc,
                    f.contains("final") ? f["final"].value("epoch", 0) : 0);
      line += buf;
      if (f["memorisation_epoch"].is_number()) line += " (it memorised the training set by epoch " + f["memorisation_epoch"].dump() + ")";
    }
    h << "<li>" << Html(line) << "</li>\n";
    md << "- " << line << "\n";
  }
  h << "<li class=\"ref\">Reference, Nanda et al. (2023), p = 113: memorisation to ~1.4k epochs, circuit formation to ~9.4k, "
       "clean-up to ~14k.</li>\n</ul>\n";
  md << "- Reference, Nanda et al. (2023), p = 113: memorisation to ~1.4k epochs, circuit formation to ~9.4k, clean-up to ~14k.\n\n";

  // Across seeds: mean, spread and every seed of each finding.
  if (opt.seeds && seeds.is_object()) {
    const auto cols = analyzers::SeedColumns(seeds);
    const auto rows = analyzers::SeedRows(seeds);
    h << "<h2>Across seeds</h2>\n<p>" << runs.size()
      << " runs that differ only in the model seed. <i>consistent</i>: every seed has it and the standard deviation is "
         "within 10% of the mean (epochs), the range within 0.05 (fractions), equal (counts) or one decade (losses).</p>\n";
    md << "## Across seeds\n\n" << runs.size()
       << " runs that differ only in the model seed. *consistent*: every seed has it and the standard deviation is "
          "within 10% of the mean (epochs), the range within 0.05 (fractions), equal (counts) or one decade (losses).\n\n";
    WriteTable(h, md, cols, rows);
    try {
      io::WriteFileAtomic(out / "seeds.json", seeds.dump(1));
    } catch (const std::exception& e) {
      std::cerr << "headscope report: " << e.what() << "\n";
      return 1;
    }
  }

  // Findings side by side.
  h << "<h2>Findings</h2>\n<table><tr><th>finding</th>";
  md << "## Findings\n\n| finding |";
  for (const auto& r : runs) h << "<th>" << Html(r->variant) << "</th>", md << " " << Md(r->variant) << " |";
  h << "</tr>\n";
  md << "\n|---|";
  for (size_t i = 0; i < runs.size(); ++i) md << "---|";
  md << "\n";
  std::vector<analyzers::TextRows> rows;
  for (const auto& f : findings) rows.push_back(analyzers::FindingsRows(f));
  for (size_t k = 0; k < rows[0].size(); ++k) {
    if (rows[0][k].first == "run") continue;
    h << "<tr><td>" << Html(rows[0][k].first) << "</td>";
    md << "| " << Md(rows[0][k].first) << " |";
    for (const auto& r : rows) {
      const std::string v = k < r.size() ? r[k].second : "-";
      h << "<td>" << Html(v) << "</td>";
      md << " " << Md(v) << " |";
    }
    h << "</tr>\n";
    md << "\n";
  }
  h << "</table>\n";
  md << "\n";
  // Heads per run.
  for (size_t i = 0; i < runs.size(); ++i) {
    h << "<h3>Heads of " << Html(runs[i]->variant) << "</h3>\n";
    md << "### Heads of " << runs[i]->variant << "\n\n";
    WriteTable(h, md, analyzers::kHeadColumns, analyzers::HeadRows(findings[i]));
  }
  // Figures.
  h << "<h2>Figures</h2>\n";
  md << "## Figures\n\n";
  for (const auto& f : figs) {
    const std::string png = io::ReadFile(out / "figures" / f.file);
    const std::string alt = (f.run.empty() ? std::string("comparison") : f.run) + ": " + f.file;
    h << "<figure><img alt=\"" << Html(alt) << "\" src=\"data:image/png;base64," << Base64(png) << "\"><figcaption><b>"
      << Html(f.run.empty() ? "All runs" : f.run) << ".</b> " << Html(f.caption) << "</figcaption></figure>\n";
    md << "![" << alt << "](figures/" << f.file << ")\n\n*" << (f.run.empty() ? "All runs" : f.run) << ".* " << f.caption
       << "\n\n";
  }
  // Configs and rules.
  h << "<h2>Run configurations</h2>\n";
  md << "## Run configurations\n\n";
  for (const auto& r : runs) {
    h << "<h3>" << Html(RunLabel(*r)) << "</h3>\n<pre>" << Html(r->config.dump(2)) << "</pre>\n";
    md << "### " << RunLabel(*r) << "\n\n```json\n" << r->config.dump(2) << "\n```\n\n";
  }
  h << "<h2>How the findings are defined</h2>\n<table>";
  md << "## How the findings are defined\n\n";
  const json rules = findings[0].value("rules", json::object());
  for (const auto& [k, v] : rules.items()) {
    h << "<tr><td>" << Html(k) << "</td><td>" << Html(v.get<std::string>()) << "</td></tr>\n";
    md << "- **" << k << "**: " << v.get<std::string>() << "\n";
  }
  h << "</table>\n</body></html>\n";
  try {
    io::WriteFileAtomic(out / "report.html", h.str());
    io::WriteFileAtomic(out / "report.md", md.str());
  } catch (const std::exception& e) {
    std::cerr << "headscope report: " << e.what() << "\n";
    return 1;
  }
  if (!opt.quiet)
    std::cerr << "wrote " << (out / "report.html").string() << " (" << figs.size() << " figures, " << h.str().size() / 1024
              << " KB) and " << (out / "report.md").string() << "\n";
  return 0;
}

namespace {
void AddReport(CLI::App& cli) {
  auto rp = std::make_shared<ReportOptions>();
  auto* report = cli.add_subcommand("report", "Write an HTML report (figures embedded) and a Markdown version of one or more runs");
  report->add_option("runs", rp->runs, "Run folders; two or more are compared");
  report->add_flag("--seeds", rp->seeds,
                   "The runs are one seed group (they differ only in the seed): add mean, spread and every seed of "
                   "each finding, and the Seeds panel. Without runs: the largest seed group under --runs");
  report->add_option("--runs", rp->runs_root, "Folder of runs to find a seed group in (with --seeds)")->capture_default_str();
  report->add_option("--out", rp->out, "Output folder (report.html, report.md, figures/)")->required();
  report->add_option("--threads", rp->threads, "Analysis threads")->capture_default_str();
  report->add_option("--width", rp->width, "Figure width in pixels")->capture_default_str();
  report->add_option("--height", rp->height, "Figure height in pixels")->capture_default_str();
  report->add_flag("--no-analyze", rp->no_analyze, "Use the artifacts as they are (summary.json must exist)");
  report->add_flag("--quiet", rp->quiet, "No progress lines");

  report->callback([rp] { ExitWith(RunReport(*rp)); });
}
const bool kReportRegistered = RegisterCommand({"report", 30, AddReport});
}  // namespace

}  // namespace hs::app
