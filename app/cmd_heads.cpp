// `headscope heads MODEL_DIR (--prompt TEXT | --tokens 1,2,3)`: one forward,
// a per-layer, per-head summary of where attention goes, and optionally
// every pattern as .npz.
#include <cmath>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "commands.h"
#include "io/atomic_file.h"
#include "io/npz.h"
#include "lm/language_model.h"
#include "train/trainer.h"

namespace hs::app {
namespace {

// Where one head's attention goes, averaged over the query rows that can
// make the distinction.
struct HeadSummary {
  double previous_token = 0;  // mean attention of row i >= 1 on i - 1
  double first_token = 0;     // mean attention of row i >= 1 on position 0
  double self = 0;            // mean attention of row i >= 1 on itself
  double entropy = 0;         // mean row entropy / log(visible keys), rows i >= 1
};

HeadSummary Summarise(const float* a, int64_t T) {  // a: [T, T] row-major
  HeadSummary s;
  if (T < 2) return s;
  for (int64_t i = 1; i < T; ++i) {
    const float* row = a + i * T;
    s.previous_token += row[i - 1];
    s.first_token += row[0];
    s.self += row[i];
    double h = 0;
    for (int64_t j = 0; j <= i; ++j)
      if (row[j] > 0) h -= row[j] * std::log(double(row[j]));
    s.entropy += h / std::log(double(i + 1));
  }
  const double n = double(T - 1);
  s.previous_token /= n;
  s.first_token /= n;
  s.self /= n;
  s.entropy /= n;
  return s;
}

std::string Escape(const std::string& s) {
  std::string out;
  for (char c : s) out += (c == '\n') ? std::string("\\n") : std::string(1, c);
  return out;
}

}  // namespace

int RunHeads(const HeadsOptions& opt) {
  train::ConfigureTorchForInference(2);
  std::unique_ptr<lm::LanguageModel> lm;
  try {
    lm = lm::LanguageModel::Open(opt.model_dir);
  } catch (const std::exception& e) {
    std::cerr << "headscope heads: " << e.what() << "\n";
    return 1;
  }
  std::vector<int64_t> tokens;
  bool bos = false;
  if (!opt.tokens.empty()) {
    tokens = opt.tokens;  // as given; "bos" reports whether they start with one
    bos = lm->tokenizer().BosId() && tokens.front() == *lm->tokenizer().BosId();
  } else {
    bos = opt.bos == "yes" || (opt.bos == "auto" && lm->DefaultBos());
    try {
      tokens = lm->Encode(opt.prompt, bos);
    } catch (const std::exception& e) {
      std::cerr << "headscope heads: cannot encode the prompt: " << e.what() << "\n";
      return 1;
    }
  }
  io::Array patterns;
  try {
    patterns = lm->Patterns(tokens);
  } catch (const std::exception& e) {
    std::cerr << "headscope heads: " << e.what() << "\n";
    return 1;
  }
  const auto& c = lm->cfg();
  const int64_t T = int64_t(tokens.size());
  const std::vector<float> values = patterns.ToFloat();
  if (!opt.patterns_out.empty()) {
    try {
      io::WriteNpz(opt.patterns_out, {{"tokens", io::Array::I64({T}, tokens)}, {"patterns", patterns}});
    } catch (const std::exception& e) {
      std::cerr << "headscope heads: " << e.what() << "\n";
      return 1;
    }
  }
  nlohmann::json heads = nlohmann::json::array();
  std::ostringstream table;
  table << "layer head  prev-token first-token  self  entropy\n";
  for (int l = 0; l < c.n_layers; ++l)
    for (int h = 0; h < c.n_heads; ++h) {
      const HeadSummary s = Summarise(values.data() + (int64_t(l) * c.n_heads + h) * T * T, T);
      heads.push_back({{"layer", l},
                       {"head", h},
                       {"previous_token", s.previous_token},
                       {"first_token", s.first_token},
                       {"self", s.self},
                       {"entropy", s.entropy}});
      char line[128];
      std::snprintf(line, sizeof line, "%5d %4d  %10.3f %11.3f %5.3f %8.3f\n", l, h, s.previous_token, s.first_token,
                    s.self, s.entropy);
      table << line;
    }
  std::vector<std::string> texts;
  for (int64_t t : tokens) {
    try {
      texts.push_back(lm->tokenizer().TokenText(t));
    } catch (const std::exception&) {
      texts.push_back("?");
    }
  }
  if (opt.json) {
    std::cout << nlohmann::json{{"model", opt.model_dir},
                                {"model_type", lm->info().model_type},
                                {"n_layers", c.n_layers},
                                {"n_heads", c.n_heads},
                                {"bos", bos},
                                {"tokens", tokens},
                                {"token_text", texts},
                                {"heads", heads}}
                     .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)
              << "\n";
    return 0;
  }
  std::cout << opt.model_dir << " (" << lm->info().model_type << ", " << c.n_layers << " layers x " << c.n_heads
            << " heads): " << T << " tokens" << (bos ? ", BOS prepended" : "") << "\n  ";
  for (const auto& t : texts) std::cout << "[" << Escape(t) << "]";
  std::cout << "\nMean attention over query rows 1.." << T - 1
            << " (entropy: per row over log of the visible keys; 1 = uniform)\n"
            << table.str();
  return 0;
}

}  // namespace hs::app
