// [SECTION] Index
//   Run and selection ....... Open, SetPair, SelectEpoch, Update
//   Top bar ................. DrawTopBar: run picker, training, Analyze all
//   Epoch bar ............... DrawEpochBar: play, step, slider, follow latest
//   Bars .................... DrawBars (the tabs are the Workspace base's)
#include "grokking_workspace.h"

#include <algorithm>
#include <cstdio>
#include <ctime>

#include "io/run_dir.h"
#include "train/trainer.h"

namespace hs::app {
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

// [SECTION] Run and selection
GrokkingWorkspace::GrokkingWorkspace(GrokkingOptions opt, Requests& requests)
    : Workspace(WorkspaceKind::Grokking), m_opt(std::move(opt)), m_requests(requests) {
  m_all_runs = io::ListRuns(m_opt.runs);
}

void GrokkingWorkspace::Open(const fs::path& run_dir, int epoch) {
  m_run.Open(run_dir);
  m_run.Refresh();
  m_epoch_index = -1;
  m_wanted_epoch = epoch;
  m_follow_latest = epoch < 0;
  m_metrics = {};
  if (m_run.info && !m_run.info->ValidPair(m_query_pos, m_key_pos))
    std::tie(m_query_pos, m_key_pos) = m_run.info->DefaultPair();
}

bool GrokkingWorkspace::SetPair(int q, int k) {
  if (!m_run.info || !m_run.info->ValidPair(q, k)) return false;
  m_query_pos = q, m_key_pos = k;
  return true;
}

void GrokkingWorkspace::StartTraining(const train::TrainConfig* cfg) {
  // The trainer's thread sets the training thread policy itself
  // (jobs::ConfigureTorchForTraining: OpenBLAS back to one thread).
  m_trainer.Start(m_run.dir, cfg);
}

void GrokkingWorkspace::TrainIfIncomplete() {
  if (m_run.dir.empty() || m_run.Complete()) return;
  if (std::filesystem::exists(m_run.dir / "config.json")) {
    StartTraining();
    return;
  }
  // A new run: the trainer writes config.json within a moment, and Refresh
  // opens the run as soon as it is there.
  const train::TrainConfig default_cfg;
  StartTraining(&default_cfg);
  m_run.error.clear();
}

int GrokkingWorkspace::SelectEpoch(int epoch) {
  m_follow_latest = false;
  if (m_run.epochs.empty()) {
    m_wanted_epoch = epoch;
    return -1;
  }
  auto it = std::lower_bound(m_run.epochs.begin(), m_run.epochs.end(), epoch);
  m_epoch_index = it == m_run.epochs.end() ? int(m_run.epochs.size()) - 1 : int(it - m_run.epochs.begin());
  m_last_move = Clock::now();
  m_prefetched = false;
  return m_run.epochs[m_epoch_index];
}

int GrokkingWorkspace::SelectedEpoch() const {
  return m_epoch_index >= 0 && m_epoch_index < int(m_run.epochs.size()) ? m_run.epochs[m_epoch_index] : -1;
}

void GrokkingWorkspace::Stop() {
  m_trainer.Stop();  // saves train_state at the current epoch
  m_analysis.Stop();
}

void GrokkingWorkspace::Update() {
  const int before = SelectedEpoch();
  m_run.Refresh();
  // Following a run that trains here: move to the newest checkpoint at most
  // every 10 s. Each move makes the visible panels analyse that checkpoint
  // (~0.8 s of a core); at every checkpoint (one per ~1.5 s early on) that
  // took a fifth of the cores from the trainer. The loss curves stay live.
  const bool trains_here = m_trainer.running() && m_trainer.run_dir() == m_run.dir;
  if (m_follow_latest && !m_run.epochs.empty() && int(m_run.epochs.size()) - 1 != m_epoch_index &&
      (!trains_here || Clock::now() - m_last_follow > std::chrono::seconds(10))) {
    m_epoch_index = int(m_run.epochs.size()) - 1;
    m_last_follow = Clock::now();
  }
  if (m_run.info && !m_run.info->ValidPair(m_query_pos, m_key_pos))
    std::tie(m_query_pos, m_key_pos) = m_run.info->DefaultPair();
  const int n = int(m_run.epochs.size());
  if (m_epoch_index < 0 && n > 0) {
    if (m_wanted_epoch >= 0)
      SelectEpoch(m_wanted_epoch), m_wanted_epoch = -1;
    else
      m_epoch_index = n - 1;
  }
  m_epoch_index = std::min(m_epoch_index, n - 1);
  if (m_playing && n > 0 && Clock::now() - m_last_play > std::chrono::milliseconds(120)) {
    m_last_play = Clock::now();
    m_epoch_index = m_epoch_index + 1 >= n ? 0 : m_epoch_index + 1;
  }
  if (SelectedEpoch() != before) m_last_move = Clock::now(), m_prefetched = false;

  // metrics.csv, parsed on the pool; keep the last good one while a new one loads.
  const MetricsResult r = m_requests.Metrics("metrics", m_run.dir);
  if (r.value || !r.error.empty() || !r.pending) {
    if (r.value) m_metrics.value = r.value;
    m_metrics.error = r.error;
  }
  // A live run: while it trains, the trajectories grow from the newest
  // checkpoint's heads, neurons and progress measures, analysed in at most
  // 6% of the time (BackgroundAnalysis::StartLive; analysing every new
  // checkpoint with every analyzer took a fifth of the cores from the
  // trainer). When the training stops, one background pass fills in the rest.
  const bool training_here = m_trainer.running() && m_trainer.run_dir() == m_run.dir;
  if (training_here && m_live_trajectories && !m_analysis.running() && !m_run.epochs.empty())
    m_analysis.StartLive(m_run.dir);
  if (m_analysis.live() && (!training_here || !m_live_trajectories)) m_analysis.RequestStop();
  if (m_was_training && !training_here) m_fill_in = true;
  if (m_fill_in && !m_analysis.running()) m_analysis.Start(m_run.dir), m_fill_in = false;
  m_was_training = training_here;
  // The user holds still: warm the neighbouring epochs of the head grid.
  if (!m_prefetched && m_run.info && n > 0 && m_epoch_index >= 0 && !m_playing &&
      Clock::now() - m_last_move > std::chrono::milliseconds(250) && !m_requests.Busy()) {
    m_prefetched = true;
    std::vector<int> near;
    for (int d : {1, -1})
      if (m_epoch_index + d >= 0 && m_epoch_index + d < n) near.push_back(m_run.epochs[m_epoch_index + d]);
    m_requests.Prefetch(m_run.info, "attention_patterns", near);
  }
}

ViewContext GrokkingWorkspace::Context() const {
  ViewContext v;
  v.run = m_run.info;
  v.epochs = m_run.epochs;
  v.epoch = SelectedEpoch();
  v.query_pos = m_query_pos;
  v.key_pos = m_key_pos;
  v.metrics = m_metrics.value;
  v.metrics_error = m_metrics.error;
  v.grok_epoch = m_metrics.value ? m_metrics.value->grok_epoch : -1;
  v.analyzing = m_analysis.running() && m_analysis.run_dir() == m_run.dir;
  v.all_runs = m_all_runs;
  for (const auto& r : m_opt.compare) v.compare_with.push_back(r);
  v.requests = &m_requests;
  return v;
}

void GrokkingWorkspace::Apply(const PanelOutput& out) {
  if (out.jump_to_epoch >= 0) SelectEpoch(out.jump_to_epoch);
  if (out.analyze_all && m_run.valid()) m_analysis.Start(m_run.dir);
  if (out.pair) SetPair(out.pair->first, out.pair->second);
  if (out.report) StartReport(*out.report);
}

void GrokkingWorkspace::StartReport(const std::vector<std::filesystem::path>& runs) {
  if (runs.empty()) return;
  std::string name;
  for (const auto& r : runs) name += (name.empty() ? "" : "_vs_") + r.filename().string();
  const auto now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", std::localtime(&now));
  m_report.Start(runs, std::filesystem::path(m_opt.runs).parent_path() / "reports" / (name.substr(0, 120) + "_" + stamp));
}

void GrokkingWorkspace::AppendErrors(std::vector<std::string>& out) const {
  if (!m_run.error.empty()) out.push_back("run: " + m_run.error);
}

nlohmann::json GrokkingWorkspace::SaveState() const {
  return {{"run", m_run.dir.string()}, {"epoch", SelectedEpoch()}, {"pair", {m_query_pos, m_key_pos}}};
}

// [SECTION] Top bar
void GrokkingWorkspace::DrawTopBar() {
  const float fh = ImGui::GetFontSize();
  ImGui::SetNextItemWidth(fh * 20);
  if (ImGui::BeginCombo("run", m_run.dir.empty() ? "(none)" : ShortName(m_run.dir).c_str())) {
    if (ImGui::IsWindowAppearing()) m_all_runs = io::ListRuns(m_opt.runs);
    for (const auto& r : m_all_runs)
      if (ImGui::Selectable(ShortName(r).c_str(), r == m_run.dir) && r != m_run.dir) Open(r);
    if (m_all_runs.empty()) ImGui::TextDisabled("no runs under %s/", m_opt.runs.c_str());
    ImGui::EndCombo();
  }
  if (ImGui::IsItemHovered())
    ImGui::SetTooltip("%s\nPick any run folder under %s/ (<family>/<variant>)", m_run.dir.string().c_str(),
                      m_opt.runs.c_str());
  ImGui::SameLine();
  const bool training_here = m_trainer.running() && m_trainer.run_dir() == m_run.dir;
  if (training_here) {
    if (ImGui::Button(m_trainer.stopping() ? "Pausing..." : "Pause training")) m_trainer.RequestStop();
    if (ImGui::IsItemHovered()) ImGui::SetTooltip("Stops after the current epoch and saves the state; Resume continues exactly.");
    ImGui::SameLine();
    bool every = m_trainer.test_every_epoch();
    if (ImGui::Checkbox("test every epoch", &every)) m_trainer.SetTestEveryEpoch(every);
    if (ImGui::IsItemHovered())
      ImGui::SetTooltip(
          "Evaluate the test set after every epoch (about 9%% slower).\n"
          "Otherwise every eval_every epochs (10 by default) and at every checkpoint;\n"
          "metrics.csv's test_epoch column says which epoch each row's test numbers are from.");
    ImGui::SameLine();
    ImGui::Checkbox("live trajectories", &m_live_trajectories);
    if (ImGui::IsItemHovered())
      ImGui::SetTooltip("While training, analyse the newest checkpoint's heads, neurons and progress measures\n"
                        "(in at most %.0f%% of the time, at low priority), so the trajectories grow as you watch.\n"
                        "The checkpoints in between are analysed when training stops.",
                        BackgroundAnalysis::kLiveDuty * 100);
    ImGui::SameLine();
    const train::TrainProgress p = m_trainer.progress();
    char overlay[160];
    const int eta = int(p.eta_seconds);
    std::snprintf(overlay, sizeof overlay, "epoch %d / %d   test acc %.3f   %.0f ms/epoch   ETA %d:%02d:%02d", p.epoch,
                  p.total_epochs, p.test_acc, p.ms_per_epoch, eta / 3600, eta / 60 % 60, eta % 60);
    TextProgressBar(p.total_epochs ? float(p.epoch) / p.total_epochs : 0.f, overlay);
  } else if (m_trainer.running()) {
    ImGui::TextDisabled("training %s in the background", ShortName(m_trainer.run_dir()).c_str());
  } else if (m_run.valid() && !m_run.Complete()) {
    if (ImGui::Button(m_run.epochs.empty() ? "Start training" : "Resume training")) StartTraining();
    if (ImGui::IsItemHovered()) ImGui::SetTooltip("Trains this run in the background; the panels follow new checkpoints.");
  } else if (m_run.valid()) {
    ImGui::TextDisabled("training complete (%d epochs)", m_run.info->total_epochs);
  }
  const std::string terr = m_trainer.error();
  if (terr.find("being trained by another process") != std::string::npos) {
    ImGui::SameLine();
    ImGui::TextDisabled("another process is training this run; following it live");
  } else if (!terr.empty()) {
    ImGui::SameLine();
    ImGui::TextColored(ImVec4(0.8f, 0.1f, 0.1f, 1), "training failed: %s", terr.c_str());
  }
  ImGui::SameLine();
  if (m_analysis.live() && m_analysis.run_dir() == m_run.dir) {
    const auto p = m_analysis.progress();
    if (p.epoch >= 0) ImGui::TextDisabled("live: analysed epoch %d", p.epoch);
    else ImGui::TextDisabled("live: waiting for a checkpoint");
    if (ImGui::IsItemHovered())
      ImGui::SetTooltip("The trajectories grow from the newest checkpoint while the run trains;\n"
                        "every checkpoint is analysed when training stops.");
  } else if (m_analysis.running() && m_analysis.run_dir() == m_run.dir) {
    const auto p = m_analysis.progress();
    char text[128];
    if (p.total > 0)
      std::snprintf(text, sizeof text, "%s %d / %d checkpoints   ETA %.0f s",
                    p.phase.empty() ? "analysing" : "progress measures:", p.done, p.total,
                    p.ms_per_checkpoint * (p.total - p.done) / 1000.0);
    else
      std::snprintf(text, sizeof text, "checking artifacts...");
    TextProgressBar(p.total ? float(p.done) / p.total : 0.f, text);
    if (ImGui::IsItemHovered())
      ImGui::SetTooltip("Computing every analyzer for every checkpoint at low priority;\n"
                        "what you look at is computed first, on its own.");
  } else {
    const bool other = m_analysis.running();  // analysing another run
    ImGui::BeginDisabled(m_run.epochs.empty() || other);
    if (ImGui::Button("Analyze all")) m_analysis.Start(m_run.dir);
    ImGui::EndDisabled();
    if (ImGui::IsItemHovered(ImGuiHoveredFlags_AllowWhenDisabled)) {
      if (other)
        ImGui::SetTooltip("Analysing %s; this run can be analysed when it is done.",
                          ShortName(m_analysis.run_dir()).c_str());
      else
        ImGui::SetTooltip("Compute every analyzer for every checkpoint and the cross-epoch summaries\n"
                          "(same as `headscope analyze RUN`).");
    }
    const std::string st = m_analysis.status();
    if (!st.empty() && m_analysis.run_dir() == m_run.dir) {
      ImGui::SameLine();
      ImGui::TextDisabled("%s", st.c_str());
    }
  }
  // Report: the open run (and the runs given with --compare); the Variants
  // panel reports the runs ticked there.
  m_report.Poll();
  ImGui::SameLine();
  if (m_report.running()) {
    ImGui::TextDisabled("writing report... %.0f s", m_report.seconds());
    if (ImGui::IsItemHovered()) ImGui::SetTooltip("headscope report, into %s", m_report.out_dir().string().c_str());
  } else {
    ImGui::BeginDisabled(m_run.epochs.empty());
    if (ImGui::Button("Report")) {
      std::vector<std::filesystem::path> runs = {m_run.dir};
      for (const auto& r : m_opt.compare) runs.push_back(r);
      StartReport(runs);
    }
    ImGui::EndDisabled();
    if (ImGui::IsItemHovered(ImGuiHoveredFlags_AllowWhenDisabled))
      ImGui::SetTooltip("Write an HTML report of this run (findings, progress measures, the panels as figures)\n"
                        "and a Markdown version into reports/; same as `headscope report RUN --out DIR`.\n"
                        "To compare runs, use \"Report these runs\" in the Variants tab.");
    if (!m_report.status().empty()) {
      ImGui::SameLine();
      ImGui::TextDisabled("%s", m_report.status().c_str());
      if (ImGui::IsItemHovered()) ImGui::SetTooltip("%s", m_report.status().c_str());
    }
  }
  if (!m_run.error.empty()) ErrorText(m_run.error);
}

// [SECTION] Epoch bar
void GrokkingWorkspace::DrawEpochBar() {
  const float fh = ImGui::GetFontSize();
  const int n = int(m_run.epochs.size());
  if (n == 0) {
    ImGui::TextDisabled("No checkpoints yet%s.", m_trainer.running() ? ": the first one is written at epoch 0" : "");
    return;
  }
  int index = std::max(0, m_epoch_index);
  if (ImGui::Button(m_playing ? "Pause" : "Play")) m_playing = !m_playing;
  if (ImGui::IsItemHovered()) ImGui::SetTooltip("Step through the checkpoints (about 8 per second)");
  ImGui::SameLine();
  if (ImGui::ArrowButton("##back", ImGuiDir_Left)) index = std::max(0, index - 1), m_follow_latest = false;
  ImGui::SameLine();
  if (ImGui::ArrowButton("##fwd", ImGuiDir_Right)) index = std::min(n - 1, index + 1);
  ImGui::SameLine();
  ImGui::SetNextItemWidth(ImGui::GetContentRegionAvail().x - fh * 9);
  char label[64];
  std::snprintf(label, sizeof label, "epoch %d", m_run.epochs[index]);
  if (ImGui::SliderInt("##epoch", &index, 0, n - 1, label)) m_follow_latest = index == n - 1;
  if (ImGui::IsItemHovered())
    ImGui::SetTooltip("Checkpoint shown by every panel (%d checkpoints). Left/Right arrow keys step.", n);
  ImGui::SameLine();
  ImGui::Checkbox("follow latest", &m_follow_latest);
  if (ImGui::IsItemHovered()) ImGui::SetTooltip("Jump to each new checkpoint as training writes it");
  if (!ImGui::GetIO().WantTextInput) {
    if (ImGui::IsKeyPressed(ImGuiKey_LeftArrow)) index = std::max(0, index - 1), m_follow_latest = false;
    if (ImGui::IsKeyPressed(ImGuiKey_RightArrow)) index = std::min(n - 1, index + 1);
  }
  if (index != m_epoch_index) m_epoch_index = index, m_last_move = Clock::now(), m_prefetched = false;
}

// [SECTION] Bars
void GrokkingWorkspace::DrawBars() {
  DrawTopBar();
  DrawEpochBar();
}

}  // namespace hs::app
