// `headscope sweep`: trains and analyses a grid of variants (p x seed x
// weight decay x train fraction). Every grid point is an ordinary run folder,
// trained and analysed by the same resumable code as `train` and `analyze`,
// so a killed sweep continues where it stopped and `--index I` runs one
// point: a cluster job array hands each task its index.
#include <memory>
#include <CLI/CLI.hpp>
#include <iostream>
#include <sstream>

#include "commands.h"
#include "jobs/thread_policy.h"
#include "train/train_config.h"

namespace hs::app {
namespace {

struct Point {
  int p, seed;
  double wd, frac;
};

std::vector<Point> Grid(const SweepOptions& o) {
  std::vector<Point> g;
  for (int p : o.p)
    for (int s : o.seed)
      for (double wd : o.weight_decay)
        for (double f : o.train_frac) g.push_back({p, s, wd, f});
  return g;
}

train::TrainConfig ConfigOf(const Point& pt, const SweepOptions& o) {
  train::TrainConfig c;
  c.p = pt.p;
  c.model_seed = pt.seed;
  c.weight_decay = pt.wd;
  c.train_frac = pt.frac;
  c.epochs = o.epochs;
  return c;
}

std::string Command(const Point& pt, const SweepOptions& o) {
  std::ostringstream s;
  s << "headscope train --p " << pt.p << " --seed " << pt.seed << " --weight-decay " << pt.wd << " --train-frac " << pt.frac
    << " --epochs " << o.epochs << " --out " << o.out;
  return s.str();
}

}  // namespace

int RunSweep(const SweepOptions& o) {
  const auto grid = Grid(o);
  if (grid.empty()) {
    std::cerr << "headscope sweep: the grid is empty (give at least one value per axis)\n";
    return 2;
  }
  for (const auto& pt : grid) {
    try {
      ConfigOf(pt, o).Validate();
    } catch (const std::invalid_argument& e) {
      std::cerr << "headscope sweep: " << Command(pt, o) << ": " << e.what() << "\n";
      return 2;
    }
  }
  if (o.index >= int(grid.size()) || o.index < -1) {
    std::cerr << "headscope sweep: --index " << o.index << " is outside the grid of " << grid.size() << " points (0.."
              << grid.size() - 1 << ")\n";
    return 2;
  }
  if (o.list) {
    for (size_t i = 0; i < grid.size(); ++i) {
      const auto c = ConfigOf(grid[i], o);
      std::cout << i << "\t" << o.out << "/" << c.family << "/" << c.VariantName() << "\t" << Command(grid[i], o) << "\n";
    }
    return 0;
  }
  int failures = 0;
  for (size_t i = 0; i < grid.size(); ++i) {
    if (o.index >= 0 && int(i) != o.index) continue;
    const auto cfg = ConfigOf(grid[i], o);
    const std::string dir = o.out + "/" + cfg.family + "/" + cfg.VariantName();
    std::cerr << "sweep: point " << i << " of " << grid.size() << ": " << dir << "\n";
    TrainOptions t;
    t.cfg = cfg;
    t.out = o.out;
    t.threads = o.threads;
    t.quiet = true;
    int rc = RunTrain(t);
    if (rc == 130) return rc;  // interrupted: the run saved its state; run the same command to continue
    if (rc == 0 && !o.no_analyze) {
      AnalyzeOptions a;
      a.run_dir = dir;
      a.threads = o.threads;
      a.quiet = true;
      rc = RunAnalyze(a);
      if (rc == 130) return rc;
    }
    if (rc != 0) {
      std::cerr << "sweep: point " << i << " (" << dir << ") failed with exit " << rc << "\n";
      ++failures;
    }
  }
  return failures ? 1 : 0;
}

namespace {
void AddSweep(CLI::App& cli) {
  auto sw = std::make_shared<SweepOptions>();
  auto* sweep = cli.add_subcommand("sweep", "Train and analyse a grid of variants (resumable; --index for job arrays)");
  sweep->add_option("--p", sw->p, "Moduli (comma-separated primes)")->delimiter(',')->capture_default_str();
  sweep->add_option("--seed", sw->seed, "Model seeds")->delimiter(',')->capture_default_str();
  sweep->add_option("--weight-decay", sw->weight_decay, "Weight decays")->delimiter(',')->capture_default_str();
  sweep->add_option("--train-frac", sw->train_frac, "Train fractions")->delimiter(',')->capture_default_str();
  sweep->add_option("--epochs", sw->epochs, "Epochs per run")->capture_default_str();
  sweep->add_option("--out", sw->out, "Runs folder")->capture_default_str();
  sweep->add_option("--index", sw->index, "Run only grid point I (0-based), e.g. $SLURM_ARRAY_TASK_ID");
  sweep->add_flag("--list", sw->list, "Print the grid (index, run folder, equivalent train command) and exit");
  sweep->add_flag("--no-analyze", sw->no_analyze, "Train only");
  sw->threads = jobs::DefaultTrainingThreads();
  sweep->add_option("--threads", sw->threads, "Threads per run")->capture_default_str();

  sweep->callback([sw] { ExitWith(RunSweep(*sw)); });
}
const bool kSweepRegistered = RegisterCommand({"sweep", 40, AddSweep});
}  // namespace

}  // namespace hs::app
