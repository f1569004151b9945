// The grokking trainer: full-batch AdamW on modular addition, checkpoints on
// a schedule, metrics.csv, resumable after a kill. Torch-free interface.
#pragma once

#include <filesystem>
#include <functional>
#include <memory>

#include "train/train_config.h"

namespace hs::train {

struct TrainProgress {
  int epoch = 0;  // the epoch whose metrics these are (weights after `epoch` steps)
  int total_epochs = 0;
  int start_epoch = 0;  // where this session started (> 0 after a resume)
  double train_loss = 0, test_loss = 0, train_acc = 0, test_acc = 0;
  int test_epoch = 0;  // the epoch test_loss/test_acc were measured at (<= epoch)
  double ms_per_epoch = 0;  // recent average
  double eta_seconds = 0;
  bool wrote_checkpoint = false;
};

struct TrainHooks {
  std::function<void(const TrainProgress&)> on_epoch;  // called on the training thread
  std::function<bool()> should_stop;                   // polled once per epoch
  std::function<bool()> eval_every_epoch;              // true: evaluate the test set this epoch whatever eval_every says
  // On a stop request, save train_state so a later run continues exactly
  // here. Tests set it false to imitate a kill (state only at checkpoints).
  bool save_state_on_stop = true;
};

class Trainer {
 public:
  // `run_dir` is runs/<family>/<variant>. Throws std::invalid_argument for a
  // bad config and io::IoError when the folder cannot be written or holds
  // a run with different settings.
  Trainer(TrainConfig cfg, std::filesystem::path run_dir);
  ~Trainer();

  // Trains to cfg.epochs, resuming from train_state.safetensors when present.
  // Returns the last epoch reached.
  int Run(const TrainHooks& hooks = {});

  int start_epoch() const;  // epoch the run resumes from (0 for a fresh run)
  const TrainConfig& config() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> m;
};

}  // namespace hs::train
