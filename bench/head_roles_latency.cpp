// bench/head_roles_latency: from a prompt edit to updated head-role badges,
// through the explorer's own request path without a window (app::Requests:
// tokenise for the key, a job on the model lane, forward to the last
// pattern, verify every top head, hand the result over). Simulated
// typing: each edit changes one character of a 64-token prompt (63 bytes and
// BOS) and waits for its result. The reference, in the same process and on
// the same tokens, is the bare forward (LanguageModel::Patterns).
//
//   bench_head_roles_latency [--edits 40] [--demo DIR] [--gpt2-dir DIR] [--blas 2]
//
// The GPT-2-small-shape model (12 layers x 12 heads, d_model 768, vocabulary
// 50257, random weights, byte tokenizer) is written to --gpt2-dir (default a
// temporary folder) unless it is there; its heads are categorised on the
// first load (not timed as latency). Goals: demo LM <= 50 ms,
// GPT-2 small <= 200 ms (median and p95 are printed).
// bash bench/head_roles_latency.sh measures the same in the window.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <random>
#include <string>
#include <thread>
#include <stdexcept>
#include <vector>

#include "io/atomic_file.h"
#include "io/safetensors.h"
#include "lm/prompt_analysis.h"
#include "requests.h"
#include "jobs/thread_policy.h"

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using namespace hs;

namespace {
double Ms(Clock::time_point t0) { return std::chrono::duration<double, std::milli>(Clock::now() - t0).count(); }
double Quantile(std::vector<double> v, double q) {
  if (v.empty()) return NAN;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, size_t(q * (v.size() - 1) + 0.5))];
}

// A GPT-2-small-shape Hugging Face folder with random weights.
void WriteGpt2Small(const fs::path& dir) {
  fs::create_directories(dir);
  const int d = 768, L = 12, V = 50257, C = 1024, M = 3072;
  std::mt19937 rng(7);
  std::normal_distribution<float> normal(0.f, 0.02f);
  io::SafetensorsFile f;
  auto rand = [&](const std::string& name, std::vector<int64_t> shape) {
    io::Array a = io::Array::Zeros(io::DType::F32, shape);
    float* p = a.mutable_data<float>();
    for (int64_t i = 0; i < a.numel(); ++i) p[i] = normal(rng);
    f.tensors[name] = std::move(a);
  };
  auto fill = [&](const std::string& name, std::vector<int64_t> shape, float v) {
    io::Array a = io::Array::Zeros(io::DType::F32, shape);
    std::fill(a.mutable_data<float>(), a.mutable_data<float>() + a.numel(), v);
    f.tensors[name] = std::move(a);
  };
  rand("wte.weight", {V, d});
  rand("wpe.weight", {C, d});
  for (int l = 0; l < L; ++l) {
    const std::string h = "h." + std::to_string(l) + ".";
    fill(h + "ln_1.weight", {d}, 1), fill(h + "ln_1.bias", {d}, 0);
    rand(h + "attn.c_attn.weight", {d, 3 * d}), fill(h + "attn.c_attn.bias", {3 * d}, 0);
    rand(h + "attn.c_proj.weight", {d, d}), fill(h + "attn.c_proj.bias", {d}, 0);
    fill(h + "ln_2.weight", {d}, 1), fill(h + "ln_2.bias", {d}, 0);
    rand(h + "mlp.c_fc.weight", {d, M}), fill(h + "mlp.c_fc.bias", {M}, 0);
    rand(h + "mlp.c_proj.weight", {M, d}), fill(h + "mlp.c_proj.bias", {d}, 0);
  }
  fill("ln_f.weight", {d}, 1), fill("ln_f.bias", {d}, 0);
  io::WriteSafetensors(dir / "model.safetensors", f);
  io::WriteFileAtomic(dir / "config.json",
                      R"({"model_type": "gpt2", "architectures": ["GPT2LMHeadModel"], "vocab_size": 50257,
 "n_positions": 1024, "n_embd": 768, "n_layer": 12, "n_head": 12, "layer_norm_epsilon": 1e-05,
 "activation_function": "gelu_new"})");
  io::WriteFileAtomic(dir / "headscope_tokenizer.json", R"({"type": "bytes", "bos_id": 256})");
}

void Bench(const char* label, const fs::path& dir, int edits) {
  app::Requests requests(size_t(256) << 20, 1, 0);
  const auto key = app::LmModelKey::Of(dir);
  const auto t_load = Clock::now();
  auto loaded = requests.LmModel(key);
  while (loaded.pending) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    loaded = requests.LmModel(key);
  }
  if (!loaded.value) throw std::runtime_error(loaded.error);
  const auto model = loaded.value;
  std::printf("%s: %d layers x %d heads, loaded (and categorised if needed) in %.1f s%s%s\n", label,
              model->n_layers(), model->n_heads(), Ms(t_load) / 1000, model->categories_note.empty() ? "" : ": ",
              model->categories_note.c_str());
  // 63 bytes + BOS = 64 tokens; each edit replaces one character.
  std::string text = "The cat sat on the mat. The cat sat on the mat. The dog ran off";
  text.resize(63, '.');
  std::vector<std::string> prompts;
  const std::string letters = "abcdefghijklmnopqrstuvwxyz";
  for (int i = 0; i < edits + 3; ++i) {
    text[size_t(i * 7) % text.size()] = letters[size_t(i) % letters.size()];
    prompts.push_back(text);
  }
  std::vector<double> latency, compute, forward;
  for (int i = 0; i < int(prompts.size()); ++i) {
    // As the workspace does on an edit: encode (the key), then ask every frame until the result is there.
    const auto t0 = Clock::now();
    const auto tokens = model->lm->Encode(prompts[i], true);
    app::LmPromptKey k{key, -1, true, tokens.size(), app::LmPromptKey::HashTokens(tokens)};
    auto r = requests.LmPrompt(model, k, prompts[i], tokens);
    while (!r.value) {
      std::this_thread::sleep_for(std::chrono::microseconds(200));
      r = requests.LmPrompt(model, k, prompts[i], tokens);
    }
    const double ms = Ms(t0);
    const auto& a = r.value;
    if (!a->error.empty()) {
      std::fprintf(stderr, "%s: %s\n", label, a->error.c_str());
      std::exit(1);
    }
    if (i < 3) continue;  // warm-up
    latency.push_back(ms);
    compute.push_back(a->compute_ms);
    // Reference: the bare forward of the same tokens, same process.
    const auto t1 = Clock::now();
    model->lm->Patterns(a->tokens);
    forward.push_back(Ms(t1));
  }
  std::printf("  %d edits of a %d-token prompt: edit -> badges median %.1f ms, p95 %.1f ms "
              "(analysis %.1f ms; bare forward %.1f ms; ratio %.2f)\n",
              int(latency.size()), int(prompts[0].size()) + 1, Quantile(latency, 0.5), Quantile(latency, 0.95),
              Quantile(compute, 0.5), Quantile(forward, 0.5), Quantile(latency, 0.5) / Quantile(forward, 0.5));
}
}  // namespace

int main(int argc, char** argv) {
  int edits = 40, blas = 2;
  fs::path demo = lm::DemoLmDir(), gpt2;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--edits")) edits = std::stoi(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--demo")) demo = argv[i + 1];
    else if (!std::strcmp(argv[i], "--gpt2-dir")) gpt2 = argv[i + 1];
    else if (!std::strcmp(argv[i], "--blas")) blas = std::stoi(argv[i + 1]);
  }
  jobs::ConfigureTorchForInference(blas);  // as the CLI; the explorer uses 2 unless it is training
  std::printf("torch 1 thread, OpenBLAS %d\n", blas);
  try {
    if (!demo.empty()) Bench("demo LM", demo, edits);
    if (gpt2.empty()) gpt2 = fs::temp_directory_path() / "headscope_bench_gpt2_small";
    if (!fs::exists(gpt2 / "model.safetensors")) {
      std::printf("writing a random GPT-2-small-shape folder to %s\n", gpt2.string().c_str());
      WriteGpt2Small(gpt2);
    }
    Bench("GPT-2 small shape, random weights", gpt2, edits);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_head_roles_latency: %s\n", e.what());
    return 1;
  }
  return 0;
}
