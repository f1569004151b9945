// Every hyperparameter of a grokking run, with the published defaults
// (Nanda et al. 2023). Torch-free: the CLI and UI read it.
#pragma once

#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

#include "model/transformer_config.h"

namespace hs::train {

// "0:50,1000:100,5000:250": from epoch 0 every 50 epochs, from 1000 every
// 100, from 5000 every 250. The first and last epochs are always included.
struct CheckpointSchedule {
  struct Segment { int from = 0; int every = 1; };
  std::vector<Segment> segments;

  static CheckpointSchedule Parse(const std::string& spec);  // std::invalid_argument on bad spec
  bool IsCheckpoint(int epoch, int last_epoch) const;
  std::vector<int> Epochs(int last_epoch) const;
  std::string ToString() const;
};

struct TrainConfig {
  std::string family = "modadd_1l";
  int p = 113;
  int d_model = 128, n_heads = 4, d_head = 32, d_mlp = 512;
  int model_seed = 999;
  int data_seed = 598;
  double train_frac = 0.3;
  double lr = 1e-3;
  double weight_decay = 1.0;
  double beta1 = 0.9, beta2 = 0.98, adam_eps = 1e-8;
  int epochs = 25000;
  bool grokfast = false;
  double grokfast_alpha = 0.98, grokfast_lambda = 2.0;
  std::string checkpoint_schedule = "0:50,1000:100,5000:250";
  // Test-set evaluation interval in epochs; checkpoints, the first and the
  // last epoch are always evaluated. Rows in between repeat the last value
  // and say which epoch it is from (metrics.csv test_epoch).
  int eval_every = 10;

  // p113_seed999, with a suffix for each other parameter that differs from
  // its default (_dseed1, _frac0.5, _wd0.1, _lr0.003, _grokfast, ...).
  std::string VariantName() const;
  // Throws std::invalid_argument with a sentence saying what to change.
  void Validate() const;
  model::TransformerConfig Model() const;
  // True when `other` describes the same training (only `epochs` and
  // `checkpoint_schedule` may differ); otherwise explains the first difference.
  bool SameTraining(const TrainConfig& other, std::string* why) const;
};

bool IsPrime(int n);

void to_json(nlohmann::json& j, const TrainConfig& c);
void from_json(const nlohmann::json& j, TrainConfig& c);

}  // namespace hs::train
