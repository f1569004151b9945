// headscope plasticity MODEL_DIR [--corpus PATH] [--config FILE] [--out DIR]:
// captures queries and keys after rotary over a corpus and writes the three
// CSVs of the attention-plasticity method (library/plasticity.h):
// head_metrics.csv, head_bucket_plasticity.csv, head_component_weights.csv.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <memory>
#include <string>

#include "commands.h"
#include "io/atomic_file.h"
#include "io/json_text.h"
#include "lm/qk_capture.h"
#include "jobs/thread_policy.h"
#include "lm/categorize.h"
#include "lm/plasticity_files.h"

namespace hs::app {
namespace fs = std::filesystem;
namespace pl = library::plasticity;

namespace {
struct PlasticityOptions {
  std::string model_dir, corpus = "/usr/share/common-licenses", config, out;
  bool print_config = false, quiet = false;
};

int RunPlasticity(const PlasticityOptions& o) {
  jobs::ConfigureTorchForInference(2);
  try {
    pl::Config cfg;
    if (!o.config.empty()) {
      if (!fs::exists(o.config)) throw io::IoError(o.config + ": file not found");
      cfg = pl::ConfigFromJson(io::ParseJson(io::ReadFile(o.config), o.config), o.config);
    }
    if (o.print_config) {
      std::cout << pl::ConfigJson(cfg).dump(2) << "\n";
      return 0;
    }
    const auto model = lm::LanguageModel::Open(o.model_dir);
    int shown = -1;  // percent last printed
    const lm::PlasticityRun run = lm::ComputePlasticity(*model, cfg, o.corpus, [&](int phase, int done, int total) {
      if (o.quiet) return true;
      if (phase == 0) {
        const int pct = int(100.0 * done / total);
        if (pct != shown)
          shown = pct, std::fprintf(stderr, "\rcapturing queries and keys: %d / %d tokens", done, total);
      } else {
        std::fprintf(stderr, "%sanalysing heads: %d / %d", done == 1 ? "\n" : "\r", done, total);
        if (done == total) std::fprintf(stderr, "\n");
      }
      std::fflush(stderr);
      return true;
    });
    const auto& results = run.results;
    const fs::path out = o.out.empty() ? lm::DerivedDir(o.model_dir) / "plasticity" : fs::path(o.out);
    lm::WritePlasticityRun(out, cfg, run, o.model_dir, o.corpus);
    std::printf("%d heads, %d tokens from %s: capture %.1f s, analysis %.1f s; wrote %s/{%s,%s,%s}\n",
                int(results.size()), run.tokens, o.corpus.c_str(), run.capture_seconds, run.analysis_seconds,
                out.string().c_str(), cfg.output_csv.c_str(), cfg.bucket_csv.c_str(), cfg.component_csv.c_str());
    std::vector<const pl::HeadResult*> sorted;
    for (const auto& r : results) sorted.push_back(&r);
    std::sort(sorted.begin(), sorted.end(), [](auto* a, auto* b) {
      return (std::isfinite(a->ap_overall) ? a->ap_overall : -1) > (std::isfinite(b->ap_overall) ? b->ap_overall : -1);
    });
    std::printf("  layer head  ap_overall  q_R2_pos\n");
    for (size_t i = 0; i < sorted.size(); ++i) {
      if (sorted.size() > 12 && i == 6) std::printf("  ...\n"), i = sorted.size() - 6;
      std::printf("  %5d %4d  %10.3f  %8.3f\n", sorted[i]->layer, sorted[i]->q_head, sorted[i]->ap_overall,
                  sorted[i]->q_R2_pos);
    }
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "headscope plasticity: " << e.what() << "\n";
    return 1;
  }
}
}  // namespace

namespace {
void AddPlasticity(CLI::App& cli) {
  auto opt = std::make_shared<PlasticityOptions>();
  auto* sub = cli.add_subcommand("plasticity",
                                 "Attention plasticity of every head over a corpus: how much key content rather than "
                                 "position decides attention; writes three CSVs");
  sub->add_option("model_dir", opt->model_dir, "Hugging Face model folder, or a hub id cached locally (gpt2, ORG/NAME@REV)")
      ->transform(ModelArg());
  sub->add_option("--corpus", opt->corpus, "Text file or folder of text files")->capture_default_str();
  sub->add_option("--config", opt->config, "JSON settings (see --print-config for every key and its default)");
  sub->add_option("--out", opt->out, "Output folder (default MODEL_DIR/plasticity)");
  sub->add_flag("--print-config", opt->print_config, "Print the settings in effect as JSON and exit");
  sub->add_flag("--quiet", opt->quiet, "No progress output");
  sub->callback([opt, sub] {
    if (opt->model_dir.empty() && !opt->print_config) throw CLI::RequiredError("model_dir");
    ExitWith(RunPlasticity(*opt));
  });
  (void)sub;
}
const bool kPlasticityRegistered = RegisterCommand({"plasticity", 65, AddPlasticity});
}  // namespace

}  // namespace hs::app
