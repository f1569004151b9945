// [SECTION] Index
//   Model ............ OpenModel, Adopt (the model request's value)
//   Selection ........ SetPrompt, SelectHead, SelectStep, Update (model, prompt and plasticity requests)
//   Top bar .......... DrawTopBar: model picker, loading progress, training-step slider
//   Prompt bar ....... DrawPromptBar: prompt box, BOS, suggested prompts, status
//   Heads turned off . TurnOff, TurnOn, CurrentIntervention, RequestCausal (means, losses, checks),
//                      DrawOffChips, DrawLossStrip (under the prompt)
//   Bars ............. DrawBars (the tabs are the Workspace base's)
#include "lm_workspace.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <imgui_internal.h>
#include <imgui_stdlib.h>
#include <iterator>
#include <optional>
#include <stdexcept>

#include "colormap.h"
#include "io/hub_cache.h"
#include "io/units.h"
#include "library/head_roles.h"

namespace hs::app {
namespace fs = std::filesystem;

namespace {
// A prompt file: readable, at most 4 MB (about a million tokens, far past any
// model's context), text without NUL bytes.
std::string ReadPromptFile(const fs::path& path) {
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) throw std::runtime_error(path.string() + ": not a file");
  const auto size = fs::file_size(path, ec);
  if (ec) throw std::runtime_error(path.string() + ": " + ec.message());
  if (size > (4u << 20))
    throw std::runtime_error(path.string() + ": " + std::to_string(size >> 20) + " MB is too long for a prompt (at most 4 MB)");
  std::ifstream in(path, std::ios::binary);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (!in.good() && !in.eof()) throw std::runtime_error(path.string() + ": could not be read");
  if (text.find('\0') != std::string::npos) throw std::runtime_error(path.string() + ": not a text file (it has NUL bytes)");
  return text;
}

// `headscope shot --off`: the heads the next workspace starts with turned off.
std::vector<std::pair<int, int>> g_lm_start_off;
lm::AblationMode g_lm_start_off_mode = lm::AblationMode::kZero;
bool g_lm_start_without_sink = false;  // `headscope shot --no-sink`

std::string OffHeadName(int layer, int head) { return "L" + std::to_string(layer) + "H" + std::to_string(head); }
}  // namespace

void SetLmStartOff(std::vector<std::pair<int, int>> heads, lm::AblationMode mode) {
  g_lm_start_off = std::move(heads);
  g_lm_start_off_mode = mode;
}

void SetLmStartWithoutSink(bool on) { g_lm_start_without_sink = on; }

// [SECTION] Model
LmWorkspace::LmWorkspace(LmOptions opt, Requests& requests)
    : Workspace(WorkspaceKind::LanguageModel), m_opt(std::move(opt)), m_requests(requests) {
  m_prompt = m_opt.prompt.empty() ? "The cat sat on the mat. The cat sat on the mat." : m_opt.prompt;
  m_wanted_step = m_opt.step;
  if (!m_opt.head.empty()) {
    int l = -1, h = -1;
    if (std::sscanf(m_opt.head.c_str(), "%d,%d", &l, &h) == 2) m_wanted_head = {l, h};
  }
  const fs::path demo = lm::DemoLmDir();
  if (!demo.empty()) m_recent.push_back(demo);
  m_start_off = g_lm_start_off;
  m_view.off_mode = g_lm_start_off_mode;
  m_view.without_sink = g_lm_start_without_sink;
}

void LmWorkspace::OpenModel(const fs::path& dir) {
  const LmModelKey key = LmModelKey::Of(dir);
  if (key == m_model_key) return;
  m_model_key = key;
  m_open_error.clear();
  const std::string category = m_view.category;
  const lm::AblationMode off_mode = m_view.off_mode;
  const bool without_sink = m_view.without_sink;
  m_view = LmView{};  // nothing of the previous model is shown again (its heads turned off included)
  m_view.category = category;
  m_view.off_mode = off_mode;
  m_view.without_sink = without_sink;
  m_intervention.reset();
  m_checks_asked.clear();
  m_view.model_dir = dir;
  m_view.loading = "loading " + dir.string();
  m_analysis_model.clear();
  m_encoded_for.clear();
  m_requests.Cancel("lm_plasticity");  // the previous model's plasticity run stops
  for (const char* slot : {"lm_means", "lm_checks", "lm_patch"})  // and its long-lane work: the new model loads first
    m_requests.Cancel(slot);
  m_plasticity_want = PlasticityWant::Saved;
  if (std::find(m_recent.begin(), m_recent.end(), dir) == m_recent.end()) m_recent.push_back(dir);
}

void LmWorkspace::Adopt(std::shared_ptr<const lm::LmModel> model) {
  m_view.model = std::move(model);
  const auto& m = *m_view.model;
  m_view.warnings = m.cache_warnings;
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
  for (const auto& [ol, oh] : m_start_off) {  // --off: the heads this model has
    if (ol >= 0 && ol < m.n_layers() && oh >= 0 && oh < m.n_heads())
      TurnOff(ol, oh, m_view.off_mode);
    else
      m_view.off_error = "cannot turn off " + OffHeadName(ol, oh) + ": the model has " + std::to_string(m.n_layers()) +
                         " layers x " + std::to_string(m.n_heads()) + " heads";
  }
  m_start_off.clear();
  SelectStep(m_wanted_step);
}

// [SECTION] Selection
void LmWorkspace::SetPrompt(const std::string& prompt) {
  m_prompt = prompt;
  RequestPrompt();  // starts now, while the frame is still being drawn
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
  if (m_model_key.empty()) {
    const fs::path dir = !m_opt.model.empty()        ? fs::path(m_opt.model)
                         : !m_start_model.empty() ? m_start_model
                                                  : lm::DemoLmDir();
    if (dir.empty()) {
      m_view.error = "the demo LM (assets/demo_lm) was not found; open a Hugging Face model folder";
      return;
    }
    OpenModel(dir);
  }
  const Result<lm::LmModel> r = m_requests.LmModel(m_model_key);
  m_view.error = r.error;
  m_view.loading = r.pending ? (r.progress.what.empty() ? "loading " + m_view.model_dir.string() : r.progress.what) : "";
  m_view.loading_fraction = r.progress.fraction;
  if (r.value && r.value != m_view.model) Adopt(r.value);
  RequestPrompt();
  RequestCausal();
  RequestPlasticity();
}

void LmWorkspace::RequestPrompt() {
  if (!m_view.model) return;
  const std::string model = m_model_key.str();
  if (m_encoded_for != model || m_encoded_text != m_prompt || m_encoded_bos != m_bos) {
    m_encoded_for = model, m_encoded_text = m_prompt, m_encoded_bos = m_bos;
    m_tokens.clear();
    m_encode_error.clear();
    try {
      m_tokens = m_view.model->lm->Encode(m_prompt, m_bos);
    } catch (const std::exception& e) {
      m_encode_error = e.what();
    }
  }
  if (!m_encode_error.empty()) {  // in words, where the analysis is drawn
    if (!m_view.analysis || m_view.analysis->error != m_encode_error) {
      auto a = std::make_shared<lm::PromptAnalysis>();
      a->model_dir = m_view.model->dir, a->prompt = m_prompt, a->bos = m_bos, a->step = m_view.step;
      a->error = m_encode_error;
      m_view.analysis = a;
    }
    m_view.analysis_current = true;
    m_analysis_model = model;
    return;
  }
  LmPromptKey key;
  key.model = m_model_key;
  key.step = m_view.step;
  key.bos = m_bos;
  key.n_tokens = m_tokens.size();
  key.tokens_hash = LmPromptKey::HashTokens(m_tokens);
  // Heads turned off: every view shows the model without them.
  const std::shared_ptr<const lm::Intervention> iv = CurrentIntervention();
  if (iv) key.intervention = lm::Describe(*iv);
  if (m_analysis_model != model) m_view.analysis.reset();  // never another model's result
  if (!m_view.off_heads.empty() && !iv) {  // mean ablation: the means first
    m_view.analysis_current = false;
    m_view.prompt_status = m_view.means_error.empty() ? "mean outputs of the heads: " + m_view.means_status : "";
    m_view.prompt_fraction = m_view.means_fraction;
    return;
  }
  const Result<lm::PromptAnalysis> r =
      m_requests.LmPrompt(m_view.model, key, m_prompt, m_tokens, {m_view.layer, m_view.head}, iv);
  m_view.analysis_current = r.value != nullptr;
  m_view.prompt_status = r.pending ? r.progress.what : "";
  m_view.prompt_fraction = r.pending ? r.progress.fraction : -1;
  if (r.value) m_view.analysis = r.value, m_analysis_model = model, m_analysis_key = key, m_view.analysis_key = key;
  // A head selected after the analysis ran: its pattern from the cached queries and keys.
  const auto& a = m_view.analysis;
  if (a && a->ok() && m_view.analysis_current && !a->Head(m_view.layer, m_view.head) &&
      m_view.layer < a->n_layers && m_view.head < a->n_heads) {
    const Result<LmHeadPattern> h =
        m_requests.HeadPattern(m_view.model, m_analysis_key, a->tokens, m_view.layer, m_view.head, iv);
    if (h.value) {
      m_view.other_head = std::shared_ptr<const std::vector<float>>(h.value, &h.value->pattern);
      m_view.other_layer = h.value->layer, m_view.other_head_index = h.value->head, m_view.other_for = a;
    }
    if (!h.error.empty()) m_view.prompt_status = "L" + std::to_string(m_view.layer) + "H" + std::to_string(m_view.head) + ": " + h.error;
  }
}

void LmWorkspace::RequestPlasticity() {
  m_view.plasticity_status.clear();
  if (!m_view.model || m_plasticity_want == PlasticityWant::Nothing) return;
  const bool compute = m_plasticity_want == PlasticityWant::Compute;
  const Result<LmPlasticity> r = m_requests.Plasticity(m_view.model, {m_model_key, compute});
  m_view.plasticity_error = r.error;
  if (r.pending) {
    m_view.plasticity_status = !r.progress.what.empty() ? r.progress.what
                               : compute               ? "capturing queries and keys"
                                                       : "reading the saved plasticity CSVs";
    m_view.plasticity_fraction = compute ? std::max(0.0f, r.progress.fraction) : -1.0f;
  }
  if (r.value) {
    m_view.plasticity = r.value->heads.empty()
                            ? nullptr
                            : std::shared_ptr<const std::vector<library::plasticity::HeadResult>>(r.value, &r.value->heads);
    m_view.plasticity_warning = r.value->warning;
  } else if (compute) {
    m_view.plasticity.reset();
  }
}

ViewContext LmWorkspace::Context() const {
  ViewContext v;
  v.lm = &m_view;
  v.requests = &m_requests;  // the causal panels' own requests (patching, one cell's exact ablation)
  return v;
}

void LmWorkspace::Apply(const PanelOutput& out) {
  if (out.head) SelectHead(out.head->first, out.head->second);
  if (out.prompt) SetPrompt(*out.prompt);
  if (out.category) m_view.category = *out.category;
  if (out.without_sink) m_view.without_sink = *out.without_sink;
  if (out.step) SelectStep(*out.step);
  if (out.compute_plasticity) m_plasticity_want = PlasticityWant::Compute;
  if (out.cancel_plasticity) {
    m_requests.Cancel("lm_plasticity");
    m_plasticity_want = PlasticityWant::Saved;
  }
  if (out.head_off)
    TurnOff(out.head_off->first, out.head_off->second,
            out.head_off_mode == 1 ? lm::AblationMode::kMean : lm::AblationMode::kZero);
  if (out.head_on) TurnOn(out.head_on->first, out.head_on->second);
  if (out.all_heads_on) TurnAllOn();
  // An edit typed this frame starts now, not next frame.
  RequestPrompt();
  RequestCausal();
  RequestPlasticity();
}

bool LmWorkspace::WaitingSelf() const {
  const auto& a = m_view.analysis;
  const bool losses = a && a->ok() && m_view.analysis_current && !m_view.losses_current && m_view.losses_error.empty();
  return !m_view.loading.empty() || (m_view.model && !m_view.analysis_current) || losses;
}

void LmWorkspace::AppendErrors(std::vector<std::string>& out) const {
  if (!m_view.error.empty()) out.push_back("model: " + m_view.error);
  if (!m_view.off_error.empty()) out.push_back("heads turned off: " + m_view.off_error);
}

std::vector<std::string> LmWorkspace::Warnings() const {
  std::vector<std::string> out = m_view.warnings;
  if (!m_view.plasticity_warning.empty()) out.push_back(m_view.plasticity_warning);
  return out;
}

nlohmann::json LmWorkspace::SaveState() const {
  // Nothing opened this session: keep what was remembered.
  const fs::path model = m_view.model_dir.empty() ? m_start_model : m_view.model_dir;
  return {{"model", model.string()}, {"prompt", std::string(m_prompt)}, {"step", m_view.model ? m_view.step : m_wanted_step}};
}

// [SECTION] Top bar
LmWorkspace::CacheListing LmWorkspace::ReadCache() {
  CacheListing out;
  const fs::path cache = io::HubCacheDir(&out.how);
  out.dir = cache.string();
  for (const io::CachedModel& c : io::ListHubModels(cache)) {
    CachedEntry e;
    e.repo_id = c.repo_id;
    e.revision = c.revision;
    e.snapshot = c.snapshot;
    e.size = io::ByteSize(double(c.bytes));
    e.model_type = c.model_type;
    e.problem = c.problem.empty() ? lm::ModelFolderProblem(c.snapshot) : c.problem;
    out.entries.push_back(std::move(e));
  }
  return out;
}

void LmWorkspace::DrawTopBar() {
  const float fh = ImGui::GetFontSize();
  ImGui::SetNextItemWidth(fh * 16);
  if (m_opt.open_picker && !ImGui::IsPopupOpen(ImHashStr("##ComboPopup", 0, ImGui::GetID("model")), 0))
    ImGui::OpenPopupEx(ImHashStr("##ComboPopup", 0, ImGui::GetID("model")));  // as BeginCombo names its popup
  if (ImGui::BeginCombo("model", m_view.model_dir.empty() ? "(none)" : ShortName(m_view.model_dir).c_str(),
                        ImGuiComboFlags_HeightLargest)) {
    if (!m_cache_listed && !m_cache_job.valid()) m_cache_job = std::async(std::launch::async, &LmWorkspace::ReadCache);
    if (m_cache_job.valid() && m_cache_job.wait_for(std::chrono::seconds(0)) == std::future_status::ready) {
      try {
        m_cache = m_cache_job.get();
      } catch (const std::exception& e) {
        m_cache = CacheListing{};
        m_cache.how = e.what();
      }
      m_cache_listed = true;
    }
    ImGui::TextDisabled("Opened this session");
    for (const auto& r : m_recent)
      if (ImGui::Selectable(ShortName(r).c_str(), r == m_view.model_dir)) OpenModel(r);
    ImGui::Separator();
    ImGui::TextDisabled("Hugging Face cache: %s (%s)", m_cache.dir.c_str(), m_cache.how.c_str());
    ImGui::SameLine();
    if (ImGui::SmallButton("Refresh") && !m_cache_job.valid()) m_cache_listed = false;
    if (!m_cache_listed)
      ImGui::TextDisabled("  reading the cache ...");
    else if (m_cache.entries.empty())
      ImGui::TextDisabled("  no models cached here (hf download ORG/NAME puts one here)");
    if (!m_cache.entries.empty() && ImGui::BeginTable("##cached", 4, ImGuiTableFlags_SizingFixedFit)) {
      for (size_t i = 0; i < m_cache.entries.size(); ++i) {
        const CachedEntry& e = m_cache.entries[i];
        ImGui::PushID(int(i));
        ImGui::TableNextRow();
        ImGui::TableNextColumn();
        const std::string label = e.repo_id + (e.revision == "main" ? "" : "@" + e.revision);
        if (e.problem.empty()) {
          if (ImGui::Selectable(label.c_str(), e.snapshot == m_view.model_dir, ImGuiSelectableFlags_SpanAllColumns)) {
            OpenModel(e.snapshot);
            ImGui::CloseCurrentPopup();
          }
        } else {
          ImGui::TextDisabled("%s", label.c_str());
        }
        if (ImGui::IsItemHovered()) ImGui::SetTooltip("%s", e.snapshot.string().c_str());
        ImGui::TableNextColumn();
        ImGui::TextDisabled("%s", e.model_type.c_str());
        ImGui::TableNextColumn();
        ImGui::TextDisabled("%s", e.size.c_str());
        ImGui::TableNextColumn();
        if (e.problem.empty()) {
          ImGui::TextColored(ImVec4(0.1f, 0.5f, 0.1f, 1), "loads");
        } else {
          const std::string brief = e.problem.size() > 72 ? e.problem.substr(0, 69) + "..." : e.problem;
          ImGui::TextColored(ImVec4(0.6f, 0.35f, 0.0f, 1), "cannot load: %s", brief.c_str());
          if (ImGui::IsItemHovered()) {
            ImGui::BeginTooltip();
            ImGui::PushTextWrapPos(fh * 36);
            ImGui::TextUnformatted(e.problem.c_str());
            ImGui::PopTextWrapPos();
            ImGui::EndTooltip();
          }
        }
        ImGui::PopID();
      }
      ImGui::EndTable();
    }
    ImGui::Separator();
    ImGui::TextDisabled("A folder (config.json, *.safetensors, tokenizer) or a cached hub id (Qwen/Qwen2.5-0.5B@main):");
    ImGui::SetNextItemWidth(fh * 24);
    const bool enter = ImGui::InputTextWithHint("##path", "/path/to/model folder or ORG/NAME", m_path_input,
                                                sizeof m_path_input, ImGuiInputTextFlags_EnterReturnsTrue);
    ImGui::SameLine();
    if ((ImGui::Button("Open") || enter) && m_path_input[0]) {
      try {
        OpenModel(io::ResolveModelArg(m_path_input));
        m_open_error.clear();
      } catch (const std::exception& e) {
        m_open_error = e.what();  // the model open now stays
      }
      ImGui::CloseCurrentPopup();
    }
    ImGui::EndCombo();
  }
  if (ImGui::IsItemHovered())
    ImGui::SetTooltip("%s\nThe demo LM ships with headscope; open a GPT-2, Llama, Qwen2/3, Mistral, Gemma, Gemma 2, "
                      "Phi-3, GPT-NeoX or OPT folder, or a model from the Hugging Face cache.",
                      m_view.model_dir.string().c_str());
  ImGui::SameLine();
  if (!m_open_error.empty()) {
    ImGui::TextColored(ImVec4(0.8f, 0.1f, 0.1f, 1), "cannot open: %s", m_open_error.c_str());
    ImGui::SameLine();
    if (ImGui::SmallButton("x")) m_open_error.clear();
    return;
  }
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
  if (!m_view.warnings.empty()) {
    ImGui::SameLine();
    ImGui::TextColored(ImVec4(0.6f, 0.35f, 0.0f, 1), "(!) %d file%s not saved", int(m_view.warnings.size()),
                       m_view.warnings.size() == 1 ? "" : "s");
    if (ImGui::IsItemHovered()) {
      ImGui::BeginTooltip();
      for (const auto& w : m_view.warnings) ImGui::TextUnformatted(w.c_str());
      ImGui::TextDisabled("The results are kept for this session and computed again next time.");
      ImGui::EndTooltip();
    }
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
  // Multi-line and unbounded: three lines tall, scrolling past that.
  const float box_w = ImGui::GetContentRegionAvail().x - fh * 8;
  const float box_h = ImGui::GetTextLineHeight() * 3 + ImGui::GetStyle().FramePadding.y * 2;
  ImGui::InputTextMultiline("##prompt", &m_prompt, ImVec2(box_w, box_h));
  if (m_prompt.empty()) {  // a hint, where the text would be
    const ImVec2 min = ImGui::GetItemRectMin();
    ImGui::GetWindowDrawList()->AddText(ImVec2(min.x + ImGui::GetStyle().FramePadding.x, min.y + ImGui::GetStyle().FramePadding.y),
                                        ImGui::GetColorU32(ImGuiCol_TextDisabled),
                                        "Type or paste a prompt; the panels follow as you type");
  }
  ImGui::SameLine();
  ImGui::BeginGroup();
  if (ImGui::Checkbox("BOS", &m_bos)) m_bos_user = true;
  if (ImGui::IsItemHovered())
    ImGui::SetTooltip("Prepend the tokenizer's beginning-of-sequence token (as TransformerLens does;\n"
                      "the demo LM was trained with it). Qwen models are used without.");
  if (ImGui::Button("Load text...")) ImGui::OpenPopup("##load_text");
  if (ImGui::IsItemHovered()) ImGui::SetTooltip("Use a text file as the prompt (a long document, a story, code).");
  ImGui::EndGroup();
  if (ImGui::BeginPopup("##load_text")) {
    ImGui::TextDisabled("A UTF-8 text file to use as the prompt:");
    ImGui::SetNextItemWidth(fh * 28);
    const bool enter = ImGui::InputTextWithHint("##text_path", "/path/to/text.txt", m_text_path, sizeof m_text_path,
                                                ImGuiInputTextFlags_EnterReturnsTrue);
    ImGui::SameLine();
    if ((ImGui::Button("Load") || enter) && m_text_path[0]) {
      try {
        SetPrompt(ReadPromptFile(m_text_path));
        m_text_error.clear();
        ImGui::CloseCurrentPopup();
      } catch (const std::exception& e) {
        m_text_error = e.what();
      }
    }
    if (!m_text_error.empty()) ImGui::TextColored(ImVec4(0.8f, 0.1f, 0.1f, 1), "%s", m_text_error.c_str());
    ImGui::EndPopup();
  }
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
    else if (a->reused_rows > 0)
      ImGui::TextDisabled("%d tokens%s, %.0f ms (from token %lld on)", a->T(), a->bos ? " (BOS first)" : "",
                          a->compute_ms, static_cast<long long>(a->reused_rows));
    else
      ImGui::TextDisabled("%d tokens%s, %.0f ms", a->T(), a->bos ? " (BOS first)" : "", a->compute_ms);
  }
  if (!m_view.analysis_current && !m_view.prompt_status.empty()) {  // a long prompt: layers done; the next edit cancels it
    ImGui::SameLine();
    TextProgressBar(m_view.prompt_fraction, ("updating: " + m_view.prompt_status).c_str());
  } else if (!m_view.analysis_current && m_view.model && a) {
    ImGui::SameLine();
    ImGui::TextDisabled("updating...");
  }
  if (!m_view.model) return;
  DrawOffChips();
  DrawLossStrip();
}

// [SECTION] Bars
void LmWorkspace::DrawBars() {
  DrawTopBar();
  DrawPromptBar();
}

// [SECTION] Heads turned off
void LmWorkspace::TurnOff(int layer, int head, lm::AblationMode mode) {
  m_view.off_mode = mode;  // one mode for every turned-off head
  if (!m_view.IsOff(layer, head)) {
    m_view.off_heads.emplace_back(layer, head);
    std::sort(m_view.off_heads.begin(), m_view.off_heads.end());  // one key for one set
  }
  RequestPrompt();
}

void LmWorkspace::TurnOn(int layer, int head) {
  auto& v = m_view.off_heads;
  v.erase(std::remove(v.begin(), v.end(), std::make_pair(layer, head)), v.end());
  RequestPrompt();
}

void LmWorkspace::TurnAllOn() {
  m_view.off_heads.clear();
  RequestPrompt();
}

std::shared_ptr<const lm::Intervention> LmWorkspace::CurrentIntervention() {
  if (m_view.off_heads.empty()) return nullptr;
  const bool mean = m_view.off_mode == lm::AblationMode::kMean;
  if (mean && !m_view.means) return nullptr;
  const auto means = mean ? m_view.means : nullptr;
  if (!m_intervention || m_intervention->heads != m_view.off_heads || m_intervention->mode != m_view.off_mode ||
      m_intervention->means != means) {
    auto iv = std::make_shared<lm::Intervention>();
    iv->mode = m_view.off_mode;
    iv->heads = m_view.off_heads;
    iv->means = means;
    m_intervention = iv;
  }
  return m_intervention;
}

void LmWorkspace::RequestCausal() {
  if (!m_view.model) return;
  // The heads' mean outputs, once per model (read from beside it, else computed).
  const Result<LmMeans> means = m_requests.Means(m_view.model, m_model_key);
  m_view.means_error = means.error;
  m_view.means_status = means.pending ? (means.progress.what.empty() ? "reading the mean activations" : means.progress.what) : "";
  m_view.means_fraction = means.pending ? means.progress.fraction : -1;
  if (means.value) m_view.means = means.value->means;
  if (m_view.off_mode == lm::AblationMode::kMean && !m_view.off_heads.empty() && !means.error.empty())
    m_view.off_error = "mean ablation needs each head's mean output: " + means.error;
  const auto& a = m_view.analysis;
  const bool shown = a && a->ok() && m_view.analysis_current;
  // Per-token losses of the prompt shown, clean and with the heads off.
  m_view.losses_current = false;
  m_view.losses_status.clear();
  if (shown) {
    const Result<LmLosses> r = m_requests.TokenLosses(m_view.model, m_view.analysis_key, a->tokens, CurrentIntervention());
    m_view.losses_error = r.error;
    if (r.pending) m_view.losses_status = r.progress.what.empty() ? "computing the losses" : r.progress.what;
    if (r.value) m_view.losses = r.value, m_view.losses_current = true;
  }
  // Heads turned off: the selected head with every head on too (the attention panel compares).
  if (shown && !a->intervention.empty() && m_view.layer >= 0 && m_view.layer < a->n_layers && m_view.head >= 0 &&
      m_view.head < a->n_heads) {
    const Result<LmHeadPattern> r =
        m_requests.CleanHeadPattern(m_view.model, m_view.analysis_key, a->tokens, m_view.layer, m_view.head);
    if (r.value) m_view.clean_head = r.value, m_view.clean_head_for = a;
  }
  // The causal checks, after each prompt analysis (final weights, every head on).
  m_view.checks_current = false;
  m_view.checks_unavailable.clear();
  if (!shown) {
    // A new prompt: the last one's checks stop (heads turned on or off keep them: same tokens).
    LmPromptKey now = m_view.analysis_key;
    now.n_tokens = m_tokens.size(), now.tokens_hash = LmPromptKey::HashTokens(m_tokens), now.intervention.clear();
    now.step = m_view.step, now.bos = m_bos;
    if (!m_checks_asked.empty() && now.str() != m_checks_asked) {
      m_requests.Cancel("lm_checks");
      m_checks_asked.clear();
      m_view.checks_status.clear();
    }
    return;
  }
  if (a->step >= 0) {
    m_view.checks_unavailable = "the causal checks run on the final weights (slide to the right end)";
  } else if (a->T() < 3) {
    m_view.checks_unavailable = "the causal checks need a prompt of three tokens or more";
  } else if (means.pending) {
    m_view.checks_status = "waiting for the mean activations";
    m_view.checks_fraction = -1;
  } else {
    LmPromptKey key = m_view.analysis_key;
    key.intervention.clear();
    m_checks_asked = key.str();
    const Result<lm::CausalChecks> r =
        m_requests.Checks(m_view.model, key, a->prompt, a->tokens, a, means.value ? means.value->means : nullptr);
    m_view.checks_error = r.error;
    m_view.checks_status = r.pending ? (r.progress.what.empty() ? "starting" : r.progress.what) : "";
    m_view.checks_fraction = r.pending ? r.progress.fraction : -1;
    if (r.value) {
      m_view.checks = r.value, m_view.checks_current = true;
      if (a->intervention.empty() && m_view.checked_for != a) {  // the badges' third state
        auto roles = std::make_shared<library::PromptRoles>(a->roles);
        lm::ApplyChecks(*r.value, roles.get());
        m_view.checked_roles = std::move(roles), m_view.checked_for = a;
      }
    }
  }
}

void LmWorkspace::DrawOffChips() {
  const float fh = ImGui::GetFontSize();
  ImGui::AlignTextToFramePadding();
  if (m_view.off_heads.empty()) {
    ImGui::TextDisabled("Every head is on. Right-click a head (roles panel, grids, model view, attention map) to turn it "
                        "off and watch what changes.");
    return;
  }
  ImGui::TextUnformatted("Turned off:");
  if (ImGui::IsItemHovered())
    ImGui::SetTooltip("Every view shows the model without these heads: their attention is still computed, but their "
                      "output\n(hook_z, before W_O) is replaced, so later layers and the loss no longer see it.");
  std::optional<std::pair<int, int>> on;
  ImGui::PushStyleVar(ImGuiStyleVar_FrameRounding, fh * 0.6f);
  ImGui::PushStyleColor(ImGuiCol_Button, ImVec4(0.93f, 0.62f, 0.35f, 1));
  ImGui::PushStyleColor(ImGuiCol_ButtonHovered, ImVec4(0.98f, 0.50f, 0.25f, 1));
  ImGui::PushStyleColor(ImGuiCol_ButtonActive, ImVec4(0.85f, 0.40f, 0.15f, 1));
  for (const auto& [l, h] : m_view.off_heads) {
    ImGui::SameLine();
    const std::string label = OffHeadName(l, h) + "  \xc3\x97##off" + std::to_string(l) + "_" + std::to_string(h);
    if (ImGui::SmallButton(label.c_str())) on = std::make_pair(l, h);
    if (ImGui::IsItemHovered()) ImGui::SetTooltip("Turn %s back on", OffHeadName(l, h).c_str());
  }
  ImGui::PopStyleColor(3);
  ImGui::PopStyleVar();
  ImGui::SameLine(0, fh);
  ImGui::TextDisabled("output replaced by");
  ImGui::SameLine();
  int mode = m_view.off_mode == lm::AblationMode::kMean ? 1 : 0;
  const int was = mode;
  ImGui::RadioButton("zero", &mode, 0);
  if (ImGui::IsItemHovered()) ImGui::SetTooltip("Zero ablation: the heads' outputs are set to 0.");
  ImGui::SameLine();
  ImGui::RadioButton("mean", &mode, 1);
  if (ImGui::IsItemHovered())
    ImGui::SetTooltip("Mean ablation: each head's output is replaced by its mean over natural sentences\n"
                      "(computed once per model and saved beside it); removes what the head says about\n"
                      "this prompt and keeps its average contribution.%s",
                      m_view.step >= 0 ? "\nThe means are the final weights' (this is a training checkpoint)." : "");
  if (mode != was) m_view.off_mode = mode == 1 ? lm::AblationMode::kMean : lm::AblationMode::kZero;
  ImGui::SameLine(0, fh);
  if (ImGui::SmallButton("turn all back on")) TurnAllOn();
  if (on) TurnOn(on->first, on->second);
  if (m_view.off_mode == lm::AblationMode::kMean && !m_view.means && !m_view.means_status.empty()) {
    ImGui::SameLine();
    TextProgressBar(m_view.means_fraction, m_view.means_status.c_str());
  }
  if (!m_view.off_error.empty()) {
    ImGui::SameLine();
    ImGui::TextColored(ImVec4(0.8f, 0.1f, 0.1f, 1), "%s", m_view.off_error.c_str());
  }
}

void LmWorkspace::DrawLossStrip() {
  const float fh = ImGui::GetFontSize();
  const auto& L = m_view.losses;
  const auto& a = m_view.analysis;
  if (!a || !a->ok()) return;
  if (!m_view.losses_error.empty()) {
    ImGui::TextColored(ImVec4(0.8f, 0.1f, 0.1f, 1), "per-token loss: %s", m_view.losses_error.c_str());
    return;
  }
  if (!L) {
    ImGui::TextDisabled("Per-token loss: %s...", m_view.losses_status.empty() ? "computing" : m_view.losses_status.c_str());
    return;
  }
  const int n = int(L->clean.size());
  if (n == 0) {
    ImGui::TextDisabled("Per-token loss: one token, nothing to predict.");
    return;
  }
  if (m_loss_labels_for != L) {  // the token each entry predicts
    m_loss_labels.clear();
    for (size_t i = 1; i < L->tokens.size(); ++i) {
      std::string t;
      try {
        t = m_view.model->lm->tokenizer().TokenText(L->tokens[i]);
      } catch (const std::exception&) {
        t = "#" + std::to_string(L->tokens[i]);
      }
      std::string shown;
      for (char c : t) shown += c == '\n' ? std::string("\\n") : c == '\t' ? std::string("\\t") : std::string(1, c);
      if (!shown.empty() && shown.find_first_not_of(' ') == std::string::npos) {  // a space token: middle dots
        const size_t n_spaces = shown.size();
        shown.clear();
        for (size_t k = 0; k < n_spaces; ++k) shown += "\xc2\xb7";
      }
      m_loss_labels.push_back(shown);
    }
    m_loss_labels_for = L;
  }
  const bool off = !L->intervened.empty() && L->intervened.size() == L->clean.size();
  double mean_clean = 0, mean_off = 0, vmax = 0.5, dmax = 0.1;
  for (int i = 0; i < n; ++i) {
    mean_clean += L->clean[i];
    vmax = std::max(vmax, L->clean[i]);
    if (off) {
      mean_off += L->intervened[i];
      vmax = std::max(vmax, L->intervened[i]);
      dmax = std::max(dmax, std::abs(L->intervened[i] - L->clean[i]));
    }
  }
  mean_clean /= n, mean_off /= n;
  // Header: what the strip is, the means, and the legend.
  ImGui::TextUnformatted("Per-token loss");
  if (ImGui::IsItemHovered())
    ImGui::SetTooltip("Each cell is one token: -log p(token | the tokens before it), in nats (natural log).\n"
                      "White: the model predicted it well; red: it was surprised.%s",
                      off ? "\nThe change row: red where turning the heads off made the prediction worse, blue better." : "");
  ImGui::SameLine();
  if (off) {
    ImGui::TextDisabled("mean over %d tokens: clean %.2f nats, with %s off %.2f nats (%+.2f)", n, mean_clean,
                        L->intervention.substr(0, L->intervention.rfind(" (")).c_str(), mean_off, mean_off - mean_clean);
  } else {
    ImGui::TextDisabled("mean over %d tokens: %.2f nats.  Turn a head off to compare the loss without it.", n, mean_clean);
  }
  if (!m_view.losses_current) {
    ImGui::SameLine();
    ImGui::TextColored(ImVec4(0.7f, 0.35f, 0, 1), "updating%s", m_view.losses_status.empty() ? "..." : (": " + m_view.losses_status).c_str());
  }
  ImDrawList* dl = ImGui::GetWindowDrawList();
  const float label_w = fh * 7.5f, legend_w = fh * 11;
  const ImVec2 p = ImGui::GetCursorScreenPos();
  const float W = std::max(fh * 8, ImGui::GetContentRegionAvail().x - label_w - legend_w);
  const float cw = W / n, row_h = fh * 1.15f;
  const int rows = off ? 4 : 2;  // tokens, clean[, off, change]
  const std::string off_heads = off ? L->intervention.substr(0, L->intervention.rfind(" (")) : "";
  const std::string off_label = off_heads.size() <= 10 ? off_heads + " off" : "heads off";
  const char* names[4] = {"next token", "clean", off_label.c_str(), "change"};
  const ImU32 text = ImGui::GetColorU32(ImGuiCol_Text), dim = ImGui::GetColorU32(ImGuiCol_TextDisabled);
  auto loss_color = [&](double v) { return widgets::ColormapColor(widgets::Colormap::Diverging, 0.5f + 0.5f * float(std::min(1.0, v / vmax))); };
  for (int r = 0; r < rows; ++r) {
    const float y = p.y + r * row_h;
    dl->AddText(ImVec2(p.x, y + (row_h - fh) * 0.5f), r == 0 ? dim : text, names[r]);
    for (int i = 0; i < n; ++i) {
      const ImVec2 c0(p.x + label_w + i * cw, y + 1), c1(p.x + label_w + (i + 1) * cw, y + row_h - 1);
      if (r == 0) {
        if (cw < fh * 0.5f) continue;  // too narrow for any label (a long prompt): hover names the token
        const char* t = m_loss_labels[i].c_str();
        const float tw = ImGui::CalcTextSize(t).x;
        if (tw <= cw - 1) dl->AddText(ImVec2(c0.x + (cw - tw) * 0.5f, y + (row_h - fh) * 0.5f), text, t);
        continue;
      }
      ImU32 col;
      if (r == 1) col = loss_color(L->clean[i]);
      else if (r == 2) col = loss_color(L->intervened[i]);
      else col = widgets::ColormapColor(widgets::Colormap::Diverging, 0.5f + 0.5f * float((L->intervened[i] - L->clean[i]) / dmax));
      dl->AddRectFilled(c0, ImVec2(std::max(c0.x + 1, c1.x - (cw > 4 ? 1 : 0)), c1.y), col);
    }
    if (r > 0)
      dl->AddRect(ImVec2(p.x + label_w - 1, y), ImVec2(p.x + label_w + W + 1, y + row_h), ImGui::GetColorU32(ImGuiCol_Border));
  }
  // Legend: loss 0..vmax (white to red) and the change -dmax..+dmax.
  auto gradient = [&](float x, float y, float w, float t0, float t1, const char* lo, const char* hi) {
    const int steps = 16;
    for (int k = 0; k < steps; ++k)
      dl->AddRectFilled(ImVec2(x + w * k / steps, y + 2), ImVec2(x + w * (k + 1) / steps + 0.5f, y + row_h - 2),
                        widgets::ColormapColor(widgets::Colormap::Diverging, t0 + (t1 - t0) * (k + 0.5f) / steps));
    dl->AddText(ImVec2(x - ImGui::CalcTextSize(lo).x - 3, y + (row_h - fh) * 0.5f), dim, lo);
    dl->AddText(ImVec2(x + w + 3, y + (row_h - fh) * 0.5f), dim, hi);
  };
  char lo[32], hi[32];
  const float lx = p.x + label_w + W + fh * 2.5f, lw = fh * 4.5f;
  std::snprintf(hi, sizeof hi, "%.1f nats", vmax);
  gradient(lx, p.y + row_h, lw, 0.5f, 1.0f, "0", hi);
  if (off) {
    std::snprintf(lo, sizeof lo, "-%.1f", dmax);
    std::snprintf(hi, sizeof hi, "+%.1f", dmax);
    gradient(lx, p.y + 3 * row_h, lw, 0.0f, 1.0f, lo, hi);
  }
  ImGui::InvisibleButton("##loss_strip", ImVec2(label_w + W, rows * row_h));
  if (ImGui::IsItemHovered()) {
    const float mx = ImGui::GetIO().MousePos.x - p.x - label_w;
    const int i = int(mx / cw);
    if (mx >= 0 && i >= 0 && i < n) {
      const int row = int((ImGui::GetIO().MousePos.y - p.y) / row_h);
      if (row >= 1) {
        const ImVec2 c0(p.x + label_w + i * cw, p.y + row_h), c1(p.x + label_w + (i + 1) * cw, p.y + rows * row_h);
        dl->AddRect(c0, c1, IM_COL32(0, 0, 0, 255), 0, 0, 1.5f);
      }
      ImGui::BeginTooltip();
      ImGui::Text("token %d: '%s'", i + 1, m_loss_labels[i].c_str());
      ImGui::TextDisabled("predicted from the %d tokens before it", i + 1);
      ImGui::Text("clean loss: %.3f nats (p = %.3f)", L->clean[i], std::exp(-L->clean[i]));
      if (off) {
        ImGui::Text("with %s: %.3f nats (p = %.3f)", L->intervention.c_str(), L->intervened[i], std::exp(-L->intervened[i]));
        ImGui::Text("change: %+.3f nats", L->intervened[i] - L->clean[i]);
      }
      ImGui::EndTooltip();
    }
  }
}

}  // namespace hs::app
