// MIScope's runs opened as they are. MIScope (github.com/roaringsurfdev/miscope)
// writes a variant folder results/{family}/{variant}/ with
//   checkpoints/checkpoint_epoch_{epoch:05d}.safetensors  TransformerLens
//       state dicts (with the attention's `mask` and `IGNORE` buffers);
//   config.json    n_layers, n_heads, d_model, d_head, d_mlp, act_fn,
//       normalization_type, d_vocab, d_vocab_out, n_ctx, seed, the domain
//       parameters (prime, seed), model_seed, data_seed, training_fraction;
//   metadata.json  train_losses and test_losses (one per epoch),
//       train_indices, test_indices, checkpoint_epochs, num_epochs;
//   artifacts/     its own .npz (not needed here).
// headscope never writes into that tree. It keeps a side folder that is an
// ordinary headscope run: HeadscopeCacheDir()/miscope/<hash of the
// variant's absolute path>/modadd_1l/<variant>/ holding a config.json
// translated from MIScope's, metrics.csv from metadata.json's losses
// (accuracies unknown: nan), and checkpoints/epoch_NNNNN.safetensors as
// symbolic links to MIScope's files (the loader ignores the two buffers).
// Analyses, summary.json and the manifest then go to the side folder.
//
// Validated where read (errors name the file): config.json's fields and
// types; metadata.json's lists (one train and test loss per epoch of
// num_epochs, indices in [0, p*p) that split the pairs, checkpoint_epochs in
// [0, num_epochs)); every listed checkpoint present and no unlisted one; each
// checkpoint's header (headscope's TransformerLens names and shapes; beyond
// them only the attention's mask and IGNORE buffers and biases that are zero).
// LoadRunInfo on the MIScope folder itself refuses it, naming it as one.
//
// Epochs keep MIScope's labels: its checkpoint E holds the weights after
// E + 1 steps and test_losses[E] is measured on them, while train_losses[E]
// is measured before step E + 1 (one step earlier); metrics.csv row E gets
// both as they are (a one-step offset, negligible over thousands of epochs).
//
// Only MIScope's 1-layer modular-addition family (no normalisation, an
// operand pair and '=' as in Nanda et al.) is read; its train/test split
// must be the one torch.randperm(p * p) gives for data_seed (checked).
#pragma once

#include <filesystem>

namespace hs::families {

// True when `dir` looks like a MIScope variant folder (config.json with
// "prime", metadata.json, and a checkpoints/ folder of checkpoint_epoch_*).
bool IsMiscopeVariant(const std::filesystem::path& dir);

// The headscope run folder standing for MIScope variant `dir`: created or
// brought up to date (new checkpoints linked, config and metrics rewritten
// when MIScope's files changed). Every file is validated where it is read;
// throws io::IoError naming the file and what is wrong.
std::filesystem::path OpenMiscopeVariant(const std::filesystem::path& dir);

struct RunInfo;
// The other way: a headscope modular-addition run written as a MIScope
// variant folder `out` (checkpoints renamed, with the attention's mask and
// IGNORE buffers added as TransformerLens has them; config.json;
// metadata.json with the losses of metrics.csv for epochs 0..E and the
// split), for MIScope's users and for tests. Refuses an existing `out`.
void WriteMiscopeVariant(const RunInfo& run, const std::filesystem::path& out);

// `dir` itself, or its side folder when it is a MIScope variant (what
// `--run DIR`, `analyze DIR` and `shot --run DIR` open).
std::filesystem::path ResolveRunDir(const std::filesystem::path& dir);

}  // namespace hs::families
