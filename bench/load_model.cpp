// Loading a Hugging Face model folder: time and peak memory (max RSS) of
// LoadHFModel, against the model's float32 size, then one short forward.
//
//   bench_load_model MODEL_DIR [--tokens 16]
//
// The loader maps the weight files and converts tensor by tensor into the
// parameters, so the peak should stay near the float32 size (goal: <= 2x).
#include <sys/resource.h>
#include <torch/torch.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>

#include "io/atomic_file.h"
#include "model/hf_loader.h"
#include "model/hooked_transformer.h"

namespace {
double MaxRssMiB() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_maxrss / 1024.0;  // Linux: KiB
}
double Seconds(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}
}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s MODEL_DIR [--tokens N]\n", argv[0]);
    return 2;
  }
  int n_tokens = 16;
  for (int i = 2; i + 1 < argc; ++i)
    if (std::strcmp(argv[i], "--tokens") == 0) n_tokens = std::stoi(argv[i + 1]);
  const double rss_start = MaxRssMiB();
  try {
    auto t0 = std::chrono::steady_clock::now();
    hs::model::LoadedModel m = hs::model::LoadHFModel(argv[1]);
    const double load_s = Seconds(t0);
    const double rss_load = MaxRssMiB();
    const double f32_mib = m.info.n_params * 4.0 / (1 << 20);
    std::printf("model_type %s, %lld parameters, %s on disk (%.0f MiB), float32 %.0f MiB\n", m.info.model_type.c_str(),
                static_cast<long long>(m.info.n_params), m.info.dtype_on_disk.c_str(),
                m.info.bytes_on_disk / double(1 << 20), f32_mib);
    std::printf("load: %.2f s, peak RSS %.0f MiB (%.2fx float32; %.0f MiB before loading)\n", load_s, rss_load,
                rss_load / f32_mib, rss_start);
    torch::NoGradGuard no_grad;
    hs::model::HookedTransformer net(m.model);
    const torch::Tensor tokens = torch::randint(0, m.cfg.d_vocab, {1, n_tokens}, torch::kLong);
    hs::model::ActivationCache cache;
    t0 = std::chrono::steady_clock::now();
    const torch::Tensor logits = net->forward_with_cache(tokens, cache);
    std::printf("forward with cache over %d tokens: %.2f s, peak RSS %.0f MiB, logits finite: %s\n", n_tokens,
                Seconds(t0), MaxRssMiB(), torch::isfinite(logits).all().item<bool>() ? "yes" : "no");
  } catch (const hs::io::IoError& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 1;
  }
  return 0;
}
