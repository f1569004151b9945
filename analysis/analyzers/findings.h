// Findings: a run's aggregate metrics in numbers, from metrics.csv and the
// analyzers' summaries, written to RUN/summary.json by `analyze` and read by
// the Findings panel, the comparison and `report`. Torch-free.
//
// Rules (also written into summary.json under "rules"):
// - crossings read the rows where the test set was evaluated (test_epoch == epoch);
//   a crossing is the first such epoch whose value exceeds the threshold;
// - memorisation epoch: first epoch with train accuracy > 0.99;
// - test-loss cliff: the window of kCliffWindowFrac of the run's epochs over which
//   log10 test loss falls most (start, end, decades fallen);
// - a head's specialization onset: first checkpoint from which its max variance
//   fraction in one frequency stays >= kHeadSpecializedThreshold (0.9) to the end;
//   its locked frequency is its dominant frequency at the last checkpoint;
// - phases (Nanda et al. 2023 name them; these rules place them):
//   memorisation [0, M], M = the test-loss peak (none while the test loss
//   is still highest at the last evaluation);
//   circuit formation [M, C], C = first epoch after M whose test loss is below a
//   tenth of the peak (the cliff has begun);
//   clean-up [C, K], K = first checkpoint after C where the Gini coefficient of
//   W_L's Fourier norms has made 95% of its rise from its value at C to its maximum.
#pragma once

#include <filesystem>
#include <nlohmann/json.hpp>
#include <vector>

#include "families/run_info.h"

namespace hs::analyzers {

inline constexpr double kMemorisedTrainAccuracy = 0.99;
inline constexpr double kCliffWindowFrac = 0.02;
inline constexpr double kCircuitEndLossFactor = 0.1;
inline constexpr double kCleanupGiniShare = 0.95;

// First x whose y exceeds `threshold`, or -1.
int FirstAbove(const std::vector<double>& x, const std::vector<double>& y, double threshold);
// First x from which y stays >= `threshold` through the last sample, or -1.
int HeldOnset(const std::vector<double>& x, const std::vector<double>& y, double threshold);

struct Cliff {
  int start = -1, end = -1;  // epochs
  double decades = 0;        // log10 fall over the window
};
// The window of width `window` (in x) over which log10 y falls most; y > 0.
Cliff SteepestFall(const std::vector<double>& x, const std::vector<double>& y, double window);

struct Phases {
  int memorisation_end = -1;  // M (-1: the test loss peaks at the last evaluation)
  int circuit_end = -1;       // C (-1: the cliff never began)
  int cleanup_end = -1;       // K (-1: not reached)
};
// test_x/test_loss: evaluated rows; gini_x/gini_W_L: progress_measures.
Phases PhasesOf(const std::vector<double>& test_x, const std::vector<double>& test_loss,
                const std::vector<double>& gini_x, const std::vector<double>& gini_W_L);

// Everything summary.json holds for this run, from the files present (a
// missing summary leaves its fields null and says so under "missing").
// Throws io::IoError naming a file that is present but invalid.
nlohmann::json ComputeFindings(const families::RunInfo& run);
// The findings as rows of readable text (label, value), shared by the
// Findings panel, the comparison table and the report: run-level rows, and
// one row per head (head, onset, locked frequency, final fraction, coarseness).
using TextRows = std::vector<std::pair<std::string, std::string>>;
TextRows FindingsRows(const nlohmann::json& findings);
std::vector<std::vector<std::string>> HeadRows(const nlohmann::json& findings);
extern const std::vector<std::string> kHeadColumns;

// Writes RUN/summary.json atomically; returns what it wrote.
nlohmann::json WriteFindings(const families::RunInfo& run);
// Reads RUN/summary.json (throws io::IoError naming it when unreadable or not
// an object with "run").
nlohmann::json ReadFindings(const std::filesystem::path& run_dir);

}  // namespace hs::analyzers
