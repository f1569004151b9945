// The explorer's state file (see state_file.h).
#include "state_file.h"

#include <cstdio>

#include "io/atomic_file.h"
#include "io/json_text.h"

namespace hs::app {
namespace fs = std::filesystem;

RememberedView LoadRememberedView(const fs::path& file) {
  RememberedView v;
  try {
    const auto j = io::ParseJson(io::ReadFile(file), file.string());
    if (j.contains("lm") && j["lm"].is_object()) {
      const auto& l = j["lm"];
      const fs::path model = l.value("model", std::string());
      if (!model.empty() && fs::exists(model / "config.json")) v.lm_model = model;
      v.lm_prompt = l.value("prompt", std::string());
      v.lm_step = l.value("step", -1);
      v.lm_shown = j.value("workspace", std::string()) == "lm";
    }
    const fs::path run = j.value("run", std::string());
    if (run.empty() || !fs::exists(run / "config.json")) return v;
    v.run = run;
    v.epoch = j.value("epoch", -1);
    if (j.contains("pair") && j["pair"].is_array() && j["pair"].size() == 2) {
      v.query_pos = j["pair"][0].get<int>();
      v.key_pos = j["pair"][1].get<int>();
    }
  } catch (const std::exception&) {  // no file or a broken one (any key of the wrong type): defaults
    return v.run.empty() ? v : RememberedView{};
  }
  return v;
}

bool SaveRememberedView(const nlohmann::json& state, const fs::path& file) {
  try {
    io::WriteFileAtomic(file, state.dump(2) + "\n");
    return true;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "headscope: could not remember the view: %s\n", e.what());
    return false;
  }
}

}  // namespace hs::app
