#include "families/miscope_run.h"

#include <torch/torch.h>

#include <algorithm>
#include <map>
#include <memory>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "families/modadd_task.h"
#include "families/run_info.h"
#include "model/hooked_transformer.h"
#include "model/transformer_config.h"
#include "io/atomic_file.h"
#include "io/hash.h"
#include "io/hub_cache.h"
#include "io/mapped_safetensors.h"
#include "io/run_dir.h"
#include "io/safetensors.h"

namespace hs::families {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

json ReadJsonFile(const fs::path& path) {
  if (!fs::exists(path)) throw io::IoError(path.string() + ": missing (a MIScope variant folder has it)");
  try {
    return json::parse(io::ReadFile(path));
  } catch (const json::exception& e) {
    throw io::IoError(path.string() + ": not JSON (" + e.what() + ")");
  }
}

int IntField(const json& j, const char* key, const fs::path& file, int lo, int hi) {
  const auto it = j.find(key);
  if (it == j.end() || !it->is_number_integer())
    throw io::IoError(file.string() + ": \"" + key + "\" is missing or not an integer");
  const int64_t v = it->get<int64_t>();
  if (v < lo || v > hi)
    throw io::IoError(file.string() + ": \"" + key + "\" = " + std::to_string(v) + " is outside [" + std::to_string(lo) +
                      ", " + std::to_string(hi) + "]");
  return int(v);
}

std::vector<double> NumberList(const json& j, const char* key, const fs::path& file) {
  const auto it = j.find(key);
  if (it == j.end() || !it->is_array()) throw io::IoError(file.string() + ": \"" + key + "\" is missing or not a list");
  std::vector<double> out;
  out.reserve(it->size());
  for (size_t i = 0; i < it->size(); ++i) {
    const json& v = (*it)[i];
    if (!v.is_number())
      throw io::IoError(file.string() + ": \"" + key + "\"[" + std::to_string(i) + "] is not a number");
    out.push_back(v.get<double>());
  }
  return out;
}

std::vector<int64_t> IndexList(const json& j, const char* key, const fs::path& file, int64_t n) {
  const auto it = j.find(key);
  if (it == j.end() || !it->is_array()) throw io::IoError(file.string() + ": \"" + key + "\" is missing or not a list");
  std::vector<int64_t> out;
  out.reserve(it->size());
  for (size_t i = 0; i < it->size(); ++i) {
    const json& v = (*it)[i];
    if (!v.is_number_integer() || v.get<int64_t>() < 0 || v.get<int64_t>() >= n)
      throw io::IoError(file.string() + ": \"" + key + "\"[" + std::to_string(i) + "] is not an index in [0, " +
                        std::to_string(n) + ")");
    out.push_back(v.get<int64_t>());
  }
  return out;
}

fs::path MiscopeCheckpoint(const fs::path& dir, int epoch) {
  char name[64];
  std::snprintf(name, sizeof name, "checkpoint_epoch_%05d.safetensors", epoch);
  return dir / "checkpoints" / name;
}

void WriteIfChanged(const fs::path& path, const std::string& text) {
  std::error_code ec;
  if (fs::exists(path, ec)) {
    try {
      if (io::ReadFile(path) == text) return;
    } catch (const std::exception&) {
    }
  }
  io::WriteFileAtomic(path, text);
}

}  // namespace

bool IsMiscopeVariant(const fs::path& dir) {
  std::error_code ec;
  if (!fs::is_regular_file(dir / "config.json", ec) || !fs::is_regular_file(dir / "metadata.json", ec) ||
      !fs::is_directory(dir / "checkpoints", ec))
    return false;
  try {
    const json c = json::parse(io::ReadFile(dir / "config.json"));
    return c.is_object() && c.contains("prime") && !c.contains("model");  // headscope's config has "model"
  } catch (const std::exception&) {
    return true;  // it has MIScope's files; OpenMiscopeVariant says what is wrong with its config
  }
}

fs::path OpenMiscopeVariant(const fs::path& dir_in) {
  std::error_code ec;
  const fs::path dir = fs::weakly_canonical(fs::absolute(dir_in), ec);
  const fs::path cfg_path = dir / "config.json", meta_path = dir / "metadata.json";
  // config.json: the 1-layer modular-addition family's fields.
  const json c = ReadJsonFile(cfg_path);
  if (!c.is_object()) throw io::IoError(cfg_path.string() + ": not a JSON object");
  const int p = IntField(c, "prime", cfg_path, 3, 4096);
  json model = json::object();
  for (const char* k : {"n_layers", "n_heads", "d_model", "d_head", "d_mlp", "d_vocab", "d_vocab_out", "n_ctx"})
    model[k] = IntField(c, k, cfg_path, 1, 1 << 20);
  if (model["d_vocab"] != p + 1 || model["d_vocab_out"] != p || model["n_ctx"] != 3)
    throw io::IoError(cfg_path.string() + ": d_vocab " + model["d_vocab"].dump() + ", d_vocab_out " +
                      model["d_vocab_out"].dump() + ", n_ctx " + model["n_ctx"].dump() + " are not p + 1, p, 3 for prime " +
                      std::to_string(p) + ": only the modular-addition family (a, b, '=') is read");
  const auto act = c.find("act_fn");
  if (act == c.end() || !act->is_string()) throw io::IoError(cfg_path.string() + ": \"act_fn\" is missing or not a string");
  model["act_fn"] = *act;
  const auto norm = c.find("normalization_type");
  if (norm != c.end() && !norm->is_null())
    throw io::IoError(cfg_path.string() + ": normalization_type " + norm->dump() +
                      ": only MIScope's model without normalisation (null) is read");
  model["normalization_type"] = nullptr;
  const int model_seed = c.contains("model_seed") ? IntField(c, "model_seed", cfg_path, 0, INT32_MAX)
                                                  : IntField(c, "seed", cfg_path, 0, INT32_MAX);
  const int data_seed = IntField(c, "data_seed", cfg_path, 0, INT32_MAX);
  const auto frac_it = c.find("training_fraction");
  if (frac_it == c.end() || !frac_it->is_number() || !(frac_it->get<double>() > 0 && frac_it->get<double>() < 1))
    throw io::IoError(cfg_path.string() + ": \"training_fraction\" is missing or not in (0, 1)");
  const double frac = frac_it->get<double>();

  // metadata.json: losses per epoch, the split, the checkpoints.
  const json m = ReadJsonFile(meta_path);
  if (!m.is_object()) throw io::IoError(meta_path.string() + ": not a JSON object");
  const std::vector<double> train_losses = NumberList(m, "train_losses", meta_path);
  const std::vector<double> test_losses = NumberList(m, "test_losses", meta_path);
  if (train_losses.size() != test_losses.size())
    throw io::IoError(meta_path.string() + ": " + std::to_string(train_losses.size()) + " train_losses but " +
                      std::to_string(test_losses.size()) + " test_losses");
  const int num_epochs = IntField(m, "num_epochs", meta_path, 1, 1 << 30);
  if (train_losses.size() != size_t(num_epochs))
    throw io::IoError(meta_path.string() + ": " + std::to_string(train_losses.size()) +
                      " train_losses and test_losses but num_epochs is " + std::to_string(num_epochs) +
                      " (MIScope writes one of each per epoch)");
  const int64_t pairs = int64_t(p) * p;
  const std::vector<int64_t> train_idx = IndexList(m, "train_indices", meta_path, pairs);
  const std::vector<int64_t> test_idx = IndexList(m, "test_indices", meta_path, pairs);
  {
    std::set<int64_t> all(train_idx.begin(), train_idx.end());
    all.insert(test_idx.begin(), test_idx.end());
    if (int64_t(all.size()) != pairs || int64_t(train_idx.size() + test_idx.size()) != pairs)
      throw io::IoError(meta_path.string() + ": train_indices and test_indices do not split the " + std::to_string(pairs) +
                        " pairs (" + std::to_string(train_idx.size()) + " + " + std::to_string(test_idx.size()) +
                        " indices, " + std::to_string(all.size()) + " distinct)");
  }
  // headscope's analyses rebuild the split from data_seed (torch.randperm,
  // as MIScope draws it): it must be this one.
  {
    const ModAddData d = MakeModAddData(p, frac, data_seed);
    const torch::Tensor tr = d.train_idx.to(torch::kInt64).contiguous();
    bool same = tr.numel() == int64_t(train_idx.size());
    for (int64_t i = 0; same && i < tr.numel(); ++i) same = tr.data_ptr<int64_t>()[i] == train_idx[size_t(i)];
    if (!same)
      throw io::IoError(meta_path.string() + ": train_indices are not the split torch.randperm(" + std::to_string(pairs) +
                        ") gives for data_seed " + std::to_string(data_seed) + " and training_fraction " +
                        std::to_string(frac) + "; headscope reproduces only that split");
  }
  const auto ck_it = m.find("checkpoint_epochs");
  if (ck_it == m.end() || !ck_it->is_array() || ck_it->empty())
    throw io::IoError(meta_path.string() + ": \"checkpoint_epochs\" is missing, not a list, or empty");
  std::vector<int> epochs;
  for (size_t i = 0; i < ck_it->size(); ++i) {
    const json& e = (*ck_it)[i];
    if (!e.is_number_integer() || e.get<int64_t>() < 0 || e.get<int64_t>() >= num_epochs)
      throw io::IoError(meta_path.string() + ": checkpoint_epochs[" + std::to_string(i) + "] is not an epoch in [0, " +
                        std::to_string(num_epochs) + ")");
    epochs.push_back(e.get<int>());
  }
  std::sort(epochs.begin(), epochs.end());
  epochs.erase(std::unique(epochs.begin(), epochs.end()), epochs.end());
  for (int e : epochs)
    if (!fs::is_regular_file(MiscopeCheckpoint(dir, e), ec))
      throw io::IoError(meta_path.string() + ": lists checkpoint epoch " + std::to_string(e) + " but " +
                        MiscopeCheckpoint(dir, e).string() + " is missing");
  // ...and no checkpoint on disk that metadata.json does not list (MIScope
  // lists what it saved; an extra file means the two are from different runs).
  for (const auto& entry : fs::directory_iterator(dir / "checkpoints", ec)) {
    const std::string name = entry.path().filename().string();
    const std::string pre = "checkpoint_epoch_", suf = ".safetensors";
    if (name.size() <= pre.size() + suf.size() || name.rfind(pre, 0) != 0 ||
        name.compare(name.size() - suf.size(), suf.size(), suf) != 0)
      continue;
    const std::string num = name.substr(pre.size(), name.size() - pre.size() - suf.size());
    if (num.find_first_not_of("0123456789") != std::string::npos) continue;
    if (!std::binary_search(epochs.begin(), epochs.end(), std::stoi(num)))
      throw io::IoError(entry.path().string() + ": on disk but not in " + meta_path.string() +
                        "'s checkpoint_epochs (the two are not from the same training run)");
  }
  // Each checkpoint: TransformerLens names and shapes of this model, read
  // from the header (mapped, cheap). Tensors headscope's model does not have
  // are TransformerLens's attention buffers (mask, IGNORE) and the biases
  // MIScope freezes at zero (b_Q, b_K, b_V, b_O, b_U); those must be zero,
  // since the loader ignores them.
  {
    model::TransformerConfig tc;
    try {
      tc = model.get<model::TransformerConfig>();
      tc.Validate();
    } catch (const std::exception& e) {
      throw io::IoError(cfg_path.string() + ": not a model headscope can build (" + e.what() + ")");
    }
    const model::HookedTransformer probe(tc);
    std::map<std::string, std::vector<int64_t>> want;
    for (const auto& np : probe->named_parameters())
      want[np.key()] = std::vector<int64_t>(np.value().sizes().begin(), np.value().sizes().end());
    for (int e : epochs) {
      const fs::path ck = MiscopeCheckpoint(dir, e);
      std::unique_ptr<io::MappedSafetensors> f;
      try {
        f = std::make_unique<io::MappedSafetensors>(ck);
      } catch (const std::exception& ex) {
        throw io::IoError(ck.string() + ": not a safetensors file (" + ex.what() + ")");
      }
      for (const auto& [name, shape] : want) {
        const io::MappedTensor* t = f->Find(name);
        if (!t) throw io::IoError(ck.string() + ": no tensor '" + name + "'");
        if (t->shape != shape)
          throw io::IoError(ck.string() + ": '" + name + "' has shape " + io::ShapeString(t->shape) + " but " +
                            cfg_path.string() + " gives " + io::ShapeString(shape));
      }
      for (const auto& [name, t] : f->tensors()) {
        if (want.count(name)) continue;
        const auto ends = [&](const char* s) {
          const std::string x(s);
          return name.size() >= x.size() && name.compare(name.size() - x.size(), x.size(), x) == 0;
        };
        if (ends(".attn.mask") || ends(".attn.IGNORE")) continue;
        const bool bias = ends(".attn.b_Q") || ends(".attn.b_K") || ends(".attn.b_V") || ends(".attn.b_O") ||
                          name == "unembed.b_U";
        if (!bias) throw io::IoError(ck.string() + ": tensor '" + name + "' is not part of headscope's model");
        if (!t.IsFloat()) throw io::IoError(ck.string() + ": '" + name + "' is not a floating-point tensor");
        std::vector<float> v(size_t(t.numel()));
        f->ToFloat32(t, v.data(), v.size());
        for (float x : v)
          if (x != 0.0f)
            throw io::IoError(ck.string() + ": '" + name +
                              "' is not zero; headscope's model has no such bias (MIScope freezes it at zero)");
      }
    }
  }

  // The side folder: an ordinary headscope run.
  const std::string key = dir.string();
  char hex[20];
  std::snprintf(hex, sizeof hex, "%016llx", (unsigned long long)io::Fnv1a64(key.data(), key.size()));
  const std::string variant = dir.filename().string().empty() ? "variant" : dir.filename().string();
  const fs::path side = io::HeadscopeCacheDir() / "miscope" / hex / "modadd_1l" / variant;
  fs::create_directories(side / "checkpoints", ec);
  if (ec) throw io::IoError(side.string() + ": cannot create the side folder for " + dir.string() + " (" + ec.message() + ")");
  model["init_range"] = 1.0 / std::sqrt(double(model["d_model"].get<int>()));
  const json hc = {{"family", "modadd_1l"},
                   {"variant", variant},
                   {"p", p},
                   {"epochs", epochs.back()},
                   {"model", model},
                   {"model_seed", model_seed},
                   {"data_seed", data_seed},
                   {"train_frac", frac},
                   {"source", {{"layout", "miscope"}, {"dir", dir.string()}, {"num_epochs", num_epochs}}}};
  WriteIfChanged(side / "config.json", hc.dump(2) + "\n");
  // metrics.csv: MIScope's losses per epoch; the accuracies are not in its files.
  std::ostringstream csv;
  csv << "epoch,train_loss,test_loss,train_acc,test_acc,test_epoch\n";
  char row[160];
  for (size_t e = 0; e < train_losses.size(); ++e) {
    std::snprintf(row, sizeof row, "%zu,%.9g,%.9g,nan,nan,%zu\n", e, train_losses[e], test_losses[e], e);
    csv << row;
  }
  WriteIfChanged(side / "metrics.csv", csv.str());
  // Checkpoints: links to MIScope's files, under headscope's names.
  std::set<std::string> want;
  for (int e : epochs) {
    const fs::path link = io::RunPaths{side}.Checkpoint(e), target = MiscopeCheckpoint(dir, e);
    want.insert(link.filename().string());
    if (fs::is_symlink(link, ec) && fs::read_symlink(link, ec) == target) continue;
    // Made beside it and renamed over it: another process opening the same
    // variant at the same time never sees the link missing.
    const fs::path tmp = io::TempPathFor(link);
    fs::remove(tmp, ec);
    fs::create_symlink(target, tmp, ec);
    if (!ec) fs::rename(tmp, link, ec);
    if (ec) {
      fs::remove(tmp, ec);
      throw io::IoError(link.string() + ": cannot link to " + target.string() + " (" + ec.message() + ")");
    }
  }
  for (const auto& entry : fs::directory_iterator(side / "checkpoints", ec)) {
    const std::string name = entry.path().filename().string();
    // Links of checkpoints MIScope no longer lists (not another process's temporary).
    if (!want.count(name) && name.rfind(".", 0) != 0) fs::remove(entry.path(), ec);
  }
  return side;
}

void WriteMiscopeVariant(const RunInfo& run, const fs::path& out) {
  std::error_code ec;
  if (fs::exists(out, ec)) throw io::IoError(out.string() + ": exists; give a new folder");
  if (run.model.n_ctx != 3 || run.model.HasNorm())
    throw io::IoError(run.dir.string() + ": only a 1-layer-family run without normalisation maps to MIScope's layout");
  const std::vector<int> epochs = io::ListCheckpointEpochs(run.dir);
  if (epochs.empty()) throw io::IoError(run.dir.string() + ": no checkpoints");
  fs::create_directories(out / "checkpoints");
  for (int e : epochs) {
    io::SafetensorsFile f = io::ReadSafetensors(io::RunPaths{run.dir}.Checkpoint(e));
    const int64_t n = run.model.n_ctx;
    for (int l = 0; l < run.model.n_layers; ++l) {
      io::Array mask = io::Array::Zeros(io::DType::Bool, {n, n});
      for (int64_t i = 0; i < n; ++i)
        for (int64_t j = 0; j <= i; ++j) mask.mutable_data<uint8_t>()[i * n + j] = 1;
      const std::string b = "blocks." + std::to_string(l) + ".attn.";
      f.tensors[b + "mask"] = mask;
      f.tensors[b + "IGNORE"] = io::Array::F32({}, std::vector<float>{-100000.f});
    }
    io::WriteSafetensors(MiscopeCheckpoint(out, e), f);
  }
  const json& m = json(run.model);
  const int model_seed = run.config.value("model_seed", 999), data_seed = run.config.value("data_seed", 598);
  const double frac = run.config.value("train_frac", 0.3);
  const json c = {{"n_layers", m["n_layers"]}, {"n_heads", m["n_heads"]}, {"d_model", m["d_model"]},
                  {"d_head", m["d_head"]}, {"d_mlp", m["d_mlp"]}, {"act_fn", m["act_fn"]},
                  {"normalization_type", nullptr}, {"d_vocab", m["d_vocab"]}, {"d_vocab_out", m["d_vocab_out"]},
                  {"n_ctx", m["n_ctx"]}, {"seed", model_seed}, {"prime", run.p}, {"model_seed", model_seed},
                  {"data_seed", data_seed}, {"training_fraction", frac}};
  io::WriteFileAtomic(out / "config.json", c.dump(2) + "\n");
  std::vector<double> train, test;
  for (const auto& r : io::ReadMetricsCsv(io::RunPaths{run.dir}.Metrics()))
    if (r.epoch == int(train.size())) train.push_back(r.train_loss), test.push_back(r.test_loss);
  const ModAddData d = MakeModAddData(run.p, frac, data_seed);
  auto list = [](const torch::Tensor& t) {
    const torch::Tensor x = t.to(torch::kInt64).contiguous();
    return std::vector<int64_t>(x.data_ptr<int64_t>(), x.data_ptr<int64_t>() + x.numel());
  };
  const json meta = {{"train_losses", train}, {"test_losses", test}, {"train_indices", list(d.train_idx)},
                     {"test_indices", list(d.test_idx)}, {"checkpoint_epochs", epochs},
                     {"num_epochs", std::max(int(train.size()), epochs.back() + 1)}};
  io::WriteFileAtomic(out / "metadata.json", meta.dump() + "\n");
}

fs::path ResolveRunDir(const fs::path& dir) { return IsMiscopeVariant(dir) ? OpenMiscopeVariant(dir) : dir; }

}  // namespace hs::families
