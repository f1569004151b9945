// headscope tokenize MODEL_DIR (--file F | TEXT) [--bos]: prints the token ids as one JSON array on
// one line. The tokenizer is picked by the files in MODEL_DIR (see tokenizers/tokenizer.h).
#include <CLI/CLI.hpp>
#include <iostream>
#include <memory>
#include <string>

#include "commands.h"
#include "io/atomic_file.h"
#include "tokenizers/tokenizer.h"

namespace hs::app {

namespace {
struct TokenizeOptions {
  std::string model_dir;
  std::string text;
  std::string file;  // read the text from here instead (raw bytes)
  bool bos = false;  // prepend the tokenizer's BOS (never done unless asked)
};

int RunTokenize(const TokenizeOptions& opt) {
  try {
    const std::string text = opt.file.empty() ? opt.text : io::ReadFile(opt.file);
    const auto tokenizer = tok::LoadTokenizer(opt.model_dir);
    tok::EncodeOptions encode;
    encode.add_bos = opt.bos;
    const std::vector<int64_t> ids = tok::EncodeText(*tokenizer, text, encode);
    std::string line = "[";
    for (size_t i = 0; i < ids.size(); ++i) line += (i ? "," : "") + std::to_string(ids[i]);
    std::cout << line << "]\n" << std::flush;
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "headscope tokenize: " << e.what() << "\n";
    return 1;
  }
}
}  // namespace

namespace {
void AddTokenize(CLI::App& cli) {
  auto opt = std::make_shared<TokenizeOptions>();
  auto* sub = cli.add_subcommand("tokenize", "Print the token ids of a text as one JSON array");
  sub->add_option("model_dir", opt->model_dir,
                  "Model folder (tokenizer.json, vocab.json + merges.txt, ...) or a cached hub id")
      ->required()
      ->transform(ModelArg());
  auto* text = sub->add_option("text", opt->text, "The text to encode");
  sub->add_option("--file", opt->file, "Encode the contents of this file instead")->excludes(text);
  sub->add_flag("--bos", opt->bos, "Prepend the tokenizer's BOS token (never added otherwise)");
  // Runs inside cli.parse(); its exit code leaves through CLI11's own exceptions, which main()
  // already turns into the process exit code, so main.cpp needs only the one registration line.
  sub->callback([opt, sub] {
    if (opt->file.empty() && sub->count("text") == 0) throw CLI::RequiredError("TEXT or --file");
    ExitWith(RunTokenize(*opt));
  });
}
const bool kTokenizeRegistered = RegisterCommand({"tokenize", 45, AddTokenize});
}  // namespace

}  // namespace hs::app
