// GPT-2's vocab.json + merges.txt, encoded exactly as OpenAI's encoder.py: the GPT-2 regex, bytes to
// vocabulary characters, and the merge loop that merges every occurrence of the best pair per pass.
// Like encoder.py, it knows no special tokens: "<|endoftext|>" in text is plain text. (A model
// folder with a tokenizer.json is loaded from that instead, with Hugging Face's added tokens.)
#include <nlohmann/json.hpp>

#include <stdexcept>

#include "io/atomic_file.h"
#include "io/json_text.h"
#include "tokenizers/byte_level_bpe.h"
#include "tokenizers/loaders.h"

namespace hs::tok {

namespace {
BpeModel::Vocab ParseVocab(const std::filesystem::path& path) {
  const std::string where = path.string();
  const nlohmann::json j = io::ParseJson(ReadWholeFile(path), where);
  if (!j.is_object()) throw io::IoError(where + ": expected a JSON object mapping tokens to ids");
  BpeModel::Vocab vocab;
  vocab.reserve(j.size());
  for (const auto& [token, id] : j.items()) {
    if (!id.is_number_integer()) throw io::IoError(where + ": the id of token '" + token + "' is not an integer");
    vocab.emplace(token, id.get<int64_t>());
  }
  return vocab;
}

// merges.txt: an optional "#version" line, then one "left right" pair per line, best first.
BpeModel::Merges ParseMerges(const std::filesystem::path& path) {
  const std::string text = ReadWholeFile(path);
  BpeModel::Merges merges;
  size_t line_no = 0;
  for (size_t pos = 0; pos < text.size();) {
    size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    std::string_view line(text.data() + pos, end - pos);
    pos = end + 1;
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty() || (line_no == 1 && line.rfind("#version", 0) == 0)) continue;
    const size_t space = line.find(' ');
    if (space == std::string_view::npos || space == 0 || space + 1 == line.size() ||
        line.find(' ', space + 1) != std::string_view::npos) {
      throw io::IoError(path.string() + ": line " + std::to_string(line_no) +
                        " is not two tokens separated by one space: '" + std::string(line) + "'");
    }
    merges.emplace_back(std::string(line.substr(0, space)), std::string(line.substr(space + 1)));
  }
  return merges;
}
}  // namespace

std::unique_ptr<Tokenizer> LoadGpt2Tokenizer(const std::filesystem::path& vocab_json,
                                             const std::filesystem::path& merges_txt) {
  BpeModel::Vocab vocab = ParseVocab(vocab_json);
  const BpeModel::Merges merges = ParseMerges(merges_txt);
  ByteLevelBpeConfig config;
  config.kind = "gpt2_bpe";
  // TransformerLens prepends <|endoftext|> as BOS for GPT-2; only on request here.
  if (const auto it = vocab.find("<|endoftext|>"); it != vocab.end()) config.bos_id = it->second;
  PreTokenizerStep byte_level;
  byte_level.type = PreTokenizerStep::Type::kByteLevel;
  config.pre_tokenizers.push_back(byte_level);
  BpeSettings settings;
  settings.order = MergeOrder::kAllOccurrencesPerPass;
  std::unique_ptr<BpeModel> model;
  try {
    model = std::make_unique<BpeModel>(std::move(vocab), merges, settings);
  } catch (const std::invalid_argument& e) {
    const bool about_a_merge = std::string_view(e.what()).rfind("merge ", 0) == 0;
    if (about_a_merge) throw io::IoError(merges_txt.string() + ": " + e.what() + " (" + vocab_json.string() + ")");
    throw io::IoError(vocab_json.string() + ": " + e.what());
  }
  return std::make_unique<ByteLevelBpeTokenizer>(std::move(config), std::move(model));
}

}  // namespace hs::tok
