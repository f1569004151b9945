// headscope: one binary, git-style subcommands (CLI11). With no subcommand it
// opens the explorer; every subcommand registers itself from its file under
// app/cli/ (commands.h).
#include <CLI/CLI.hpp>
#include <iostream>
#include <string>

#include "commands.h"
#include "jobs/thread_policy.h"

int main(int argc, char** argv) {
  using namespace hs::app;
  // Allocator and torch settings before any thread starts (see thread_policy.h).
  hs::jobs::ConfigureTorchForTraining(1);
  CLI::App cli{"headscope: explore transformer attention heads.\n"
               "With no subcommand, opens the explorer on the default run (training it if absent)."};
  cli.require_subcommand(0, 1);

  ExplorerOptions ex;
  cli.add_option("--runs", ex.runs, "Folder holding runs/<family>/<variant>")->capture_default_str();
  cli.add_option("--run", ex.run, "Open this run folder instead of the default run");
  cli.add_flag("!--no-train", ex.train_if_missing, "Do not start training when the default run is missing");
  cli.add_option("--model", ex.model,
                 "Open the language-model workspace on this Hugging Face model folder or cached hub id (gpt2, ORG/NAME@REV)")
      ->transform(ModelArg());
  cli.add_flag("--lm", ex.lm_first, "Start in the language-model workspace (the demo LM unless --model)");
  cli.add_option("--prompt", ex.prompt, "The language-model workspace's prompt");
  // Scripted use (tests, benchmarks, screenshots): hidden from --help.
  cli.add_option("--frames", ex.frames, "Close after N frames")->group("");
  cli.add_option("--screenshot", ex.screenshot, "Write a PNG of the last frame (with --frames)")->group("");
  cli.add_option("--script-epochs", ex.script_epochs, "")->group("")->delimiter(',');
  cli.add_option("--frame-log", ex.frame_log, "")->group("");
  cli.add_flag("--script-wait", ex.script_wait, "")->group("");
  cli.add_option("--script-shots", ex.script_shots, "")->group("");
  cli.add_option("--script-prompts", ex.script_prompts, "")->group("");
  cli.add_flag("--train-scripted", ex.train_scripted, "")->group("");
  cli.add_flag("--open-model-picker", ex.open_model_picker, "")->group("");
  cli.add_option("--width", ex.width, "")->group("");
  cli.add_option("--height", ex.height, "")->group("");

  for (const CommandDef& c : CommandRegistry()) c.add(cli);
  try {
    cli.parse(argc, argv);  // a subcommand runs inside, and leaves with its exit code (ExitWith)
  } catch (const CLI::ParseError& e) {
    // Help, --version, and a subcommand's own exit code as CLI11 has them; a
    // usage error exits 2 with one line, like the subcommands' own checks
    // (CLI11 would exit 101..114 and add "Run with --help" on a second line).
    if (e.get_exit_code() == 0 || dynamic_cast<const CLI::RuntimeError*>(&e)) return cli.exit(e);
    const auto parsed = cli.get_subcommands();
    std::cerr << "headscope" << (parsed.empty() ? "" : " " + parsed.back()->get_name()) << ": " << e.what()
              << " (see --help)\n";
    return 2;
  }
  return RunExplorer(ex);
}
