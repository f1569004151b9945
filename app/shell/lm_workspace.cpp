// [SECTION] Index
//   Model ............ OpenModel, Adopt (the model request's value)
//   Selection ........ SetPrompt, SelectHead, SelectStep, Update (model, prompt and plasticity requests)
//   Top bar .......... DrawTopBar: model picker, loading progress, training-step slider
//   Prompt bar ....... DrawPromptBar: prompt box, BOS, suggested prompts, status
//   Bars ............. DrawBars (the tabs are the Workspace base's)
#include "lm_workspace.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <imgui_internal.h>
#include <imgui_stdlib.h>
#include <iterator>
#include <stdexcept>

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
}  // namespace

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
}

void LmWorkspace::OpenModel(const fs::path& dir) {
  const LmModelKey key = LmModelKey::Of(dir);
  if (key == m_model_key) return;
  m_model_key = key;
  m_open_error.clear();
  const std::string category = m_view.category;
  m_view = LmView{};  // nothing of the previous model is shown again
  m_view.category = category;
  m_view.model_dir = dir;
  m_view.loading = "loading " + dir.string();
  m_analysis_model.clear();
  m_encoded_for.clear();
  m_requests.Cancel("lm_plasticity");  // the previous model's plasticity run stops
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
  const Result<lm::PromptAnalysis> r =
      m_requests.LmPrompt(m_view.model, key, m_prompt, m_tokens, {m_view.layer, m_view.head});
  if (m_analysis_model != model) m_view.analysis.reset();  // never another model's result
  m_view.analysis_current = r.value != nullptr;
  m_view.prompt_status = r.pending ? r.progress.what : "";
  m_view.prompt_fraction = r.pending ? r.progress.fraction : -1;
  if (r.value) m_view.analysis = r.value, m_analysis_model = model, m_analysis_key = key;
  // A head selected after the analysis ran: its pattern from the cached queries and keys.
  const auto& a = m_view.analysis;
  if (a && a->ok() && m_view.analysis_current && !a->Head(m_view.layer, m_view.head) &&
      m_view.layer < a->n_layers && m_view.head < a->n_heads) {
    const Result<LmHeadPattern> h =
        m_requests.HeadPattern(m_view.model, m_analysis_key, a->tokens, m_view.layer, m_view.head);
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
  return v;
}

void LmWorkspace::Apply(const PanelOutput& out) {
  if (out.head) SelectHead(out.head->first, out.head->second);
  if (out.prompt) SetPrompt(*out.prompt);
  if (out.category) m_view.category = *out.category;
  if (out.step) SelectStep(*out.step);
  if (out.compute_plasticity) m_plasticity_want = PlasticityWant::Compute;
  if (out.cancel_plasticity) {
    m_requests.Cancel("lm_plasticity");
    m_plasticity_want = PlasticityWant::Saved;
  }
  // An edit typed this frame starts now, not next frame.
  RequestPrompt();
  RequestPlasticity();
}

bool LmWorkspace::WaitingSelf() const {
  return !m_view.loading.empty() || (m_view.model && !m_view.analysis_current);
}

void LmWorkspace::AppendErrors(std::vector<std::string>& out) const {
  if (!m_view.error.empty()) out.push_back("model: " + m_view.error);
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
}

// [SECTION] Bars
void LmWorkspace::DrawBars() {
  DrawTopBar();
  DrawPromptBar();
}

}  // namespace hs::app
