// LanguageModel (see language_model.h).
#include "lm/language_model.h"

#include <atomic>
#include <cstring>
#include <mutex>
#include <stdexcept>

#include "lm/intervention_hooks.h"
#include "model/mapped_model.h"

#ifndef HS_SOURCE_DIR
#define HS_SOURCE_DIR "."
#endif

namespace hs::lm {

class PromptCache {
 public:
  std::mutex mu;
  model::MappedModel::PrefixCache prefix;
  uint64_t model = 0;  // whose keys these are (LanguageModel::Impl::id)
};

std::shared_ptr<PromptCache> NewPromptCache() { return std::make_shared<PromptCache>(); }

struct LanguageModel::Impl {
  static inline std::atomic<uint64_t> next_id{1};
  const uint64_t id = next_id++;
  std::unique_ptr<model::MappedModel> model;
  std::unique_ptr<tok::Tokenizer> tokenizer;
};

LanguageModel::LanguageModel() : m(std::make_unique<Impl>()) {}
LanguageModel::~LanguageModel() = default;

std::unique_ptr<LanguageModel> LanguageModel::Open(const std::filesystem::path& dir) {
  std::unique_ptr<LanguageModel> lm(new LanguageModel());
  // A folder with config.json and weights only runs on token ids.
  const bool has_tokenizer = tok::HasTokenizerFiles(dir);
  if (has_tokenizer) lm->m->tokenizer = tok::LoadTokenizer(dir);
  lm->m->model = model::OpenHFModelMapped(dir);
  if (!has_tokenizer) lm->m->tokenizer = tok::IdsOnlyTokenizer(lm->m->model->cfg().d_vocab, dir);
  return lm;
}

const model::HFModelInfo& LanguageModel::info() const { return m->model->info(); }
const model::TransformerConfig& LanguageModel::cfg() const { return m->model->cfg(); }
const tok::Tokenizer& LanguageModel::tokenizer() const { return *m->tokenizer; }
int LanguageModel::ResidentLayers() const { return m->model->ResidentLayers(); }
model::MappedModel& LanguageModel::Mapped() const { return *m->model; }

bool LanguageModel::DefaultBos() const {
  const std::string& type = info().model_type;
  const auto bos = m->tokenizer->BosId();  // a BOS the model cannot embed is never prepended
  return bos.has_value() && *bos < cfg().d_vocab && type != "qwen2" && type != "qwen3";
}

std::vector<int64_t> LanguageModel::Encode(const std::string& text, bool bos) const {
  tok::EncodeOptions opt;
  opt.add_bos = bos;
  return tok::EncodeText(*m->tokenizer, text, opt);
}

namespace {
// A [rows, ...] activation as a float32 io::Array.
io::Array ToArray(const torch::Tensor& t) {
  const torch::Tensor x = t.to(torch::kFloat).contiguous();
  std::vector<int64_t> shape(x.sizes().begin(), x.sizes().end());
  io::Array out = io::Array::Zeros(io::DType::F32, shape);
  std::memcpy(out.mutable_data<float>(), x.data_ptr<float>(), size_t(x.numel()) * sizeof(float));
  return out;
}
}  // namespace

bool LanguageModel::StreamPatterns(const std::vector<int64_t>& tokens,
                                   const std::function<void(const PatternBlock&)>& sink,
                                   const StreamOptions& options) const {
  const auto& c = cfg();
  model::MappedModel::RunSpec spec;
  spec.last_layer = options.last_layer < 0 ? c.n_layers - 1 : options.last_layer;
  spec.reuse_align = options.reuse_align;
  spec.reuse_max = options.reuse_max;
  spec.keep_queries = true;
  spec.on_progress = options.progress;
  spec.on_pattern = [&](const model::PatternChunk& chunk) {
    const torch::Tensor p = chunk.pattern.contiguous();
    PatternBlock b;
    b.layer = chunk.layer, b.head0 = chunk.head0, b.n_heads = chunk.n_heads, b.row0 = chunk.row0, b.T = chunk.T;
    b.data = p.data_ptr<float>();
    sink(b);
  };
  if (options.on_z)
    spec.on_z = [&](int layer, const torch::Tensor& z) {
      const torch::Tensor zc = z.detach().contiguous();
      const int64_t T = int64_t(tokens.size());
      options.on_z(layer, zc.data_ptr<float>(), int(zc.size(0)), T - zc.size(1), T, int(zc.size(2)));
    };
  if (options.intervention && !options.intervention->empty()) {
    detail::SetInterventionHooks(*this, *options.intervention, tokens.size(), &spec);
    return m->model->Run(tokens, spec);
  }
  if (!options.cache) return m->model->Run(tokens, spec);
  std::lock_guard<std::mutex> lock(options.cache->mu);
  if (options.cache->model != m->id) options.cache->prefix.Clear(), options.cache->model = m->id;
  return m->model->Run(tokens, spec, &options.cache->prefix);
}

std::vector<float> LanguageModel::HeadPattern(const std::vector<int64_t>& tokens, int layer, int head,
                                              PromptCache* cache, const Intervention* intervention) const {
  const auto& c = cfg();
  if (layer < 0 || layer >= c.n_layers || head < 0 || head >= c.n_heads)
    throw std::invalid_argument("no head L" + std::to_string(layer) + "H" + std::to_string(head) + " in this model");
  const size_t T = tokens.size();
  std::vector<float> out(T * T);
  const bool intervened = intervention && !intervention->empty();
  if (cache && !intervened) {
    std::lock_guard<std::mutex> lock(cache->mu);
    if (cache->model == m->id && cache->prefix.tokens == tokens) {
      const torch::Tensor p = m->model->HeadPattern(cache->prefix, layer, head);
      if (p.defined()) {
        std::memcpy(out.data(), p.contiguous().data_ptr<float>(), out.size() * sizeof(float));
        return out;
      }
    }
  }
  StreamOptions o;
  o.last_layer = layer;
  o.intervention = intervention;
  StreamPatterns(tokens, [&](const PatternBlock& b) {
    if (b.layer != layer || head < b.head0 || head >= b.head0 + b.n_heads) return;
    std::memcpy(out.data() + size_t(b.row0) * T, b.Row(head - b.head0, b.row0), size_t(b.T - b.row0) * T * sizeof(float));
  }, o);
  return out;
}

void LanguageModel::QueriesKeys(const std::vector<int64_t>& tokens, std::vector<io::Array>* q,
                                std::vector<io::Array>* k) const {
  const auto& c = cfg();
  q->assign(c.n_layers, io::Array()), k->assign(c.n_layers, io::Array());
  model::MappedModel::RunSpec spec;
  spec.last_layer = c.n_layers - 1;
  spec.keep_queries = false;
  spec.chunk_bytes = 0;  // patterns are not needed: one head at a time
  spec.on_qk = [&](int l, const torch::Tensor& ql, const torch::Tensor& kl) {
    (*q)[l] = ToArray(ql);  // [T, n_heads, d_head]
    (*k)[l] = ToArray(kl);  // [T, n_kv_heads, d_head]
  };
  m->model->Run(tokens, spec);
}

io::Array LanguageModel::Patterns(const std::vector<int64_t>& tokens) const {
  const auto& c = cfg();
  const int64_t T = int64_t(tokens.size()), H = c.n_heads;
  io::Array out;
  float* dst = nullptr;
  StreamPatterns(tokens, [&](const PatternBlock& b) {
    if (!dst) {
      out = io::Array::Zeros(io::DType::F32, {c.n_layers, H, T, T});
      dst = out.mutable_data<float>();
    }
    std::memcpy(dst + (int64_t(b.layer) * H + b.head0) * T * T, b.data, size_t(b.n_heads) * T * T * sizeof(float));
  });
  return out;
}

std::filesystem::path DemoLmDir() {
  namespace fs = std::filesystem;
  std::error_code ec;
  for (const fs::path& p : {fs::path("assets/demo_lm"), fs::path(HS_SOURCE_DIR) / "assets/demo_lm"})
    if (fs::exists(p / "config.json", ec)) return p;
  return {};
}

std::string ModelFolderProblem(const std::filesystem::path& dir) {
  namespace fs = std::filesystem;
  try {
    model::ReadHFConfig(dir);
  } catch (const std::exception& e) {
    std::string why = e.what();
    const std::string prefix = (dir / "config.json").string() + ": ";
    if (why.rfind(prefix, 0) == 0) why = "config.json: " + why.substr(prefix.size());
    return why;
  }
  std::error_code ec;
  bool safetensors = false, bin = false;
  for (fs::directory_iterator it(dir, ec); !ec && it != fs::directory_iterator(); it.increment(ec)) {
    safetensors |= it->path().extension() == ".safetensors";
    bin |= it->path().extension() == ".bin";
  }
  if (!safetensors)
    return bin ? "pytorch_model.bin weights only (headscope reads safetensors; opening it prints how to convert them once)"
               : "no .safetensors weights";
  return {};
}

}  // namespace hs::lm
