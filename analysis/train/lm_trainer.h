// The demo LM: a small GPT-2-architecture, byte-vocabulary model that
// headscope trains and ships (assets/demo_lm), so every language-model
// feature works with no download. Torch-free interface.
//
// Data: text from a Debian package (base-files' /usr/share/common-licenses by
// default) mixed with sequences that repeat a segment at a random offset,
// the loss weighted toward the repeated span. A fixed offset would teach a
// positional shortcut; random offsets teach a previous-token head and an
// induction head (measured: see README "The demo LM").
#pragma once

#include <filesystem>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

namespace hs::train {

struct LmTrainConfig {
  int n_layers = 2;
  int d_model = 128;
  int n_heads = 4;
  int d_mlp = 512;
  int n_ctx = 256;    // positions the model has (prompts up to this many bytes + BOS)
  int seq_len = 128;  // training sequence length
  int batch = 32;
  int steps = 2500;
  double lr = 3e-3;
  int warmup = 50;
  double weight_decay = 0.01;
  double grad_clip = 1.0;
  double repeat_frac = 0.9;             // share of sequences that repeat a segment
  double repeat_weight = 10.0;          // loss weight of targets inside the second copy
  int repeat_min = 4, repeat_max = 48;  // segment length range (bytes)
  uint64_t seed = 1;
  std::string corpus = "/usr/share/common-licenses";  // file or folder of text files
  // Steps whose weights are kept as checkpoints (thinned, for watching head
  // roles form); the last step is always kept.
  std::vector<int> checkpoint_steps = {0, 200, 400, 600, 800, 900, 1000, 1100, 1250, 1500, 2000};
  int threads = 1;
};

// Held-out checks of the two circuits the demo LM must have, on [BOS, r, r]
// sequences of random bytes (length of r = 40).
struct CircuitScores {
  int step = 0;
  double train_loss = 0;
  double text_loss = 0;         // held-out corpus text, nats per byte
  double loss_first_copy = 0;   // nats per token predicting r the first time
  double loss_second_copy = 0;  // ... and the second time (copying)
  // Best head per role: mean attention of second-copy rows on the token
  // after the earlier occurrence (induction), of every row i >= 1 on i - 1
  // (previous token).
  int induction_layer = -1, induction_head = -1;
  double induction_score = 0;
  int prev_layer = -1, prev_head = -1;
  double prev_score = 0;
  std::vector<std::vector<double>> induction_all, prev_all;  // [layer][head]
};

struct LmTrainHooks {
  std::function<void(int step, int total, double loss)> on_step;
  std::function<void(const CircuitScores&)> on_checkpoint;
  std::function<bool()> should_stop;
};

// Thrown when hooks.should_stop asks to stop; the state is saved first.
struct LmTrainingStopped : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Trains and writes `out_dir` as a Hugging Face GPT-2 folder (config.json,
// model.safetensors, headscope_tokenizer.json, training.json) plus
// checkpoints/step_NNNNN/ folders in the same layout (float16). The written
// model has seq_len positions (the ones training reached). Resumes from
// out_dir/train_state.safetensors after a kill; removes it when done.
// Returns the final scores. Throws std::invalid_argument for a bad config,
// io::IoError on an unreadable or too small corpus, an unwritable folder, a
// folder holding a finished run, or a malformed train state.
CircuitScores TrainDemoLM(const LmTrainConfig& cfg, const std::filesystem::path& out_dir,
                          const LmTrainHooks& hooks = {});


// Reads the corpus (a file or every regular file of a folder, sorted by name)
// as bytes. Throws io::IoError naming the path when it is missing or empty.
std::string ReadCorpus(const std::string& path);

}  // namespace hs::train
