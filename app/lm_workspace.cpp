// [SECTION] Index
//   Model ............ OpenModel, Adopt (loader thread hands over), Stop
//   Selection ........ SetPrompt, SelectHead, SelectStep, Update (prompt requests)
//   Top bar .......... DrawTopBar: model picker, loading progress, training-step slider
//   Prompt bar ....... DrawPromptBar: prompt box, BOS, suggested prompts, status
//   Tabs ............. Draw, DrawSinglePanel (from the registry)
#include "lm_workspace.h"

#include <algorithm>
#include <cstdio>
#include <cstring>

#include "library/head_roles.h"
#include "lm/qk_capture.h"

namespace hs::app {
namespace fs = std::filesystem;

// [SECTION] Model
LmWorkspace::LmWorkspace(const ExplorerOptions& opt) : m_opt(opt) {
  m_panels = MakePanels(WorkspaceKind::LanguageModel);
  const std::string p = opt.prompt.empty() ? "The cat sat on the mat. The cat sat on the mat." : opt.prompt;
  std::snprintf(m_prompt, sizeof m_prompt, "%s", p.c_str());
  m_wanted_step = opt.step;
  if (!opt.head.empty()) {
    int l = -1, h = -1;
    if (std::sscanf(opt.head.c_str(), "%d,%d", &l, &h) == 2) m_wanted_head = {l, h};
  }
  const fs::path demo = lm::DemoLmDir();
  if (!demo.empty()) m_recent.push_back(demo);
}

void LmWorkspace::OpenModel(const fs::path& dir) {
  if (!dir.empty() && dir == m_view.model_dir && (m_view.model || !m_view.loading.empty())) return;
  // A new generation: an older loader still running sees it at its next
  // progress report, stops, and its result is dropped. Never joined here, so
  // opening another model never waits for a slow load.
  const uint64_t gen = ++m_load_gen;
  ++m_plasticity_gen;  // the previous model's plasticity run stops; its results are dropped
  {
    std::lock_guard<std::mutex> lock(m_mu);
    m_plasticity.reset(), m_plasticity_status.clear(), m_plasticity_error.clear();
  }
  m_model_first_id = m_next_id;  // results of the previous model's prompts are not shown
  m_view.model_dir = dir;
  m_view.model.reset();
  m_view.analysis.reset();
  m_view.error.clear();
  m_submitted_key.clear();
  {
    std::lock_guard<std::mutex> lock(m_mu);
    m_loaded.reset();
    m_load_error.clear();
    m_loading = "loading " + dir.string();
    m_load_fraction = -1;
  }
  m_view.loading = "loading " + dir.string();
  if (std::find(m_recent.begin(), m_recent.end(), dir) == m_recent.end()) m_recent.push_back(dir);
  JoinFinished(m_loaders);
  auto done = std::make_shared<std::atomic<bool>>(false);
  m_loaders.push_back({std::thread([this, dir, gen, done] {
    struct SetDone {
      std::atomic<bool>& d;
      ~SetDone() { d = true; }
    } set_done{*done};
    auto current = [&] { return m_load_gen.load() == gen; };
    try {
      auto model = lm::LoadLmModel(dir, [&](const std::string& what, float f) {
        std::lock_guard<std::mutex> lock(m_mu);
        if (current()) m_loading = what, m_load_fraction = f;
        return current();
      });
      std::lock_guard<std::mutex> lock(m_mu);
      if (current()) m_loaded = model, m_loading.clear();
    } catch (const lm::CategorizeCancelled&) {
    } catch (const std::exception& e) {
      std::lock_guard<std::mutex> lock(m_mu);
      if (current()) m_load_error = e.what(), m_loading.clear();
    }
  }), done});
}

void LmWorkspace::JoinFinished(std::vector<Worker>& workers) {
  for (auto it = workers.begin(); it != workers.end();) {
    if (*it->done) {
      if (it->thread.joinable()) it->thread.join();
      it = workers.erase(it);
    } else {
      ++it;
    }
  }
}

void LmWorkspace::Adopt(std::shared_ptr<const lm::LmModel> model) {
  m_view.model = std::move(model);
  const auto& m = *m_view.model;
  if (!m_bos_user) m_bos = m.lm->DefaultBos();
  // The selected head: asked for, else the best induction head, else L0H0.
  auto [l, h] = m_wanted_head;
  if (l < 0 || l >= m.n_layers() || h < 0 || h >= m.n_heads()) {
    l = 0, h = 0;
    if (const auto* c = m.categories.Find("induction"); c && !c->top_heads.empty())
      l = c->top_heads[0].layer, h = c->top_heads[0].head;
  }
  m_view.layer = l, m_view.head = h;
  if (m_view.category.empty()) m_view.category = "induction";
  SelectStep(m_wanted_step);
  StartPlasticity(false);  // the saved CSVs, if any
}

void LmWorkspace::StartPlasticity(bool compute) {
  if (!m_view.model) return;
  const uint64_t gen = ++m_plasticity_gen;
  const auto model = m_view.model;
  {
    std::lock_guard<std::mutex> lock(m_mu);
    m_plasticity.reset();
    m_plasticity_error.clear();
    m_plasticity_status = compute ? "capturing queries and keys" : "reading the saved plasticity CSVs";
    m_plasticity_fraction = compute ? 0.0f : -1.0f;
  }
  JoinFinished(m_plasticity_threads);
  auto done = std::make_shared<std::atomic<bool>>(false);
  m_plasticity_threads.push_back({std::thread([this, model, gen, compute, done] {
    struct SetDone {
      std::atomic<bool>& d;
      ~SetDone() { d = true; }
    } set_done{*done};
    namespace pl = library::plasticity;
    auto current = [&] { return m_plasticity_gen.load() == gen; };
    auto tell = [&](const std::string& what, float f) {
      std::lock_guard<std::mutex> lock(m_mu);
      if (current()) m_plasticity_status = what, m_plasticity_fraction = f;
      return current();
    };
    const fs::path dir = model->dir / "plasticity";
    try {
      std::shared_ptr<std::vector<pl::HeadResult>> results;
      if (!compute) {
        if (!fs::exists(dir / pl::Config{}.output_csv)) {
          std::lock_guard<std::mutex> lock(m_mu);
          if (current()) m_plasticity_status.clear();
          return;
        }
        results = std::make_shared<std::vector<pl::HeadResult>>(pl::ReadCsvs(dir));
      } else {
        const pl::Config cfg;
        lm::QKCaptureOptions co;
        co.max_tokens = cfg.max_tokens_per_head;
        co.seed = cfg.seed;
        const lm::QKSample s = lm::CaptureQK(*model->lm, co, [&](int got, int total) {
          return tell("capturing queries and keys over the corpus", 0.5f * float(got) / float(total));
        });
        results = std::make_shared<std::vector<pl::HeadResult>>(
            pl::AnalyzeHeads(lm::PlasticityInputs(s), cfg, [&](int done, int total) {
              return tell("analysing heads", 0.5f + 0.5f * float(done) / float(total));
            }));
        try {
          pl::WriteCsvs(dir, cfg, *results);
        } catch (const std::exception&) {  // a read-only folder: keep them in memory
        }
      }
      std::lock_guard<std::mutex> lock(m_mu);
      if (current()) m_plasticity = results, m_plasticity_status.clear();
    } catch (const std::exception& e) {
      std::lock_guard<std::mutex> lock(m_mu);
      if (current())
        m_plasticity_error = std::string(e.what()) == "cancelled" || dynamic_cast<const lm::CategorizeCancelled*>(&e)
                                 ? ""
                                 : e.what(),
        m_plasticity_status.clear();
    }
  }), done});
}

void LmWorkspace::Stop() {
  ++m_load_gen;  // loaders stop at their next progress report
  ++m_plasticity_gen;
  for (auto* workers : {&m_loaders, &m_plasticity_threads}) {
    for (auto& w : *workers)
      if (w.thread.joinable()) w.thread.join();
    workers->clear();
  }
  m_worker.Stop();
}

// [SECTION] Selection
void LmWorkspace::SetPrompt(const std::string& prompt) {
  std::snprintf(m_prompt, sizeof m_prompt, "%s", prompt.c_str());
  SubmitIfChanged();
}

void LmWorkspace::SelectHead(int layer, int head) {
  m_wanted_head = {layer, head};
  if (m_view.model && layer >= 0 && layer < m_view.model->n_layers() && head >= 0 && head < m_view.model->n_heads())
    m_view.layer = layer, m_view.head = head;
}

void LmWorkspace::SelectStep(int step) {
  m_wanted_step = step;
  m_view.step = -1;
  if (!m_view.model || step < 0) return;
  for (const auto& [s, dir] : m_view.model->checkpoints)
    if (s >= step) {
      m_view.step = s;
      return;
    }
}

void LmWorkspace::Update() {
  std::shared_ptr<const lm::LmModel> loaded;
  {
    std::lock_guard<std::mutex> lock(m_mu);
    m_view.loading = m_loading;
    m_view.loading_fraction = m_load_fraction;
    m_view.error = m_load_error;
    loaded = m_loaded;
    m_view.plasticity = m_plasticity;
    m_view.plasticity_status = m_plasticity_status;
    m_view.plasticity_fraction = m_plasticity_fraction;
    m_view.plasticity_error = m_plasticity_error;
  }
  if (loaded && loaded != m_view.model) Adopt(loaded);
  if (m_view.model_dir.empty() && m_view.loading.empty()) {
    const fs::path dir = !m_opt.model.empty() ? fs::path(m_opt.model) : !m_start_model.empty() ? m_start_model : lm::DemoLmDir();
    if (!dir.empty()) OpenModel(dir);
    else m_view.error = "the demo LM (assets/demo_lm) was not found; open a Hugging Face model folder";
  }
  SubmitIfChanged();
  uint64_t id = 0;
  auto latest = m_worker.Latest(&id);
  if (latest && id >= m_model_first_id) m_view.analysis = latest;
  m_view.analysis_current = latest && id == m_submitted_id && id >= m_model_first_id;
}

void LmWorkspace::SubmitIfChanged() {
  if (!m_view.model) return;
  // A new prompt, BOS setting or step: run it (latest wins).
  const std::string key = std::to_string(reinterpret_cast<uintptr_t>(m_view.model.get())) + "|" +
                          std::to_string(m_bos) + "|" + std::to_string(m_view.step) + "|" + m_prompt;
  if (key == m_submitted_key) return;
  m_submitted_key = key;
  m_submitted_id = m_next_id++;
  m_view.analysis_current = false;
  m_worker.Submit({m_view.model, m_prompt, m_bos, m_view.step, m_submitted_id});
}

ViewContext LmWorkspace::Context() const {
  ViewContext v;
  v.lm = &m_view;
  return v;
}

void LmWorkspace::Apply(const PanelOutput& out) {
  if (out.head) SelectHead(out.head->first, out.head->second);
  if (out.prompt) SetPrompt(*out.prompt);
  if (out.category) m_view.category = *out.category;
  if (out.step) SelectStep(*out.step);
  if (out.compute_plasticity) StartPlasticity(true);
  if (out.cancel_plasticity) {
    ++m_plasticity_gen;
    std::lock_guard<std::mutex> lock(m_mu);
    m_plasticity_status.clear();
  }
  SubmitIfChanged();
}

bool LmWorkspace::Waiting(const std::string& panel) const {
  if (!m_view.loading.empty() || (m_view.model && !m_view.analysis_current)) return true;
  return PanelsWaiting(m_panels, m_drawn, panel);
}

std::vector<std::string> LmWorkspace::Errors() const {
  std::vector<std::string> out;
  if (!m_view.error.empty()) out.push_back("model: " + m_view.error);
  AppendPanelErrors(m_panels, m_drawn, out);
  return out;
}

nlohmann::json LmWorkspace::SaveState() const {
  // Nothing opened this session: keep what was remembered.
  const fs::path model = m_view.model_dir.empty() ? m_start_model : m_view.model_dir;
  return {{"model", model.string()}, {"prompt", std::string(m_prompt)}, {"step", m_view.model ? m_view.step : m_wanted_step}};
}

// [SECTION] Top bar
void LmWorkspace::DrawTopBar() {
  const float fh = ImGui::GetFontSize();
  ImGui::SetNextItemWidth(fh * 16);
  if (ImGui::BeginCombo("model", m_view.model_dir.empty() ? "(none)" : ShortName(m_view.model_dir).c_str())) {
    for (const auto& r : m_recent)
      if (ImGui::Selectable(ShortName(r).c_str(), r == m_view.model_dir)) OpenModel(r);
    ImGui::Separator();
    ImGui::TextDisabled("Any Hugging Face folder (config.json, *.safetensors, tokenizer):");
    ImGui::SetNextItemWidth(fh * 24);
    const bool enter = ImGui::InputTextWithHint("##path", "/path/to/model folder", m_path_input, sizeof m_path_input,
                                                ImGuiInputTextFlags_EnterReturnsTrue);
    ImGui::SameLine();
    if ((ImGui::Button("Open") || enter) && m_path_input[0]) {
      OpenModel(m_path_input);
      ImGui::CloseCurrentPopup();
    }
    ImGui::EndCombo();
  }
  if (ImGui::IsItemHovered())
    ImGui::SetTooltip("%s\nThe demo LM ships with headscope; open any GPT-2, Llama, Qwen2/3, GPT-NeoX or OPT folder.",
                      m_view.model_dir.string().c_str());
  ImGui::SameLine();
  if (!m_view.loading.empty()) {
    TextProgressBar(m_view.loading_fraction, m_view.loading.c_str());
    return;
  }
  if (!m_view.error.empty()) {
    ImGui::TextColored(ImVec4(0.8f, 0.1f, 0.1f, 1), "%s", m_view.error.c_str());
    return;
  }
  if (!m_view.model) return;
  const auto& m = *m_view.model;
  const auto& c = m.lm->cfg();
  ImGui::TextDisabled("%s, %d layers x %d heads, %d positions", m.lm->info().model_type.c_str(), c.n_layers, c.n_heads,
                      c.n_ctx);
  if (ImGui::IsItemHovered()) {
    ImGui::BeginTooltip();
    ImGui::Text("head_categories.json: %s, %d repeated sequences, %d sentences", m.categories.analysis_date.c_str(),
                m.categories.method.n_repeated, m.categories.method.n_sentences);
    if (!m.categories_note.empty()) ImGui::TextUnformatted(m.categories_note.c_str());
    ImGui::EndTooltip();
  }
  if (m.checkpoints.empty()) return;
  // Training-step slider: the checkpoints, then the final weights.
  ImGui::SameLine();
  const int n = int(m.checkpoints.size());
  int index = n;
  for (int i = 0; i < n; ++i)
    if (m.checkpoints[i].first == m_view.step) index = i;
  char label[64];
  if (index == n)
    std::snprintf(label, sizeof label, "final weights");
  else
    std::snprintf(label, sizeof label, "training step %d", m.checkpoints[index].first);
  ImGui::SetNextItemWidth(std::max(fh * 10, ImGui::GetContentRegionAvail().x));
  if (ImGui::SliderInt("##step", &index, 0, n, label)) SelectStep(index == n ? -1 : m.checkpoints[index].first);
  if (ImGui::IsItemHovered())
    ImGui::SetTooltip("Run the prompt through a checkpoint saved during training (%d checkpoints).\n"
                      "Slide left of step 1000 and the induction heads have not formed yet.",
                      n);
}

// [SECTION] Prompt bar
void LmWorkspace::DrawPromptBar() {
  const float fh = ImGui::GetFontSize();
  ImGui::AlignTextToFramePadding();
  ImGui::TextUnformatted("Prompt");
  ImGui::SameLine();
  ImGui::SetNextItemWidth(ImGui::GetContentRegionAvail().x - fh * 8);
  ImGui::InputTextWithHint("##prompt", "Type a prompt; the panels follow as you type", m_prompt, sizeof m_prompt);
  ImGui::SameLine();
  if (ImGui::Checkbox("BOS", &m_bos)) m_bos_user = true;
  if (ImGui::IsItemHovered())
    ImGui::SetTooltip("Prepend the tokenizer's beginning-of-sequence token (as TransformerLens does;\n"
                      "the demo LM was trained with it). Qwen models are used without.");
  ImGui::AlignTextToFramePadding();
  ImGui::TextDisabled("Try:");
  for (const auto& def : library::HeadCategoryDefs()) {
    if (def.suggested_prompt.empty()) continue;
    ImGui::SameLine();
    if (ImGui::SmallButton(def.display_name.c_str())) SetPrompt(def.suggested_prompt);
    if (ImGui::IsItemHovered()) ImGui::SetTooltip("A prompt that lights up %s heads:\n\"%s\"", def.display_name.c_str(),
                                                  def.suggested_prompt.c_str());
  }
  ImGui::SameLine();
  if (ImGui::SmallButton("No repetition")) SetPrompt("Jumpy frog");
  if (ImGui::IsItemHovered())
    ImGui::SetTooltip("\"Jumpy frog\": no token occurs twice, so induction and duplicate-token heads stay gray.");
  const auto& a = m_view.analysis;
  if (a) {
    ImGui::SameLine();
    if (!a->error.empty() && m_view.analysis_current)
      ImGui::TextColored(ImVec4(0.8f, 0.1f, 0.1f, 1), "%s", a->error.c_str());
    else
      ImGui::TextDisabled("%d tokens%s, %.0f ms%s", a->T(), a->bos ? " (BOS first)" : "", a->compute_ms,
                          m_view.analysis_current ? "" : "   updating...");
  }
}

// [SECTION] Tabs
void LmWorkspace::Draw(ExportQueue& exports) {
  m_drawn.clear();
  DrawTopBar();
  DrawPromptBar();
  if (!exports.status.empty()) ImGui::TextDisabled("%s", exports.status.c_str());
  ImGui::Separator();
  const ViewContext v = Context();
  PanelOutput out;
  DrawRegisteredTabs(WorkspaceKind::LanguageModel, m_panels, v, out, exports, m_drawn);
  Apply(out);
  SubmitIfChanged();  // an edit typed this frame starts now, not next frame
}

void LmWorkspace::DrawSinglePanel(const std::string& panel, ExportQueue& exports) {
  m_drawn.clear();
  const ViewContext v = Context();
  PanelOutput out;
  DrawSingleRegisteredPanel(panel, m_panels, v, out, exports, m_drawn);
  Apply(out);
}

}  // namespace hs::app
