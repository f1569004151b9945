// `headscope train-lm`: trains the demo LM (see analysis/train/lm_trainer.h)
// with a terminal progress bar and prints the circuit checks per checkpoint.
#include <memory>
#include <CLI/CLI.hpp>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <iostream>

#include "commands.h"
#include "io/atomic_file.h"
#include "train/lm_trainer.h"

namespace hs::app {
int RunTrainLm(const TrainLmOptions& opt) {
  InstallStopSignals();
  const bool tty = ::isatty(STDERR_FILENO);
  const auto t0 = std::chrono::steady_clock::now();
  auto last_print = t0 - std::chrono::hours(1);
  train::LmTrainHooks hooks;
  hooks.should_stop = [] { return StopRequested(); };
  hooks.on_step = [&](int step, int total, double loss) {
    if (opt.quiet) return;
    const auto now = std::chrono::steady_clock::now();
    if (step < total && now - last_print < (tty ? std::chrono::milliseconds(200) : std::chrono::seconds(10))) return;
    last_print = now;
    const double s = std::chrono::duration<double>(now - t0).count();
    std::string bar(24, '.');
    for (int i = 0; i < int(24.0 * step / total + 0.5) && i < 24; ++i) bar[i] = '#';
    std::fprintf(stderr, "%s[%s] step %d/%d  loss %.3f  %.0f s%s", tty ? "\r" : "", bar.c_str(), step, total, loss, s,
                 tty ? "\x1b[K" : "\n");
    std::fflush(stderr);
  };
  hooks.on_checkpoint = [&](const train::CircuitScores& c) {
    if (opt.quiet) return;
    std::fprintf(stderr,
                 "%sstep %5d  text loss %.3f nats/byte  copy loss first %.2f second %.2f  induction L%dH%d %.2f  "
                 "previous-token L%dH%d %.2f\n",
                 tty ? "\r\x1b[K" : "", c.step, c.text_loss, c.loss_first_copy, c.loss_second_copy, c.induction_layer,
                 c.induction_head, c.induction_score, c.prev_layer, c.prev_head, c.prev_score);
  };
  try {
    const train::CircuitScores s = train::TrainDemoLM(opt.cfg, opt.out, hooks);
    const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::fprintf(stderr,
                 "%sdone: %s in %.0f s. Induction head L%dH%d %.2f, previous-token head L%dH%d %.2f, "
                 "copy loss %.2f -> %.2f nats\n",
                 tty ? "\r\x1b[K" : "", opt.out.c_str(), wall, s.induction_layer, s.induction_head, s.induction_score,
                 s.prev_layer, s.prev_head, s.prev_score, s.loss_first_copy, s.loss_second_copy);
    return 0;
  } catch (const io::IoError& e) {
    std::cerr << "\nheadscope train-lm: " << e.what() << "\n";
    return 1;
  } catch (const std::invalid_argument& e) {
    std::cerr << "\nheadscope train-lm: " << e.what() << "\n";
    return 2;
  } catch (const train::LmTrainingStopped& e) {  // stopped by a signal: state saved
    std::cerr << "\nheadscope train-lm: " << e.what() << "\n";
    return 130;
  } catch (const std::exception& e) {  // e.g. a filesystem error creating the folder
    std::cerr << "\nheadscope train-lm: " << e.what() << "\n";
    return 1;
  }
}

namespace {
void AddTrainLm(CLI::App& cli) {
  auto tl = std::make_shared<TrainLmOptions>();
  auto* train_lm = cli.add_subcommand("train-lm", "Train the demo language model (byte vocabulary, GPT-2 layout) into OUT");
  train_lm->add_option("--out", tl->out, "Output folder (a Hugging Face GPT-2 folder)")->capture_default_str();
  train_lm->add_option("--steps", tl->cfg.steps, "Training steps")->capture_default_str();
  train_lm->add_option("--batch", tl->cfg.batch, "Sequences per step")->capture_default_str();
  train_lm->add_option("--seq-len", tl->cfg.seq_len, "Bytes per training sequence (BOS included)")->capture_default_str();
  train_lm->add_option("--layers", tl->cfg.n_layers, "Layers")->capture_default_str();
  train_lm->add_option("--d-model", tl->cfg.d_model, "Residual width")->capture_default_str();
  train_lm->add_option("--heads", tl->cfg.n_heads, "Attention heads per layer")->capture_default_str();
  train_lm->add_option("--d-mlp", tl->cfg.d_mlp, "MLP width")->capture_default_str();
  train_lm->add_option("--n-ctx", tl->cfg.n_ctx, "Positions")->capture_default_str();
  train_lm->add_option("--lr", tl->cfg.lr, "Peak learning rate")->capture_default_str();
  train_lm->add_option("--seed", tl->cfg.seed, "Seed (weights and data)")->capture_default_str();
  train_lm->add_option("--corpus", tl->cfg.corpus, "Text file or folder of text files")->capture_default_str();
  train_lm->add_option("--repeat-frac", tl->cfg.repeat_frac, "Share of sequences that repeat a segment")->capture_default_str();
  train_lm->add_option("--repeat-weight", tl->cfg.repeat_weight, "Loss weight inside the second copy")->capture_default_str();
  train_lm->add_option("--checkpoints", tl->cfg.checkpoint_steps, "Steps kept as checkpoints")->delimiter(',');
  train_lm->add_option("--threads", tl->cfg.threads, "Torch threads")->capture_default_str();
  train_lm->add_flag("--quiet", tl->quiet, "No progress output");

  train_lm->callback([tl] { ExitWith(RunTrainLm(*tl)); });
}
const bool kTrainLmRegistered = RegisterCommand({"train-lm", 70, AddTrainLm});
}  // namespace

}  // namespace hs::app
