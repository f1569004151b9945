// headscope categorize MODEL_DIR [--out FILE]: the offline head categorisation
// (lm/categorize.h). Writes head_categories.json (the seed's schema) and, for
// a folder with training checkpoints (the demo LM), role_formation.json: every
// role's scores at every checkpoint. Prints the top heads per category.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>
#include <memory>
#include <string>

#include "commands.h"
#include "lm/categorize.h"
#include "jobs/thread_policy.h"
#include "lm/head_categories_file.h"

namespace hs::app {
namespace fs = std::filesystem;

namespace {
struct CategorizeOptions {
  std::string model_dir;
  std::string out;         // default MODEL_DIR/head_categories.json
  std::string sentences;   // default assets/prompts/natural_sentences.txt
  int repeated = 50;
  uint64_t seed = 0;
  std::string bos = "auto";
  bool formation = true;
  bool quiet = false;
  int index = -1;          // one checkpoint's task only (job arrays)
  bool list = false;       // print the checkpoints and their task state
};

void PrintProgress(const char* what, int done, int total, bool quiet) {
  if (quiet) return;
  std::fprintf(stderr, "\r%s %d / %d", what, done, total);
  if (done == total) std::fprintf(stderr, "\n");
  std::fflush(stderr);
}

int RunCategorize(const CategorizeOptions& o) {
  jobs::ConfigureTorchForInference(2);
  try {
    const fs::path dir = o.model_dir;
    lm::CategorizeOptions opt;
    opt.n_repeated = o.repeated;
    opt.seed = o.seed;
    opt.sentences_file = o.sentences;
    opt.bos = o.bos == "auto" ? -1 : o.bos == "yes" ? 1 : 0;
    if (o.list || o.index >= 0) {  // a suite of checkpoints, one task per index
      const auto checkpoints = lm::ListCheckpoints(dir);
      if (checkpoints.empty()) throw std::invalid_argument((dir / "checkpoints").string() + ": no step_NNNNN checkpoint folders");
      if (o.list) {
        for (size_t i = 0; i < checkpoints.size(); ++i)
          std::printf("%4zu  step %6d  %s%s\n", i, checkpoints[i].first, checkpoints[i].second.string().c_str(),
                      fs::exists(lm::FormationTaskPath(dir, checkpoints[i].first)) ? "  (done)" : "");
        return 0;
      }
      bool computed = false;
      lm::FormationTask(dir, o.index, opt, &computed);
      std::cout << (computed ? "wrote " : "current: ") << lm::FormationTaskPath(dir, checkpoints[o.index].first).string()
                << " (checkpoint " << o.index << " of " << checkpoints.size() << ", step " << checkpoints[o.index].first
                << "); run `headscope categorize " << dir.string() << "` once every index is done\n";
      return 0;
    }
    const auto lm = lm::LanguageModel::Open(dir);
    library::HeadCategories c =
        lm::Categorize(*lm, lm::ModelName(dir), opt, [&](int d, int t) { return PrintProgress("prompts", d, t, o.quiet), true; });
    c.weights_hash = lm::WeightsHash(dir);
    c.weights_signature = lm::WeightsSignature(dir);
    const fs::path out = o.out.empty() ? lm::CategoriesPath(dir) : fs::path(o.out);
    lm::WriteHeadCategories(out, c);
    std::cout << "wrote " << out.string() << " (" << c.n_layers << " layers x " << c.n_heads << " heads, "
              << c.method.n_repeated << " repeated sequences, " << c.method.n_sentences << " sentences, BOS "
              << (c.method.bos ? "yes" : "no") << ")\n";
    for (const auto& r : c.categories) {
      const library::CategoryDef* def = library::FindCategoryDef(r.key);
      std::printf("  %-17s", def->display_name.c_str());
      if (r.key == "other") {
        std::printf("%zu heads\n", r.top_heads.size());
        continue;
      }
      if (r.top_heads.empty()) std::printf("(none >= %.2f)", r.threshold);
      for (const auto& t : r.top_heads)
        std::printf(" L%dH%d %.2f%s", t.layer, t.head, t.score,
                    r.key == "first_token" && c.IsSink(t.layer, t.head) ? " (sink)" : "");
      std::printf("\n");
    }
    for (const auto& [key, why] : c.unavailable) {
      const library::CategoryDef* def = library::FindCategoryDef(key);
      std::printf("  %-17s(not computed: %s)\n", def ? def->display_name.c_str() : key.c_str(), why.c_str());
    }
    if (c.has_weight_roles)
      std::printf("  (copying, copy suppression and successor read from the weights: top / bottom %d over %s; sinks "
                  "from %d random-token prompts)\n",
                  c.weights_method.k, c.weights_method.token_set.c_str(), c.weights_method.sink_prompts);
    const auto checkpoints = lm::ListCheckpoints(dir);
    if (o.formation && !checkpoints.empty()) {
      lm::RoleFormation f =
          lm::ComputeFormation(dir, opt, [&](int d, int t) { return PrintProgress("checkpoints", d, t, o.quiet), true; });
      f.weights_hash = c.weights_hash;
      const fs::path fp = o.out.empty() ? lm::FormationPath(dir) : fs::path(o.out).parent_path() / "role_formation.json";
      lm::WriteFormation(fp, f);
      std::cout << "wrote " << fp.string() << "\n  step   prev  dup   ind   first diffuse  repeat-loss\n";
      for (size_t i = 0; i < f.steps.size(); ++i) {
        std::printf("  %5d", f.steps[i]);
        for (library::HeadRole r : {library::HeadRole::kPreviousToken, library::HeadRole::kDuplicateToken,
                                    library::HeadRole::kInduction, library::HeadRole::kFirstToken,
                                    library::HeadRole::kDiffuse})
          std::printf("  %.2f", f.Best(int(i), r));
        if (!f.repeat_loss.empty()) std::printf("   %.2f", f.repeat_loss[i]);
        std::printf("\n");
      }
    }
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "headscope categorize: " << e.what() << "\n";
    return 1;
  }
}
}  // namespace

namespace {
void AddCategorize(CLI::App& cli) {
  auto opt = std::make_shared<CategorizeOptions>();
  auto* sub = cli.add_subcommand("categorize",
                                 "Categorise every attention head of a language model (previous-token, induction, "
                                 "duplicate-token, first-token, diffuse, other); writes head_categories.json");
  sub->add_option("model_dir", opt->model_dir, "Hugging Face model folder, or a hub id cached locally (gpt2, ORG/NAME@REV)")
      ->required()
      ->transform(ModelArg());
  sub->add_option("--out", opt->out, "Output file (default MODEL_DIR/head_categories.json)");
  sub->add_option("--sentences", opt->sentences,
                  "Natural sentences, one per line (default assets/prompts/natural_sentences.txt)");
  sub->add_option("--repeated", opt->repeated, "Random repeated-token sequences")->check(CLI::Range(1, 100000));
  sub->add_option("--seed", opt->seed, "Seed of the random sequences");
  sub->add_option("--bos", opt->bos, "Prepend BOS: yes, no or auto")->check(CLI::IsMember({"yes", "no", "auto"}));
  sub->add_flag("!--no-formation", opt->formation,
                "Skip role_formation.json (role scores at every checkpoint under MODEL_DIR/checkpoints)");
  sub->add_flag("--quiet", opt->quiet, "No progress output");
  sub->add_option("--index", opt->index,
                  "Score only checkpoint I (0-based, see --list) into MODEL_DIR/role_formation.d/, e.g. "
                  "$SLURM_ARRAY_TASK_ID; a run without --index then reads the finished ones")
      ->check(CLI::NonNegativeNumber);
  sub->add_flag("--list", opt->list, "Print the checkpoints (index, step, folder, done) and exit");
  sub->callback([opt] {
    ExitWith(RunCategorize(*opt));
  });
}
const bool kCategorizeRegistered = RegisterCommand({"categorize", 55, AddCategorize});
}  // namespace

}  // namespace hs::app
