// The subcommands of the headscope binary, one file each under app/cli/,
// all registered the same way: a file adds its CLI11 subcommand, options and
// callback from a namespace-scope RegisterCommand (names unique to the file:
// the app compiles as unity batches), and main() adds every
// registered command. Each Run* returns a process exit code; errors a user
// can cause are printed to stderr in words, never thrown out.
//
//   namespace {
//   void AddMine(CLI::App& cli) {
//     auto opt = std::make_shared<MyOptions>();
//     auto* sub = cli.add_subcommand("mine", "What it does");
//     sub->add_option("--n", opt->n, "...");
//     sub->callback([opt] { ExitWith(RunMine(*opt)); });
//   }
//   const bool kMineRegistered = RegisterCommand({"mine", 60, AddMine});
//   }  // namespace
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "train/lm_trainer.h"
#include "train/train_config.h"

namespace CLI { class App; class Validator; }

namespace hs::app {

// A model argument as CLI11 transform: an existing folder stays as given; a
// hub id (gpt2, Qwen/Qwen2.5-0.5B, NAME@REVISION) that is not a folder
// becomes its snapshot in the local Hugging Face cache (io::ResolveModelArg),
// or the option fails with the resolver's message (where it looked, the
// download command). Anything else is left for the command's own checks.
CLI::Validator ModelArg();

// "1,2,3" -> ids: decimal integers separated by commas, nothing else (an
// empty item, a sign without digits or an id past int64 is an error saying
// which item).
bool ParseTokenIds(const std::string& text, std::vector<int64_t>* ids, std::string* error);
// "1.1,0.3" -> {{1, 1}, {0, 3}} (empty text: none); `what` names the second
// number in the error ("HEAD", "NEURON").
bool ParseLayerPairs(const std::string& text, const char* what, std::vector<std::pair<int, int>>* out,
                     std::string* error);

struct TrainOptions {
  train::TrainConfig cfg;
  std::string out = "runs";
  int threads = 1;
  bool quiet = false;
};
int RunTrain(const TrainOptions& opt);

struct AnalyzeOptions {
  std::string run_dir;
  std::vector<std::string> analyzers;  // empty: the family's list
  int threads = 2;
  bool follow = false;
  bool quiet = false;
};
int RunAnalyze(const AnalyzeOptions& opt);

struct TrainLmOptions {
  train::LmTrainConfig cfg;
  std::string out = "runs/demo_lm";  // the shipped one is assets/demo_lm
  bool quiet = false;
};
int RunTrainLm(const TrainLmOptions& opt);

struct HeadsOptions {
  std::string model_dir;
  std::string prompt;
  std::vector<int64_t> tokens;  // instead of a prompt
  std::string bos = "auto";     // yes | no | auto (LanguageModel::DefaultBos)
  bool json = false;
  std::string patterns_out;     // .npz with tokens [T] and patterns [L, H, T, T]
  std::string off;              // heads turned off, "0.1,1.2" (every view, roles included)
  std::string off_mode = "zero";  // zero | mean
  bool check = false;           // causally check the active roles (ablation)
};
int RunHeads(const HeadsOptions& opt);

struct ExplorerOptions {
  std::string runs = "runs";
  std::string run;             // a run folder; empty: the default run under `runs`
  bool train_if_missing = true;
  bool train_scripted = false; // with --frames: still train the default run in the background (screenshots)
  int frames = 0;              // > 0: close after this many frames (tests, screenshots)
  std::string screenshot;      // write a PNG of the last frame
  int width = 1600, height = 1000;
  int epoch = -1;              // start at this checkpoint epoch (-1: remembered / latest)
  std::string panel;           // draw only this registered panel (headscope shot --panel)
  std::string pair;            // position pair for the head grid, "Q,K" (e.g. "2,0")
  std::vector<std::string> compare;  // runs the Variants panel compares with the open one
  bool wait_ready = false;     // with --frames: keep rendering until every panel has its data
  double capture_after_s = -1; // >= 0: capture at this many seconds even while panels compute (progress shots)
  std::vector<int> script_epochs;  // scripted slider moves, one per frame after load (tests)
  bool script_wait = false;        // advance the script only once the panels show the current epoch
  std::string frame_log;       // write per-frame timings (CSV) here (bench)
  std::string script_shots;    // write DIR/step_<i>.png once each scripted step is fully drawn (tests)
  // Language-model workspace:
  std::string model;           // open the LM workspace on this model folder (empty: the demo LM, when shown)
  bool open_model_picker = false;  // the LM workspace's model picker drawn open (screenshots)
  std::string prompt;          // its prompt (empty: a prompt with repetition)
  std::string head;            // selected head "LAYER,HEAD" (default: the best induction head)
  int step = -1;               // training checkpoint step (-1: final weights)
  bool lm_first = false;       // start in the LM workspace
  std::string script_prompts;  // a file of prompts, typed one per line once the last one is drawn (bench)
};
int RunExplorer(const ExplorerOptions& opt);

struct ReportOptions {
  std::vector<std::string> runs;
  std::string out;
  int threads = 2;            // analysis threads
  int width = 1400, height = 800;  // figure size in pixels
  bool no_analyze = false;    // use the artifacts as they are
  bool quiet = false;
  // A seed group: the runs given (they must differ only in the seed), or
  // the largest group under `runs_root`; adds the across-seeds summary.
  bool seeds = false;
  std::string runs_root = "runs";
};
int RunReport(const ReportOptions& opt);

struct ExportOptions {
  std::string run;
  std::string out;                     // .zip
  std::vector<std::string> artifacts;  // per-epoch artifacts to include (default: summaries only)
  bool all_checkpoints = false;        // every checkpoint (default: the last)
  bool miscope = false;                // --out is a MIScope variant folder to write instead
};
int RunExport(const ExportOptions& opt);

struct SweepOptions {
  std::vector<int> p = {113}, seed = {999};
  std::vector<double> weight_decay = {1.0}, train_frac = {0.3};
  int epochs = 25000;
  std::string out = "runs";
  int index = -1;      // one grid point (a job-array task); -1: all, in order
  bool list = false;   // print the grid, one command per line
  bool no_analyze = false;
  int threads = 2;
};
int RunSweep(const SweepOptions& opt);

struct CommandDef {
  std::string name;  // the subcommand
  int order = 0;     // its place in --help
  std::function<void(CLI::App& cli)> add;
};
// Registers a subcommand; returns true (for a namespace-scope constant).
bool RegisterCommand(CommandDef def);
// Every registered subcommand, ordered by `order`.
const std::vector<CommandDef>& CommandRegistry();
// Ends a subcommand's callback (inside cli.parse()) with its exit code;
// main() returns it.
[[noreturn]] void ExitWith(int rc);

// Ctrl-C / SIGTERM for the long commands (train, analyze, train-lm): from
// InstallStopSignals on, a signal asks the work to stop at its next safe
// point (StopRequested() turns true); the command saves its state and exits.
void InstallStopSignals();
bool StopRequested();

// The folder of the default run under `runs`: runs/modadd_1l/p113_seed999.
std::string DefaultRunDir(const std::string& runs);

}  // namespace hs::app
