// headscope: one binary, git-style subcommands (CLI11).
#include <CLI/CLI.hpp>
#include <algorithm>
#include <cctype>
#include <iostream>
#include <string>
#include <vector>

#include "commands.h"
#include "panel.h"
#include "lm/language_model.h"
#include "train/trainer.h"

namespace {
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
}  // namespace

int main(int argc, char** argv) {
  using namespace hs::app;
  // Allocator and torch settings before any thread starts (see trainer.h).
  hs::train::ConfigureTorchForTraining(1);
  CLI::App cli{"headscope: explore transformer attention heads.\n"
               "With no subcommand, opens the explorer on the default run (training it if absent)."};
  cli.require_subcommand(0, 1);

  ExplorerOptions ex;
  cli.add_option("--runs", ex.runs, "Folder holding runs/<family>/<variant>")->capture_default_str();
  cli.add_option("--run", ex.run, "Open this run folder instead of the default run");
  cli.add_flag("!--no-train", ex.train_if_missing, "Do not start training when the default run is missing");
  cli.add_option("--model", ex.model, "Open the language-model workspace on this Hugging Face model folder");
  cli.add_flag("--lm", ex.lm_first, "Start in the language-model workspace (the demo LM unless --model)");
  cli.add_option("--prompt", ex.prompt, "The language-model workspace's prompt");
  cli.add_option("--frames", ex.frames, "Close after N frames (for scripted use)")->group("");
  cli.add_option("--screenshot", ex.screenshot, "Write a PNG of the last frame (with --frames)")->group("");

  TrainOptions tr;
  auto* train = cli.add_subcommand("train", "Train the modular-addition transformer (resumes if the run exists)");
  auto& c = tr.cfg;
  train->add_option("--p", c.p, "Modulus (a prime >= 3)")->capture_default_str();
  train->add_option("--seed", c.model_seed, "Model initialisation seed")->capture_default_str();
  train->add_option("--data-seed", c.data_seed, "Train/test split seed")->capture_default_str();
  train->add_option("--train-frac", c.train_frac, "Fraction of the p*p pairs used for training, in (0, 1)")->capture_default_str();
  train->add_option("--weight-decay", c.weight_decay, "AdamW weight decay")->capture_default_str();
  train->add_option("--lr", c.lr, "AdamW learning rate")->capture_default_str();
  train->add_option("--epochs", c.epochs, "Full-batch training steps")->capture_default_str();
  train->add_flag("--grokfast", c.grokfast, "Grokfast-EMA gradient filter (groks in far fewer epochs)");
  train->add_option("--grokfast-alpha", c.grokfast_alpha, "Grokfast EMA decay")->capture_default_str();
  train->add_option("--grokfast-lambda", c.grokfast_lambda, "Grokfast amplification")->capture_default_str();
  train->add_option("--checkpoints", c.checkpoint_schedule,
                    "Checkpoint schedule FROM:EVERY,... (dense early, sparse late)")->capture_default_str();
  train->add_option("--eval-every", c.eval_every, "Evaluate the test set every N epochs")->capture_default_str();
  train->add_option("--d-model", c.d_model, "Residual width")->capture_default_str();
  train->add_option("--n-heads", c.n_heads, "Attention heads")->capture_default_str();
  train->add_option("--d-head", c.d_head, "Head width")->capture_default_str();
  train->add_option("--d-mlp", c.d_mlp, "MLP width")->capture_default_str();
  tr.threads = hs::train::DefaultTrainingThreads();
  train->add_option("--threads", tr.threads, "Trainer threads (default: the machine's cores, at most 2)")->capture_default_str();
  train->add_option("--out", tr.out, "Runs folder; the run goes to OUT/modadd_1l/<variant>")->capture_default_str();
  train->add_flag("--quiet", tr.quiet, "No progress bar");

  AnalyzeOptions an;
  auto* analyze = cli.add_subcommand("analyze", "Run the family's analyzers over every checkpoint of a run");
  analyze->add_option("run_dir", an.run_dir, "Run folder, e.g. runs/modadd_1l/p113_seed999")->required();
  analyze->add_option("--analyzers", an.analyzers, "Comma-separated subset (default: all of the family)")->delimiter(',');
  analyze->add_option("--threads", an.threads, "Checkpoints analysed in parallel")->capture_default_str();
  analyze->add_flag("--follow", an.follow, "Keep analysing new checkpoints of a run that is still training");
  analyze->add_flag("--quiet", an.quiet, "No progress bar");

  TrainLmOptions tl;
  auto* train_lm = cli.add_subcommand("train-lm", "Train the demo language model (byte vocabulary, GPT-2 layout) into OUT");
  train_lm->add_option("--out", tl.out, "Output folder (a Hugging Face GPT-2 folder)")->capture_default_str();
  train_lm->add_option("--steps", tl.cfg.steps, "Training steps")->capture_default_str();
  train_lm->add_option("--batch", tl.cfg.batch, "Sequences per step")->capture_default_str();
  train_lm->add_option("--seq-len", tl.cfg.seq_len, "Bytes per training sequence (BOS included)")->capture_default_str();
  train_lm->add_option("--layers", tl.cfg.n_layers, "Layers")->capture_default_str();
  train_lm->add_option("--d-model", tl.cfg.d_model, "Residual width")->capture_default_str();
  train_lm->add_option("--heads", tl.cfg.n_heads, "Attention heads per layer")->capture_default_str();
  train_lm->add_option("--d-mlp", tl.cfg.d_mlp, "MLP width")->capture_default_str();
  train_lm->add_option("--n-ctx", tl.cfg.n_ctx, "Positions")->capture_default_str();
  train_lm->add_option("--lr", tl.cfg.lr, "Peak learning rate")->capture_default_str();
  train_lm->add_option("--seed", tl.cfg.seed, "Seed (weights and data)")->capture_default_str();
  train_lm->add_option("--corpus", tl.cfg.corpus, "Text file or folder of text files")->capture_default_str();
  train_lm->add_option("--repeat-frac", tl.cfg.repeat_frac, "Share of sequences that repeat a segment")->capture_default_str();
  train_lm->add_option("--repeat-weight", tl.cfg.repeat_weight, "Loss weight inside the second copy")->capture_default_str();
  train_lm->add_option("--checkpoints", tl.cfg.checkpoint_steps, "Steps kept as checkpoints")->delimiter(',');
  train_lm->add_option("--threads", tl.cfg.threads, "Torch threads")->capture_default_str();
  train_lm->add_flag("--quiet", tl.quiet, "No progress output");

  HeadsOptions hd;
  std::string tokens_text;  // parsed by ParseTokenIds: CLI11 would read "" and "1,,2" as ids 0
  auto* heads = cli.add_subcommand("heads", "Run a language model on a prompt; per-head attention summary");
  heads->add_option("model_dir", hd.model_dir, "Hugging Face model folder (or assets/demo_lm)")->required();
  auto* prompt_opt = heads->add_option("--prompt", hd.prompt, "Text to run");
  auto* tokens_opt = heads->add_option("--tokens", tokens_text, "Token ids instead of text, e.g. 1,2,3");
  prompt_opt->excludes(tokens_opt);
  heads->add_option("--bos", hd.bos, "Prepend BOS to the prompt: yes, no or auto (auto: yes if the tokenizer has one, "
                                     "except Qwen)")
      ->check(CLI::IsMember({"yes", "no", "auto"}))
      ->capture_default_str();
  heads->add_flag("--json", hd.json, "Print JSON instead of a table");
  heads->add_option("--patterns-out", hd.patterns_out, "Write tokens [T] and patterns [layers, heads, T, T] as .npz");

  ExplorerOptions shot;
  shot.frames = 3;
  shot.wait_ready = true;
  shot.train_if_missing = false;
  auto* shot_cmd = cli.add_subcommand("shot", "Render the explorer (or one panel) at an epoch to a PNG, in a real GL context");
  shot_cmd->add_option("--run", shot.run, "Run folder (grokking panels)");
  shot_cmd->add_option("--runs", shot.runs, "Folder of runs (for --panel compare)")->capture_default_str();
  shot_cmd->add_option("--epoch", shot.epoch, "Checkpoint epoch (the nearest checkpoint at or after it)");
  shot_cmd->add_option("--model", shot.model, "Language-model folder (LM panels; e.g. assets/demo_lm)");
  shot_cmd->add_option("--prompt", shot.prompt, "Prompt for the LM panels");
  shot_cmd->add_option("--head", shot.head, "Selected head as LAYER,HEAD (LM panels)");
  shot_cmd->add_option("--step", shot.step, "Training checkpoint step of the LM (default: final weights)");
  const std::string panels =
      PanelNameList(WorkspaceKind::Grokking) + "; language models: " + PanelNameList(WorkspaceKind::LanguageModel);
  shot_cmd->add_option("--panel", shot.panel, panels + " (default: the whole window)");
  shot_cmd->add_option("--compare", shot.compare, "Runs the compare_runs panel overlays with --run (comma-separated)")
      ->delimiter(',');
  shot_cmd->add_option("--pair", shot.pair, "Position pair for the head grids as QUERY,KEY (default: last position attending to a)");
  shot_cmd->add_option("--out", shot.screenshot, "PNG file to write")->required();
  shot_cmd->add_option("--width", shot.width, "Window width in pixels")->capture_default_str();
  shot_cmd->add_option("--height", shot.height, "Window height in pixels")->capture_default_str();
  cli.add_option("--script-epochs", ex.script_epochs, "")->group("")->delimiter(',');
  cli.add_option("--frame-log", ex.frame_log, "")->group("");
  cli.add_flag("--script-wait", ex.script_wait, "")->group("");
  cli.add_option("--script-shots", ex.script_shots, "")->group("");
  cli.add_option("--script-prompts", ex.script_prompts, "")->group("");
  cli.add_flag("--train-scripted", ex.train_scripted, "")->group("");
  cli.add_option("--width", ex.width, "")->group("");
  cli.add_option("--height", ex.height, "")->group("");

  ReportOptions rp;
  auto* report = cli.add_subcommand("report", "Write an HTML report (figures embedded) and a Markdown version of one or more runs");
  report->add_option("runs", rp.runs, "Run folders; two or more are compared")->required();
  report->add_option("--out", rp.out, "Output folder (report.html, report.md, figures/)")->required();
  report->add_option("--threads", rp.threads, "Analysis threads")->capture_default_str();
  report->add_option("--width", rp.width, "Figure width in pixels")->capture_default_str();
  report->add_option("--height", rp.height, "Figure height in pixels")->capture_default_str();
  report->add_flag("--no-analyze", rp.no_analyze, "Use the artifacts as they are (summary.json must exist)");
  report->add_flag("--quiet", rp.quiet, "No progress lines");

  ExportOptions xp;
  auto* exp = cli.add_subcommand("export", "Bundle a run (config, metrics, summaries, last checkpoint) as one .zip");
  exp->add_option("run", xp.run, "Run folder")->required();
  exp->add_option("--out", xp.out, "The .zip to write")->required();
  exp->add_option("--artifacts", xp.artifacts, "Also every epoch's artifact of these analyzers (comma-separated)")->delimiter(',');
  exp->add_flag("--all-checkpoints", xp.all_checkpoints, "Every checkpoint, not just the last");

  SweepOptions sw;
  auto* sweep = cli.add_subcommand("sweep", "Train and analyse a grid of variants (resumable; --index for job arrays)");
  sweep->add_option("--p", sw.p, "Moduli (comma-separated primes)")->delimiter(',')->capture_default_str();
  sweep->add_option("--seed", sw.seed, "Model seeds")->delimiter(',')->capture_default_str();
  sweep->add_option("--weight-decay", sw.weight_decay, "Weight decays")->delimiter(',')->capture_default_str();
  sweep->add_option("--train-frac", sw.train_frac, "Train fractions")->delimiter(',')->capture_default_str();
  sweep->add_option("--epochs", sw.epochs, "Epochs per run")->capture_default_str();
  sweep->add_option("--out", sw.out, "Runs folder")->capture_default_str();
  sweep->add_option("--index", sw.index, "Run only grid point I (0-based), e.g. $SLURM_ARRAY_TASK_ID");
  sweep->add_flag("--list", sw.list, "Print the grid (index, run folder, equivalent train command) and exit");
  sweep->add_flag("--no-analyze", sw.no_analyze, "Train only");
  sw.threads = hs::train::DefaultTrainingThreads();
  sweep->add_option("--threads", sw.threads, "Threads per run")->capture_default_str();

  AddTokenizeCommand(cli);  // headscope tokenize MODEL_DIR (--file F | TEXT) [--bos]
  AddCategorizeCommand(cli);  // headscope categorize MODEL_DIR [--out FILE]
  AddPlasticityCommand(cli);  // headscope plasticity MODEL_DIR [--corpus P] [--config F] [--out DIR]
  try {
    cli.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // Help, --version, and a subcommand's own exit code (tokenize's RuntimeError) as CLI11 has them;
    // a usage error exits 2 with one line, like the subcommands' own checks (CLI11 would exit
    // 101..114 and add "Run with --help" on a second line).
    if (e.get_exit_code() == 0 || dynamic_cast<const CLI::RuntimeError*>(&e)) return cli.exit(e);
    const auto parsed = cli.get_subcommands();
    std::cerr << "headscope" << (parsed.empty() ? "" : " " + parsed.back()->get_name()) << ": " << e.what()
              << " (see --help)\n";
    return 2;
  }
  if (train->parsed()) return RunTrain(tr);
  if (report->parsed()) return RunReport(rp);
  if (exp->parsed()) return RunExport(xp);
  if (sweep->parsed()) return RunSweep(sw);
  if (analyze->parsed()) return RunAnalyze(an);
  if (train_lm->parsed()) return RunTrainLm(tl);
  if (heads->parsed()) {
    if (tokens_opt->count() > 0) {
      std::string error;
      if (!ParseTokenIds(tokens_text, &hd.tokens, &error)) {
        std::cerr << "headscope heads: --tokens '" << tokens_text << "': " << error << "\n";
        return 2;
      }
    } else if (prompt_opt->count() > 0 && hd.prompt.empty()) {
      std::cerr << "headscope heads: the prompt is empty; give some text, or ids with --tokens 1,2,3\n";
      return 2;
    }
    if (hd.prompt.empty() && hd.tokens.empty()) {
      std::cerr << "headscope heads: give --prompt TEXT or --tokens 1,2,3\n";
      return 2;
    }
    return RunHeads(hd);
  }
  if (shot_cmd->parsed()) {
    const PanelDef* def = shot.panel.empty() ? nullptr : FindPanel(shot.panel);
    if (!shot.panel.empty() && !def) {
      std::cerr << "headscope shot: unknown --panel '" << shot.panel << "'; use one of " << panels << "\n";
      return 2;
    }
    const bool lm_shot = def ? def->workspace == WorkspaceKind::LanguageModel : !shot.model.empty();
    if (!lm_shot && (shot.run.empty() || shot.epoch < 0)) {
      std::cerr << "headscope shot: give --run RUN --epoch N (grokking panels) or --model DIR (language-model "
                   "panels)\n";
      return 2;
    }
    if (lm_shot) {
      shot.lm_first = true;
      if (shot.model.empty()) shot.model = hs::lm::DemoLmDir().string();
    }
    return RunExplorer(shot);
  }
  return RunExplorer(ex);
}
