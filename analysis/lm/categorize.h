// Offline head categorisation of a language model: detector scores
// averaged over 50 random repeated-token sequences (induction, duplicate
// token) and 20 natural sentences (previous token, first token, diffuse),
// written as head_categories.json beside the weights; and, for a model
// folder with training checkpoints (the demo LM), the same scores at every
// checkpoint: how the roles form during training (role_formation.json).
//
//   auto lm = LanguageModel::Open(dir);
//   library::HeadCategories c = Categorize(*lm, dir.filename().string(), {}, progress);
//   lm::WriteHeadCategories(CategoriesPath(dir), c);
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

#include "jobs/cancelled.h"
#include "library/head_roles.h"
#include "lm/language_model.h"

namespace hs::lm {

struct CategorizeOptions {
  int n_repeated = 50;    // random repeated-token sequences
  int half_length = 25;   // random tokens before the repeat (clamped to fit the context)
  uint64_t seed = 0;
  std::filesystem::path sentences_file;  // empty: ShippedSentencesFile()
  int bos = -1;           // 1 / 0: prepend BOS or not; -1: LanguageModel::DefaultBos()
};

// Thrown when the progress callback asks to stop.
// Called after every prompt; return false to cancel.
using CategorizeProgress = std::function<bool(int done, int total)>;

// The natural sentences the sentence roles (and mean ablation) use, encoded
// as categorize does (BOS per opt.bos, cut to the context); random token
// sequences for a model without a tokenizer. *label names the source.
// io::IoError when the file has no usable sentence.
std::vector<std::vector<int64_t>> NaturalPrompts(const LanguageModel& lm, const CategorizeOptions& opt,
                                                 std::string* label = nullptr);

// assets/prompts/natural_sentences.txt (source tree or beside the binary).
std::filesystem::path ShippedSentencesFile();
// One sentence per non-empty line ('#' starts a comment line); io::IoError
// naming the file when it is missing, not UTF-8, or has no sentence.
std::vector<std::string> ReadSentences(const std::filesystem::path& path);

// The random repeated sequences: [BOS] r r with r `half` tokens drawn
// uniformly from the model's ordinary tokens (printable ASCII for the byte
// tokenizer; every id below the vocabulary size except BOS otherwise).
std::vector<std::vector<int64_t>> RepeatedTokenPrompts(const LanguageModel& lm, int n, int half, bool bos,
                                                       uint64_t seed);

// Per-role scores (ScoreAllRoles order) of every head.
std::array<library::LayerHeadScores, library::kNumHeadRoles> ScoreRoles(const LanguageModel& lm,
                                                                        const CategorizeOptions& opt,
                                                                        const CategorizeProgress& progress = {},
                                                                        library::CategorizationMethod* method = nullptr);

// Every role: the attention roles from ScoreRoles, then AddWeightRoles.
library::HeadCategories Categorize(const LanguageModel& lm, const std::string& model_name,
                                   const CategorizeOptions& opt = {}, const CategorizeProgress& progress = {});

// Adds (or recomputes) the roles read from the weights to categories made
// from this model's attention roles: copying, copy suppression and successor
// (ComputeOvScores; a role that cannot be computed goes to c->unavailable
// with why) and the attention sink on random tokens (20 prompts of
// 2 * half_length random tokens). progress: OV heads done, of total.
void AddWeightRoles(const LanguageModel& lm, library::HeadCategories* c, const CategorizeOptions& opt = {},
                    const CategorizeProgress& progress = {});

// "fnv1a64:<16 hex digits>" over the weight files' bytes (model.safetensors,
// or the shards in name order): identifies the weights a file was made from.
std::string WeightsHash(const std::filesystem::path& model_dir);

// "<name>:<size>:<mtime ns>;..." of the same files: cheap, so a file whose
// signature matches is not hashed again.
std::string WeightsSignature(const std::filesystem::path& model_dir);

// Where headscope writes the files it derives from a model (categories, roles
// over training, plasticity CSVs): the model folder itself, except for a
// Hugging Face hub snapshot (.../models--ORG--NAME/snapshots/COMMIT), which
// is the hub client's, not the user's: then
//   HeadscopeCacheDir()/models--ORG--NAME/<16 hex digits>/
// keyed by the weights (the blob names the snapshot's .safetensors files link
// to: the files' sha256), config.json and the tokenizer files, so two
// revisions with the same files share it.
// Created when it is the cache folder.
std::filesystem::path DerivedDir(const std::filesystem::path& model_dir);

// The name head_categories.json records: ORG/NAME@<commit> for a hub
// snapshot, else the folder's name.
std::string ModelName(const std::filesystem::path& dir);

std::filesystem::path CategoriesPath(const std::filesystem::path& model_dir);  // DerivedDir/head_categories.json
std::filesystem::path FormationPath(const std::filesystem::path& model_dir);   // DerivedDir/role_formation.json

// --- roles over training -----------------------------------------------------

struct RoleFormation {
  std::vector<int> steps;  // ascending
  // [step][role] -> [n_layers][n_heads]
  std::vector<std::array<library::LayerHeadScores, library::kNumHeadRoles>> scores;
  // Losses at the same steps from training.json (NaN where unknown; empty
  // when the folder has no training.json): training loss (running mean) and
  // the loss on the second copy of a repeated span, which falls when
  // induction heads form.
  std::vector<double> train_loss, repeat_loss;
  int n_layers = 0, n_heads = 0;
  std::string weights_hash;  // of the final weights (the folder), as in head_categories.json

  // The best head's score for a role at step index i.
  double Best(int i, library::HeadRole role, int* layer = nullptr, int* head = nullptr) const;
};

// checkpoints/step_NNNNN/ folders of a model folder, ascending, one per step
// (empty when none).
std::vector<std::pair<int, std::filesystem::path>> ListCheckpoints(const std::filesystem::path& model_dir);

// Each checkpoint is an independent, resumable task (a cluster job array
// runs one per index): its scores go to FormationTaskPath, keyed by the
// checkpoint's WeightsSignature, and ComputeFormation reads the current ones
// instead of computing them again.
std::filesystem::path FormationTaskPath(const std::filesystem::path& model_dir, int step);  // DerivedDir/role_formation.d/step_NNNNN.json
// Checkpoint `index` (of ListCheckpoints): read when its task file is current,
// else computed and written (atomically). *computed says which.
std::array<library::LayerHeadScores, library::kNumHeadRoles> FormationTask(const std::filesystem::path& model_dir,
                                                                           int index, const CategorizeOptions& opt,
                                                                           bool* computed = nullptr);
RoleFormation ComputeFormation(const std::filesystem::path& model_dir, const CategorizeOptions& opt = {},
                               const CategorizeProgress& progress = {});
void WriteFormation(const std::filesystem::path& path, const RoleFormation& f);  // atomic
// io::IoError naming the file and the problem.
RoleFormation ReadFormation(const std::filesystem::path& path);

}  // namespace hs::lm

namespace hs::lm {

// The model's categories: CategoriesPath(dir) when it exists, is valid and
// was made from these weights (same WeightsHash); otherwise computed now and
// written there (if the folder is writable; *note says what happened, and
// *write_error, when given, names the file that could not be written and why).
// An invalid file is reported in *note and replaced.
library::HeadCategories LoadOrCategorize(const LanguageModel& lm, const std::filesystem::path& dir,
                                         const CategorizeProgress& progress = {}, std::string* note = nullptr,
                                         std::string* write_error = nullptr);

}  // namespace hs::lm
