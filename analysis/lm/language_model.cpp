// LanguageModel (see language_model.h).
#include "lm/language_model.h"

#include <cstring>
#include <mutex>
#include <stdexcept>

#include "model/hooked_transformer.h"
#include "model/tensor_io.h"

#ifndef HS_SOURCE_DIR
#define HS_SOURCE_DIR "."
#endif

namespace hs::lm {

struct LanguageModel::Impl {
  model::LoadedModel loaded;
  std::unique_ptr<tok::Tokenizer> tokenizer;
  mutable std::mutex mu;  // one forward at a time per model
};

LanguageModel::LanguageModel() : m(std::make_unique<Impl>()) {}
LanguageModel::~LanguageModel() = default;

std::unique_ptr<LanguageModel> LanguageModel::Open(const std::filesystem::path& dir) {
  std::unique_ptr<LanguageModel> lm(new LanguageModel());
  lm->m->tokenizer = tok::LoadTokenizer(dir);
  lm->m->loaded = model::LoadHFModel(dir);
  return lm;
}

const model::HFModelInfo& LanguageModel::info() const { return m->loaded.info; }
const model::TransformerConfig& LanguageModel::cfg() const { return m->loaded.cfg; }
const tok::Tokenizer& LanguageModel::tokenizer() const { return *m->tokenizer; }

bool LanguageModel::DefaultBos() const {
  const std::string& type = m->loaded.info.model_type;
  return m->tokenizer->BosId().has_value() && type != "qwen2" && type != "qwen3";
}

std::vector<int64_t> LanguageModel::Encode(const std::string& text, bool bos) const {
  tok::EncodeOptions opt;
  opt.add_bos = bos;
  return tok::EncodeText(*m->tokenizer, text, opt);
}

namespace {
void CheckTokens(const model::TransformerConfig& c, const std::vector<int64_t>& tokens) {
  if (tokens.empty()) throw std::invalid_argument("no tokens");
  if (int64_t(tokens.size()) > c.n_ctx)
    throw std::invalid_argument(std::to_string(tokens.size()) + " tokens, but the model has only " +
                                std::to_string(c.n_ctx) + " positions");
  for (int64_t t : tokens)
    if (t < 0 || t >= c.d_vocab)
      throw std::invalid_argument("token id " + std::to_string(t) + " outside the vocabulary [0, " +
                                  std::to_string(c.d_vocab) + ")");
}
bool EndsWith(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}
// A cached [1, ...] activation as a float32 io::Array without the batch axis.
io::Array Unbatched(const torch::Tensor& t) {
  const torch::Tensor x = t[0].to(torch::kFloat).contiguous();
  std::vector<int64_t> shape(x.sizes().begin(), x.sizes().end());
  io::Array out = io::Array::Zeros(io::DType::F32, shape);
  std::memcpy(out.mutable_data<float>(), x.data_ptr<float>(), size_t(x.numel()) * sizeof(float));
  return out;
}
}  // namespace

void LanguageModel::QueriesKeys(const std::vector<int64_t>& tokens, std::vector<io::Array>* q,
                                std::vector<io::Array>* k) const {
  const auto& c = m->loaded.cfg;
  CheckTokens(c, tokens);
  std::lock_guard<std::mutex> lock(m->mu);
  torch::NoGradGuard no_grad;
  const torch::Tensor ids = torch::tensor(tokens, torch::kLong).view({1, int64_t(tokens.size())});
  model::ActivationCache cache;
  cache.SetFilter([](const std::string& n) { return EndsWith(n, "attn.hook_q") || EndsWith(n, "attn.hook_k"); });
  m->loaded.model->forward_with_cache(ids, cache, model::ActName("k", c.n_layers - 1));
  q->clear(), k->clear();
  for (int l = 0; l < c.n_layers; ++l) {
    q->push_back(Unbatched(cache("q", l)));  // [T, n_heads, d_head]
    k->push_back(Unbatched(cache("k", l)));  // [T, n_kv_heads, d_head]
  }
}

io::Array LanguageModel::Patterns(const std::vector<int64_t>& tokens) const {
  const auto& c = m->loaded.cfg;
  CheckTokens(c, tokens);
  std::lock_guard<std::mutex> lock(m->mu);
  torch::NoGradGuard no_grad;
  const int64_t T = int64_t(tokens.size());
  const torch::Tensor ids = torch::tensor(tokens, torch::kLong).view({1, T});
  model::ActivationCache cache;
  // Patterns only: a long prompt on a big model holds nothing else.
  cache.SetFilter([](const std::string& name) { return EndsWith(name, "hook_pattern"); });
  const std::string last = model::ActName("pattern", c.n_layers - 1);
  m->loaded.model->forward_with_cache(ids, cache, last);
// One copy into the result, layer by layer ([L, H, T, T] float32): with
  // the cache holding only patterns, the peak is two copies of them.
  const int64_t H = c.n_heads, per_layer = H * T * T;
  io::Array out = io::Array::Zeros(io::DType::F32, {c.n_layers, H, T, T});
  float* dst = out.mutable_data<float>();
  for (int l = 0; l < c.n_layers; ++l) {
    const torch::Tensor p = cache("pattern", l)[0].to(torch::kFloat).contiguous();  // [H, T, T]
    std::memcpy(dst + l * per_layer, p.data_ptr<float>(), size_t(per_layer) * sizeof(float));
  }
  return out;
}

std::filesystem::path DemoLmDir() {
  namespace fs = std::filesystem;
  std::error_code ec;
  for (const fs::path& p : {fs::path("assets/demo_lm"), fs::path(HS_SOURCE_DIR) / "assets/demo_lm"})
    if (fs::exists(p / "config.json", ec)) return p;
  return {};
}

}  // namespace hs::lm
