// One model folder at one prompt length, in one process: where the time of a
// prompt goes against the model's own GEMMs, and the peak memory.
//
//   bench_lm_scale MODEL_DIR T [--repeat 2] [--no-categories]
//
// Prints one JSON line:
//   load_s        LanguageModel::Open (map, validate, tokenizer)
//   first_s       the first prompt (converts the weights to float32 as it goes)
//   warm_s        a prompt of T fresh tokens (forward to the last layer's
//                 attention + every role's activation score + the overview)
//   gemm_s        the same GEMMs alone, in this process, on buffers of the
//                 same shapes (QKV, attention scores and values, W_O, MLP;
//                 every layer but the last one's MLP, as the prompt runs)
//   append_s      the T-th token typed after the first T - 1 ran, with their
//                 keys and values (typing at the end of a long prompt)
//   peak_rss_gb   getrusage max RSS at the end
// Random-weight folders in the hub's layout come from bench_lm_scale_make
// (bench/lm_scale.py drives both).
#include <sys/resource.h>
#include <torch/torch.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>

#include "jobs/thread_policy.h"
#include "lm/prompt_analysis.h"
#include "model/mapped_model.h"

using namespace hs;
using Clock = std::chrono::steady_clock;

namespace {
double Since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }
double PeakRssGb() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_maxrss / 1048576.0;  // KiB -> GiB
}
std::vector<int64_t> Tokens(int T, uint64_t seed) {
  std::vector<int64_t> t;
  uint64_t x = seed;
  for (int i = 0; i < T; ++i) {
    x = x * 6364136223846793005ull + 1442695040888963407ull;
    t.push_back(int64_t((x >> 33) % 256));
  }
  return t;
}

// The prompt's GEMMs alone on random float32 buffers of the same shapes.
double GemmSeconds(const model::TransformerConfig& c, int64_t T) {
  torch::NoGradGuard no_grad;
  const int64_t D = c.d_model, H = c.n_heads, KV = c.NumKVHeads(), E = c.d_head, M = c.d_mlp;
  const torch::Tensor x = torch::randn({T, D}), wqkv = torch::randn({D, (H + 2 * KV) * E}) * 0.02;
  const torch::Tensor wo = torch::randn({H * E, D}) * 0.02, win = torch::randn({D, M}) * 0.02;
  const torch::Tensor wout = torch::randn({M, D}) * 0.02;
  const torch::Tensor q = torch::randn({H, T, E}), k = torch::randn({H, T, E});
  const torch::Tensor p = torch::rand({H, T, T});
  torch::Tensor qkv = torch::empty({T, (H + 2 * KV) * E}), scores = torch::empty({H, T, T}), z = torch::empty({H, T, E});
  torch::Tensor ao = torch::empty({T, D}), up = torch::empty({T, M}), gate = torch::empty({T, M}), down = torch::empty({T, D});
  torch::mm_out(qkv, x, wqkv);  // warm
  const auto t0 = Clock::now();
  for (int l = 0; l < c.n_layers; ++l) {
    torch::mm_out(qkv, x, wqkv);
    torch::bmm_out(scores, q, k.transpose(1, 2));
    if (l + 1 == c.n_layers) break;  // the prompt stops after the last layer's attention
    torch::bmm_out(z, p, k);
    torch::mm_out(ao, z.view({T, H * E}), wo);
    torch::mm_out(up, x, win);
    if (c.gated_mlp) torch::mm_out(gate, x, win);
    torch::mm_out(down, up, wout);
  }
  return Since(t0);
}
}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s MODEL_DIR T [--repeat N]\n", argv[0]);
    return 2;
  }
  const std::string dir = argv[1];
  const int T = std::stoi(argv[2]);
  int repeat = 2;
  bool categories = true;
  for (int i = 3; i < argc; ++i) {
    if (std::strcmp(argv[i], "--repeat") == 0 && i + 1 < argc) repeat = std::stoi(argv[i + 1]);
    if (std::strcmp(argv[i], "--no-categories") == 0) categories = false;  // (an 8B model: no 70-prompt categorisation)
  }
  jobs::ConfigureTorchForInference(2);
  try {
    auto t0 = Clock::now();
    auto lm = std::shared_ptr<const lm::LanguageModel>(lm::LanguageModel::Open(dir));
    const double load_s = Since(t0);
    const auto& c = lm->cfg();
    lm::LmModel model;
    model.dir = dir;
    model.lm = lm;
    const std::vector<int64_t> tokens = Tokens(T, 1);
    t0 = Clock::now();  // before the categories: this prompt converts the weights
    auto first = lm::AnalyzePrompt(model, *lm, "", tokens, false);
    const double first_s = Since(t0);
    if (!first->error.empty()) throw std::runtime_error(first->error);
    std::string note;
    if (categories) model.categories = lm::LoadOrCategorize(*lm, dir, {}, &note);
    double warm_s = 1e30, gemm_s = 1e30, append_s = 1e30;
    for (int r = 0; r < repeat; ++r) {  // alternated, best of each
      t0 = Clock::now();
      lm::AnalyzePrompt(model, *lm, "", Tokens(T, 2 + r), false);
      warm_s = std::min(warm_s, Since(t0));
      gemm_s = std::min(gemm_s, GemmSeconds(c, T));
    }
    {  // T - 1 tokens, then the T-th typed
      lm::PromptOptions o;
      o.cache = lm::NewPromptCache();
      auto prev = lm::AnalyzePrompt(model, *lm, "", std::vector<int64_t>(tokens.begin(), tokens.end() - 1), false, -1, o);
      o.previous = prev;
      t0 = Clock::now();
      auto a = lm::AnalyzePrompt(model, *lm, "", tokens, false, -1, o);
      append_s = Since(t0);
      if (!a->error.empty()) throw std::runtime_error(a->error);
    }
    std::printf(
        "{\"model\": \"%s\", \"T\": %d, \"resident_layers\": %d, \"n_layers\": %d, \"load_s\": %.3f, \"first_s\": %.3f, "
        "\"warm_s\": %.3f, \"gemm_s\": %.3f, \"ratio\": %.2f, \"append_s\": %s, \"peak_rss_gb\": %.2f}\n",
        dir.c_str(), T, lm->ResidentLayers(), c.n_layers, load_s, first_s, warm_s, gemm_s, warm_s / gemm_s,
        append_s < 1e29 ? std::to_string(append_s).c_str() : "null", PeakRssGb());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_lm_scale: %s\n", e.what());
    std::printf("{\"model\": \"%s\", \"T\": %d, \"error\": \"%s\", \"peak_rss_gb\": %.2f}\n", dir.c_str(), T, e.what(),
                PeakRssGb());
    return 1;
  }
  return 0;
}
