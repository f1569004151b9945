// Interventions on a language model's forward (see interventions.h).
#include "lm/interventions.h"

#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <climits>
#include <cmath>
#include <cstring>
#include <map>
#include <stdexcept>

#include "io/atomic_file.h"
#include "io/npz.h"
#include "jobs/cancelled.h"
#include "lm/categorize.h"
#include "lm/intervention_hooks.h"
#include "model/mapped_model.h"

namespace hs::lm {
namespace fs = std::filesystem;
using model::MappedModel;

namespace {
double MsSince(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}
std::string HeadName(int l, int h) { return "L" + std::to_string(l) + "H" + std::to_string(h); }
std::string NeuronName(int l, int n) { return "L" + std::to_string(l) + "N" + std::to_string(n); }
}  // namespace

// [SECTION] mean activations
ActivationMeans ComputeMeans(const LanguageModel& lm, const std::vector<std::vector<int64_t>>& prompts,
                             const std::function<bool(int, int)>& progress) {
  const auto& c = lm.cfg();
  const int L = c.n_layers, H = c.n_heads, E = c.d_head, M = c.d_mlp;
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> zsum(L), psum(L);
  for (int l = 0; l < L; ++l) zsum[l] = torch::zeros({H, E}, torch::kFloat64), psum[l] = torch::zeros({M}, torch::kFloat64);
  ActivationMeans out;
  out.n_layers = L, out.n_heads = H, out.d_head = E, out.d_mlp = M;
  for (size_t i = 0; i < prompts.size(); ++i) {
    if (progress && !progress(int(i), int(prompts.size()))) throw jobs::Cancelled();
    MappedModel::RunSpec spec;
    spec.keep_queries = false;
    spec.hook_z = [&](int l, torch::Tensor& z) { zsum[l] += z.to(torch::kFloat64).sum(1); };
    spec.hook_post = [&](int l, torch::Tensor& post) { psum[l] += post.to(torch::kFloat64).sum(0); };
    torch::Tensor logits;
    spec.logit_rows = 0;
    lm.Mapped().Run(prompts[i], spec, nullptr, &logits);
    out.tokens += int64_t(prompts[i].size());
  }
  if (out.tokens == 0) throw std::invalid_argument("no prompts to average over");
  out.prompts = int(prompts.size());
  out.z.resize(size_t(L) * H * E), out.post.resize(size_t(L) * M);
  for (int l = 0; l < L; ++l) {
    const torch::Tensor z = (zsum[l] / double(out.tokens)).to(torch::kFloat).contiguous();
    const torch::Tensor p = (psum[l] / double(out.tokens)).to(torch::kFloat).contiguous();
    std::memcpy(out.z.data() + size_t(l) * H * E, z.data_ptr<float>(), size_t(H) * E * sizeof(float));
    std::memcpy(out.post.data() + size_t(l) * M, p.data_ptr<float>(), size_t(M) * sizeof(float));
  }
  if (progress) progress(int(prompts.size()), int(prompts.size()));
  return out;
}

fs::path MeansPath(const fs::path& model_dir) { return DerivedDir(model_dir) / "activation_means.npz"; }

namespace {
io::Array TextArray(const std::string& s) {
  io::Array a = io::Array::Zeros(io::DType::U8, {int64_t(s.size())});
  if (!s.empty()) std::memcpy(a.mutable_data<uint8_t>(), s.data(), s.size());
  return a;
}
std::string ArrayText(const io::Array& a) {
  return std::string(reinterpret_cast<const char*>(a.data<uint8_t>()), size_t(a.numel()));
}
}  // namespace

void WriteMeans(const fs::path& path, const ActivationMeans& m) {
  io::NpzArchive a;
  a["z"] = io::Array::F32({m.n_layers, m.n_heads, m.d_head}, m.z);
  a["post"] = io::Array::F32({m.n_layers, m.d_mlp}, m.post);
  a["tokens"] = io::Array::I64({}, {m.tokens});
  a["prompts"] = io::Array::I64({}, {int64_t(m.prompts)});
  a["prompts_label"] = TextArray(m.prompts_label);
  a["weights_hash"] = TextArray(m.weights_hash);
  a["weights_signature"] = TextArray(m.weights_signature);
  io::WriteNpz(path, a);
}

ActivationMeans ReadMeans(const fs::path& path, const model::TransformerConfig& c) {
  const io::NpzArchive a = io::ReadNpz(path);
  const std::string where = path.string() + ": ";
  auto member = [&](const std::string& key, io::DType dtype, const std::vector<int64_t>& shape,
                    bool any_length = false) -> const io::Array& {
    auto it = a.find(key);
    if (it == a.end()) throw io::IoError(where + "no member '" + key + "' (not a headscope activation_means.npz)");
    const io::Array& x = it->second;
    if (x.dtype != dtype || (any_length ? x.shape.size() != 1 : x.shape != shape))
      throw io::IoError(where + "'" + key + "' has shape " + io::ShapeString(x.shape) + ", expected " +
                        (any_length ? std::string("a 1-d byte string") : io::ShapeString(shape)) +
                        (dtype == io::DType::F32 ? " float32" : dtype == io::DType::I64 ? " int64" : " uint8") +
                        " for this model");
    return x;
  };
  ActivationMeans m;
  m.n_layers = c.n_layers, m.n_heads = c.n_heads, m.d_head = c.d_head, m.d_mlp = c.d_mlp;
  m.z = member("z", io::DType::F32, {c.n_layers, c.n_heads, c.d_head}).ToFloat();
  m.post = member("post", io::DType::F32, {c.n_layers, c.d_mlp}).ToFloat();
  m.tokens = member("tokens", io::DType::I64, {}).data<int64_t>()[0];
  m.prompts = int(member("prompts", io::DType::I64, {}).data<int64_t>()[0]);
  m.prompts_label = ArrayText(member("prompts_label", io::DType::U8, {}, true));
  m.weights_hash = ArrayText(member("weights_hash", io::DType::U8, {}, true));
  m.weights_signature = ArrayText(member("weights_signature", io::DType::U8, {}, true));
  for (float v : m.z)
    if (!std::isfinite(v)) throw io::IoError(where + "'z' holds a value that is not finite");
  for (float v : m.post)
    if (!std::isfinite(v)) throw io::IoError(where + "'post' holds a value that is not finite");
  if (m.tokens <= 0 || m.prompts <= 0) throw io::IoError(where + "averaged over no tokens");
  return m;
}

std::shared_ptr<const ActivationMeans> LoadOrComputeMeans(const LanguageModel& lm, const fs::path& dir,
                                                          std::string* note,
                                                          const std::function<bool(int, int)>& progress) {
  const fs::path path = MeansPath(dir);
  const std::string signature = WeightsSignature(dir);
  std::string hash, why;
  std::error_code ec;
  if (fs::exists(path, ec)) {
    try {
      ActivationMeans m = ReadMeans(path, lm.cfg());
      // Same files (names, sizes, times): current without hashing them.
      if (!m.weights_signature.empty() && m.weights_signature == signature)
        return std::make_shared<const ActivationMeans>(std::move(m));
      hash = WeightsHash(dir);
      if (m.weights_hash == hash) return std::make_shared<const ActivationMeans>(std::move(m));
      why = path.string() + " was made from other weights; ";
    } catch (const std::exception& e) {
      why = std::string(e.what()) + "; ";
    }
  }
  CategorizeOptions opt;
  std::string label;
  const auto prompts = NaturalPrompts(lm, opt, &label);
  auto m = std::make_shared<ActivationMeans>(ComputeMeans(lm, prompts, progress));
  m->prompts_label = label;
  m->weights_hash = hash.empty() ? WeightsHash(dir) : hash;
  m->weights_signature = signature;
  try {
    WriteMeans(path, *m);
    why += "computed the mean activations and wrote " + path.string();
  } catch (const std::exception& e) {
    why += "computed the mean activations (not saved: " + std::string(e.what()) + ")";
  }
  if (note) *note = why;
  return m;
}

// [SECTION] interventions
const char* ModeName(AblationMode mode) {
  switch (mode) {
    case AblationMode::kZero: return "zero";
    case AblationMode::kMean: return "mean";
    case AblationMode::kResample: return "resample";
  }
  return "?";
}

int Intervention::FirstLayer() const {
  int first = INT_MAX;
  for (const auto& [l, h] : heads) first = std::min(first, l);
  for (const auto& [l, n] : neurons) first = std::min(first, l);
  return first;
}

void CheckIntervention(const Intervention& iv, const model::TransformerConfig& c, size_t T) {
  const std::string shape = " (the model has " + std::to_string(c.n_layers) + " layers x " +
                            std::to_string(c.n_heads) + " heads, " + std::to_string(c.d_mlp) + " neurons a layer)";
  for (const auto& [l, h] : iv.heads)
    if (l < 0 || l >= c.n_layers || h < 0 || h >= c.n_heads)
      throw std::invalid_argument("no head " + HeadName(l, h) + " in this model" + shape);
  for (const auto& [l, n] : iv.neurons)
    if (l < 0 || l >= c.n_layers || n < 0 || n >= c.d_mlp)
      throw std::invalid_argument("no neuron " + NeuronName(l, n) + " in this model" + shape);
  for (int p : iv.positions)
    if (p < 0 || size_t(p) >= T)
      throw std::invalid_argument("position " + std::to_string(p) + " outside the " + std::to_string(T) +
                                  "-token prompt");
  if (iv.mode == AblationMode::kMean) {
    if (!iv.means) throw std::invalid_argument("mean ablation needs the model's mean activations");
    if (iv.means->n_layers != c.n_layers || iv.means->n_heads != c.n_heads || iv.means->d_head != c.d_head ||
        iv.means->d_mlp != c.d_mlp)
      throw std::invalid_argument("the mean activations are of another model shape");
  }
  if (iv.mode == AblationMode::kResample && iv.source.size() < T)
    throw std::invalid_argument("resampling needs a second prompt of at least " + std::to_string(T) +
                                " tokens (it has " + std::to_string(iv.source.size()) + ")");
}

std::string Describe(const Intervention& iv) {
  std::string s;
  for (const auto& [l, h] : iv.heads) s += (s.empty() ? "" : ", ") + HeadName(l, h);
  for (const auto& [l, n] : iv.neurons) s += (s.empty() ? "" : ", ") + NeuronName(l, n);
  return s + " (" + ModeName(iv.mode) + ")";
}

namespace detail {

std::vector<double> LossesFromLogits(const torch::Tensor& logits, const std::vector<int64_t>& tokens, int64_t row0) {
  torch::NoGradGuard no_grad;
  const torch::Tensor logp = torch::log_softmax(logits.to(torch::kFloat64), -1);
  std::vector<double> out;
  const auto acc = logp.accessor<double, 2>();
  for (int64_t r = 0; r < logp.size(0) && size_t(row0 + r + 1) < tokens.size(); ++r)
    out.push_back(-acc[r][tokens[size_t(row0 + r + 1)]]);
  return out;
}

void SetInterventionHooks(const LanguageModel& lm, const Intervention& iv, size_t T, MappedModel::RunSpec* spec) {
  const auto& c = lm.cfg();
  CheckIntervention(iv, c, T);
  if (iv.empty()) return;
  // Per layer: the heads and neurons to replace.
  auto heads = std::make_shared<std::map<int, std::vector<int64_t>>>();
  auto neurons = std::make_shared<std::map<int, std::vector<int64_t>>>();
  for (const auto& [l, h] : iv.heads) (*heads)[l].push_back(h);
  for (const auto& [l, n] : iv.neurons) (*neurons)[l].push_back(n);
  // The replacement values: [H, T or 1, E] and [T or 1, M] per layer.
  auto zval = std::make_shared<std::map<int, torch::Tensor>>();
  auto pval = std::make_shared<std::map<int, torch::Tensor>>();
  torch::NoGradGuard no_grad;
  if (iv.mode == AblationMode::kMean) {
    for (auto& [l, hs] : *heads)
      (*zval)[l] = torch::from_blob(const_cast<float*>(iv.means->z.data()) + size_t(l) * c.n_heads * c.d_head,
                                    {c.n_heads, 1, c.d_head}, torch::kFloat).clone();
    for (auto& [l, ns] : *neurons)
      (*pval)[l] = torch::from_blob(const_cast<float*>(iv.means->post.data()) + size_t(l) * c.d_mlp, {1, c.d_mlp},
                                    torch::kFloat).clone();
  } else if (iv.mode == AblationMode::kResample) {
    int last = 0;
    for (auto& [l, hs] : *heads) last = std::max(last, l);
    for (auto& [l, ns] : *neurons) last = std::max(last, l);
    MappedModel::RunSpec src;
    src.keep_queries = false;
    src.last_layer = std::min(last + 1, c.n_layers - 1);  // a layer's z and post are computed when the next one is asked
    if (last == c.n_layers - 1) src.last_layer = -1;
    src.hook_z = [&](int l, torch::Tensor& z) {
      if (heads->count(l)) (*zval)[l] = z.clone();
    };
    src.hook_post = [&](int l, torch::Tensor& post) {
      if (neurons->count(l)) (*pval)[l] = post.clone();
    };
    const std::vector<int64_t> source(iv.source.begin(), iv.source.begin() + int64_t(T));
    torch::Tensor logits;
    src.logit_rows = 0;
    lm.Mapped().Run(source, src, nullptr, &logits);
  }
  const auto positions = std::make_shared<std::vector<int64_t>>(iv.positions.begin(), iv.positions.end());
  const AblationMode mode = iv.mode;
  spec->hook_z = [heads, zval, positions, mode](int l, torch::Tensor& z) {  // [H, n, E]
    auto it = heads->find(l);
    if (it == heads->end()) return;
    for (int64_t h : it->second) {
      torch::Tensor zh = z[h];  // [n, E]
      if (positions->empty()) {
        if (mode == AblationMode::kZero)
          zh.zero_();
        else
          zh.copy_(zval->at(l)[h].expand_as(zh));
      } else {
        for (int64_t p : *positions) {
          if (mode == AblationMode::kZero)
            zh[p].zero_();
          else
            zh[p].copy_(zval->at(l)[h][zval->at(l).size(1) == 1 ? 0 : p]);
        }
      }
    }
  };
  if (neurons->empty()) return;
  spec->hook_post = [neurons, pval, positions, mode](int l, torch::Tensor& post) {  // [n, M]
    auto it = neurons->find(l);
    if (it == neurons->end()) return;
    const torch::Tensor idx = torch::tensor(it->second, torch::kLong);
    torch::Tensor rows = positions->empty() ? torch::arange(post.size(0), torch::kLong)
                                            : torch::tensor(*positions, torch::kLong);
    for (int64_t k = 0; k < idx.size(0); ++k) {
      const int64_t n = idx[k].item<int64_t>();
      torch::Tensor col = post.select(1, n);
      if (mode == AblationMode::kZero) {
        col.index_fill_(0, rows, 0.0);
      } else {
        const torch::Tensor src = pval->at(l).select(1, n);  // [T or 1]
        col.index_copy_(0, rows, src.size(0) == 1 ? src.expand({rows.size(0)}).contiguous() : src.index_select(0, rows));
      }
    }
  };
}

}  // namespace detail

std::vector<double> TokenLosses(const LanguageModel& lm, const std::vector<int64_t>& tokens, const Intervention& iv) {
  MappedModel::RunSpec spec;
  spec.keep_queries = false;
  detail::SetInterventionHooks(lm, iv, tokens.size(), &spec);
  torch::Tensor logits;
  lm.Mapped().Run(tokens, spec, nullptr, &logits);
  return detail::LossesFromLogits(logits, tokens);
}

// [SECTION] clean run
struct CleanRun::Impl {
  const LanguageModel* lm = nullptr;
  std::vector<int64_t> tokens;
  std::vector<double> losses;
  std::vector<torch::Tensor> resid;  // resid_pre per layer; undefined for the layers not kept

  // The forward with `iv` from the last kept layer at or before its first one.
  torch::Tensor Run(const Intervention& iv, int64_t logit_rows) const {
    MappedModel::RunSpec spec;
    spec.keep_queries = false;
    spec.logit_rows = logit_rows;
    detail::SetInterventionHooks(*lm, iv, tokens.size(), &spec);
    int start = std::min<int>(iv.FirstLayer(), int(resid.size()) - 1);
    while (start > 0 && !resid[size_t(start)].defined()) --start;
    if (start > 0) spec.start_layer = start, spec.start_resid = resid[size_t(start)];
    torch::Tensor logits;
    lm->Mapped().Run(tokens, spec, nullptr, &logits);
    return logits;
  }
};

CleanRun::CleanRun(const LanguageModel& lm, std::vector<int64_t> tokens) : m(std::make_unique<Impl>()) {
  const auto& c = lm.cfg();
  m->lm = &lm;
  m->tokens = std::move(tokens);
  // The residual stream entering each layer: all of them when they take at
  // most a quarter of the memory available, else every k-th.
  const int64_t per_layer = int64_t(m->tokens.size()) * c.d_model * 4;
  const int64_t budget = model::AvailableMemoryBytes() / 4;
  const int stride = int(std::max<int64_t>(1, (per_layer * c.n_layers + budget - 1) / std::max<int64_t>(budget, 1)));
  m->resid.assign(size_t(c.n_layers), torch::Tensor());
  MappedModel::RunSpec spec;
  spec.keep_queries = false;
  spec.hook_resid_pre = [&](int l, torch::Tensor& r) {
    if (l % stride == 0) m->resid[size_t(l)] = r;  // never changed in place after this
  };
  torch::Tensor logits;
  lm.Mapped().Run(m->tokens, spec, nullptr, &logits);
  m->losses = detail::LossesFromLogits(logits, m->tokens);
}
CleanRun::~CleanRun() = default;
CleanRun::CleanRun(CleanRun&&) noexcept = default;
const std::vector<int64_t>& CleanRun::tokens() const { return m->tokens; }
const std::vector<double>& CleanRun::losses() const { return m->losses; }

std::vector<double> CleanRun::Losses(const Intervention& iv) const {
  if (iv.empty()) return m->losses;
  return detail::LossesFromLogits(m->Run(iv, -1), m->tokens);
}

std::vector<float> CleanRun::LastLogits(const Intervention& iv) const {
  const torch::Tensor l = m->Run(iv, 1).contiguous();
  return std::vector<float>(l.data_ptr<float>(), l.data_ptr<float>() + l.numel());
}

// [SECTION] attribution patching
double HeadAttribution::Total(size_t mask, int layer, int head) const {
  double s = 0;
  const float* e = effect[mask].data() + (size_t(layer) * n_heads + head) * size_t(T);
  for (int p = 0; p < T; ++p) s += e[p];
  return s;
}

HeadAttribution AttributeHeads(const LanguageModel& lm, const std::vector<int64_t>& tokens, AblationMode mode,
                               const std::shared_ptr<const ActivationMeans>& means,
                               std::vector<std::vector<char>> loss_masks) {
  const auto& c = lm.cfg();
  const int64_t T = int64_t(tokens.size());
  if (T < 2) throw std::invalid_argument("a loss needs two tokens or more");
  if (mode == AblationMode::kResample) throw std::invalid_argument("attribution estimates zero or mean ablation");
  if (mode == AblationMode::kMean && !means) throw std::invalid_argument("mean ablation needs the model's mean activations");
  if (loss_masks.empty()) loss_masks.emplace_back(size_t(T - 1), char(1));
  for (const auto& mk : loss_masks)
    if (int64_t(mk.size()) != T - 1) throw std::invalid_argument("a loss mask needs one flag per predicted token");
  HeadAttribution out;
  out.n_layers = c.n_layers, out.n_heads = c.n_heads, out.T = int(T), out.mode = mode;
  torch::AutoGradMode grad(true);
  std::vector<torch::Tensor> zs(size_t(c.n_layers));
  MappedModel::RunSpec spec;
  spec.keep_queries = false;
  spec.track_grad = true;
  spec.hook_z = [&](int l, torch::Tensor& z) { zs[size_t(l)] = z; };
  torch::Tensor logits;
  auto t0 = std::chrono::steady_clock::now();
  lm.Mapped().Run(tokens, spec, nullptr, &logits);
  const torch::Tensor targets = torch::tensor(std::vector<int64_t>(tokens.begin() + 1, tokens.end()), torch::kLong);
  const torch::Tensor nll =
      -torch::log_softmax(logits.narrow(0, 0, T - 1).to(torch::kFloat64), -1).gather(1, targets.unsqueeze(1)).squeeze(1);
  {
    const torch::Tensor l = nll.detach().contiguous();
    out.loss_clean.assign(l.data_ptr<double>(), l.data_ptr<double>() + l.numel());
  }
  out.forward_ms = MsSince(t0);
  t0 = std::chrono::steady_clock::now();
  // z_ablated - z per layer, [H, T, E].
  std::vector<torch::Tensor> delta(size_t(c.n_layers));
  {
    torch::NoGradGuard no_grad;
    for (int l = 0; l < c.n_layers; ++l) {
      const torch::Tensor z = zs[size_t(l)].detach();
      if (mode == AblationMode::kZero) {
        delta[size_t(l)] = -z;
      } else {
        const torch::Tensor mu = torch::from_blob(const_cast<float*>(means->z.data()) + size_t(l) * c.n_heads * c.d_head,
                                                  {c.n_heads, 1, c.d_head}, torch::kFloat);
        delta[size_t(l)] = mu - z;
      }
    }
  }
  for (size_t k = 0; k < loss_masks.size(); ++k) {
    std::vector<double> w(loss_masks[k].begin(), loss_masks[k].end());
    const torch::Tensor loss = (nll * torch::tensor(w, torch::kFloat64)).sum();
    const auto grads = torch::autograd::grad({loss}, zs, {}, /*retain_graph=*/k + 1 < loss_masks.size(),
                                             /*create_graph=*/false, /*allow_unused=*/true);
    std::vector<float> e(size_t(c.n_layers) * c.n_heads * T, 0.f);
    torch::NoGradGuard no_grad;
    for (int l = 0; l < c.n_layers; ++l) {
      if (!grads[size_t(l)].defined()) continue;  // no path to the loss
      const torch::Tensor a = (grads[size_t(l)] * delta[size_t(l)]).sum(-1).to(torch::kFloat).contiguous();  // [H, T]
      std::memcpy(e.data() + size_t(l) * c.n_heads * T, a.data_ptr<float>(), size_t(a.numel()) * sizeof(float));
    }
    out.effect.push_back(std::move(e));
  }
  out.backward_ms = MsSince(t0);
  return out;
}

// [SECTION] activation patching
PatchResult PatchActivations(const LanguageModel& lm, const std::vector<int64_t>& clean,
                             const std::vector<int64_t>& corrupt, int64_t answer, int64_t wrong,
                             const std::function<bool(int, int)>& progress) {
  const auto& c = lm.cfg();
  const auto t0 = std::chrono::steady_clock::now();
  if (clean.size() != corrupt.size())
    throw std::invalid_argument("the clean prompt has " + std::to_string(clean.size()) + " tokens and the corrupt one " +
                                std::to_string(corrupt.size()) + "; patching needs the same number");
  if (answer == wrong) throw std::invalid_argument("the answer and the wrong token are the same token");
  for (int64_t t : {answer, wrong})
    if (t < 0 || t >= c.d_vocab_out)
      throw std::invalid_argument("token id " + std::to_string(t) + " outside the vocabulary [0, " +
                                  std::to_string(c.d_vocab_out) + ")");
  const int L = c.n_layers, H = c.n_heads;
  const int64_t T = int64_t(clean.size());
  PatchResult out;
  out.clean = clean, out.corrupt = corrupt, out.answer = answer, out.wrong = wrong;
  out.n_layers = L, out.n_heads = H, out.T = int(T);
  torch::NoGradGuard no_grad;
  auto logit_diff = [&](const torch::Tensor& logits) {
    const torch::Tensor row = logits[logits.size(0) - 1];
    return row[answer].item<double>() - row[wrong].item<double>();
  };
  // The clean run's z and resid_pre, the corrupt run's resid_pre.
  std::vector<torch::Tensor> clean_z(static_cast<size_t>(L)), clean_resid(clean_z.size()), corrupt_resid(clean_z.size());
  {
    MappedModel::RunSpec spec;
    spec.keep_queries = false;
    spec.logit_rows = 1;
    spec.hook_z = [&](int l, torch::Tensor& z) { clean_z[size_t(l)] = z.clone(); };
    spec.hook_resid_pre = [&](int l, torch::Tensor& r) { clean_resid[size_t(l)] = r; };
    torch::Tensor logits;
    lm.Mapped().Run(clean, spec, nullptr, &logits);
    out.ld_clean = logit_diff(logits);
  }
  {
    MappedModel::RunSpec spec;
    spec.keep_queries = false;
    spec.logit_rows = 1;
    spec.hook_resid_pre = [&](int l, torch::Tensor& r) { corrupt_resid[size_t(l)] = r; };
    torch::Tensor logits;
    lm.Mapped().Run(corrupt, spec, nullptr, &logits);
    out.ld_corrupt = logit_diff(logits);
  }
  const double span = out.ld_clean - out.ld_corrupt;
  if (!(std::abs(span) > 1e-6))
    throw std::invalid_argument("the clean and corrupt prompts give the same logit difference (" +
                                std::to_string(out.ld_clean) + "): there is nothing to restore");
  out.z.assign(size_t(L) * H * T, 0.f);
  out.resid.assign(size_t(L) * T, 0.f);
  const int total = int(L * (H + 1) * T);
  int done = 0;
  auto run_from = [&](int l, const torch::Tensor& resid, const std::function<void(int, torch::Tensor&)>& hook_z) {
    MappedModel::RunSpec spec;
    spec.keep_queries = false;
    spec.logit_rows = 1;
    spec.hook_z = hook_z;
    if (l > 0) spec.start_layer = l, spec.start_resid = resid;
    torch::Tensor logits;
    lm.Mapped().Run(corrupt, spec, nullptr, &logits);
    return (logit_diff(logits) - out.ld_corrupt) / span;
  };
  for (int l = 0; l < L; ++l) {
    for (int64_t p = 0; p < T; ++p) {
      if (progress && !progress(done, total)) throw jobs::Cancelled();
      // resid_pre of layer l at position p from the clean run.
      {
        MappedModel::RunSpec spec;
        spec.keep_queries = false;
        spec.logit_rows = 1;
        const torch::Tensor r = corrupt_resid[size_t(l)].clone();
        r[p].copy_(clean_resid[size_t(l)][p]);
        spec.start_layer = l, spec.start_resid = r;
        if (l == 0) {
          // Layer 0 starts from the embeddings: patch them there instead.
          spec.start_layer = 0, spec.start_resid = torch::Tensor();
          spec.hook_resid_pre = [&](int layer, torch::Tensor& x) {
            if (layer == 0) x[p].copy_(clean_resid[0][p]);
          };
        }
        torch::Tensor logits;
        lm.Mapped().Run(corrupt, spec, nullptr, &logits);
        out.resid[size_t(l) * T + p] = float((logit_diff(logits) - out.ld_corrupt) / span);
        ++done;
      }
      for (int h = 0; h < H; ++h) {
        out.z[(size_t(l) * H + h) * T + p] = float(run_from(l, corrupt_resid[size_t(l)], [&](int layer, torch::Tensor& z) {
          if (layer == l) z[h][p].copy_(clean_z[size_t(l)][h][p]);
        }));
        ++done;
      }
    }
  }
  if (progress) progress(total, total);
  out.ms = MsSince(t0);
  return out;
}

}  // namespace hs::lm
