// Hugging Face tokenizer.json -> ByteLevelBpeTokenizer (byte-level BPE models: Qwen2/3, Llama 3,
// SmolLM2, GPT-NeoX, GPT-2). Everything the file asks for that we do not implement is refused with
// an IoError naming it, never silently approximated.
//
// Supported: model BPE (merges as "a b" strings or [a, b] pairs; ignore_merges; unk_token);
// normalizer null, NFC, NFD, NFKC, NFKD, Sequence of those; pre_tokenizer ByteLevel, Split
// (Regex or String pattern, every behavior, invert), Digits, Sequence of those; added_tokens with
// single_word, lstrip, rstrip, normalized, special. The post-processor and decoder are not run
// (BOS is an explicit setting; decoding is byte-level).
#include <nlohmann/json.hpp>

#include <algorithm>
#include <stdexcept>

#include "io/atomic_file.h"
#include "io/json_text.h"
#include "tokenizers/byte_level_bpe.h"
#include "tokenizers/loaders.h"

namespace hs::tok {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {
// Thrown while reading the file; LoadHfTokenizer prefixes the path.
struct Unsupported : std::runtime_error {
  using std::runtime_error::runtime_error;
};

std::string TypeOf(const json& j) { return j.is_object() && j.contains("type") ? j["type"].get<std::string>() : ""; }

void ParseNormalizer(const json& j, std::vector<UnicodeForm>* out) {
  if (j.is_null()) return;
  const std::string type = TypeOf(j);
  if (type == "NFC") {
    out->push_back(UnicodeForm::kNfc);
  } else if (type == "NFD") {
    out->push_back(UnicodeForm::kNfd);
  } else if (type == "NFKC") {
    out->push_back(UnicodeForm::kNfkc);
  } else if (type == "NFKD") {
    out->push_back(UnicodeForm::kNfkd);
  } else if (type == "Sequence") {
    for (const json& n : j.at("normalizers")) ParseNormalizer(n, out);
  } else {
    throw Unsupported("normalizer '" + type + "' is not supported (only NFC, NFD, NFKC, NFKD and Sequence of them)");
  }
}

SplitBehavior ParseBehavior(const std::string& s) {
  if (s == "Removed") return SplitBehavior::kRemoved;
  if (s == "Isolated") return SplitBehavior::kIsolated;
  if (s == "MergedWithPrevious") return SplitBehavior::kMergedWithPrevious;
  if (s == "MergedWithNext") return SplitBehavior::kMergedWithNext;
  if (s == "Contiguous") return SplitBehavior::kContiguous;
  throw Unsupported("Split behavior '" + s + "' is unknown");
}

void ParsePreTokenizer(const json& j, std::vector<PreTokenizerStep>* out) {
  if (j.is_null()) return;
  const std::string type = TypeOf(j);
  PreTokenizerStep step;
  if (type == "Sequence") {
    for (const json& p : j.at("pretokenizers")) ParsePreTokenizer(p, out);
    return;
  } else if (type == "ByteLevel") {
    step.type = PreTokenizerStep::Type::kByteLevel;
    step.add_prefix_space = j.value("add_prefix_space", true);
    step.use_regex = j.value("use_regex", true);
  } else if (type == "Split") {
    const json& pattern = j.at("pattern");
    if (pattern.contains("Regex")) {
      step.regex = std::make_shared<UnicodeRegex>(pattern["Regex"].get<std::string>());
    } else if (pattern.contains("String")) {
      step.regex = std::make_shared<UnicodeRegex>(pattern["String"].get<std::string>(), UnicodeRegex::Syntax::kLiteral);
    } else {
      throw Unsupported("Split pattern must be {\"Regex\": ...} or {\"String\": ...}");
    }
    step.behavior = ParseBehavior(j.at("behavior").get<std::string>());
    step.invert = j.value("invert", false);
  } else if (type == "Digits") {
    // Rust's char::is_numeric is \p{N}; each digit alone, or runs of digits together.
    step.regex = std::make_shared<UnicodeRegex>(R"(\p{N})");
    step.behavior = j.value("individual_digits", false) ? SplitBehavior::kIsolated : SplitBehavior::kContiguous;
  } else {
    throw Unsupported("pre_tokenizer '" + type +
                      "' is not supported (only ByteLevel, Split, Digits and Sequence of them: byte-level BPE)");
  }
  out->push_back(std::move(step));
}

BpeModel::Merges ParseMerges(const json& merges) {
  BpeModel::Merges out;
  out.reserve(merges.size());
  for (size_t i = 0; i < merges.size(); ++i) {
    const json& m = merges[i];
    if (m.is_string()) {  // "a b" (tokenizers < 0.20)
      const std::string s = m.get<std::string>();
      const size_t space = s.find(' ');
      if (space == std::string::npos || s.find(' ', space + 1) != std::string::npos) {
        throw Unsupported("model.merges[" + std::to_string(i) + "] '" + s + "' is not two tokens separated by a space");
      }
      out.emplace_back(s.substr(0, space), s.substr(space + 1));
    } else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string()) {  // ["a", "b"]
      out.emplace_back(m[0].get<std::string>(), m[1].get<std::string>());
    } else {
      throw Unsupported("model.merges[" + std::to_string(i) +
                        "] is neither \"a b\" nor [\"a\", \"b\"]: " + io::BriefJson(m));
    }
  }
  return out;
}

// The id of a token named in tokenizer_config.json or a post-processor, if it exists.
std::optional<int64_t> FindTokenId(const std::string& content, const ByteLevelBpeConfig& config,
                                   const BpeModel& model) {
  for (const AddedToken& t : config.added_tokens) {
    if (t.content == content) return t.id;
  }
  return model.TokenToId(content);
}

// BOS: tokenizer_config.json's bos_token, else the first special token of a TemplateProcessing
// post-processor (Llama 3's <|begin_of_text|>). Qwen names none.
std::optional<int64_t> FindBos(const fs::path& tokenizer_json, const json& j, const ByteLevelBpeConfig& config,
                               const BpeModel& model) {
  const fs::path config_path = tokenizer_json.parent_path() / "tokenizer_config.json";
  std::error_code ec;
  if (fs::is_regular_file(config_path, ec)) {
    const json c = io::ParseJson(ReadWholeFile(config_path), config_path.string());
    if (c.is_object() && c.contains("bos_token")) {
      const json& b = c["bos_token"];
      std::string content;
      if (b.is_string()) content = b.get<std::string>();
      if (b.is_object() && b.contains("content") && b["content"].is_string()) content = b["content"].get<std::string>();
      if (!content.empty()) {
        const auto id = FindTokenId(content, config, model);
        if (!id) throw io::IoError(config_path.string() + ": bos_token '" + content + "' is not in the vocabulary");
        return id;
      }
      if (b.is_null()) return std::nullopt;
    }
  }
  std::vector<const json*> processors;
  if (j.contains("post_processor") && j["post_processor"].is_object()) {
    const json& pp = j["post_processor"];
    if (TypeOf(pp) == "Sequence" && pp.contains("processors")) {
      for (const json& p : pp["processors"]) processors.push_back(&p);
    } else {
      processors.push_back(&pp);
    }
  }
  for (const json* pp : processors) {
    if (TypeOf(*pp) != "TemplateProcessing" || !pp->contains("single")) continue;
    const json& single = (*pp)["single"];
    if (single.empty() || !single[0].contains("SpecialToken")) continue;
    const std::string name = single[0]["SpecialToken"].at("id").get<std::string>();
    if (pp->contains("special_tokens") && (*pp)["special_tokens"].contains(name)) {
      const json& ids = (*pp)["special_tokens"][name].at("ids");
      if (!ids.empty()) {
        // The id is used as given (prepended with --bos), so it must be a token of this tokenizer.
        const int64_t id = ids[0].get<int64_t>();
        const bool known =
            model.IdToToken(id) != nullptr || std::any_of(config.added_tokens.begin(), config.added_tokens.end(),
                                                          [&](const AddedToken& t) { return t.id == id; });
        if (!known)
          throw Unsupported("post_processor: BOS '" + name + "' has id " + std::to_string(id) +
                            ", which is not a token of this tokenizer");
        return id;
      }
    }
    return FindTokenId(name, config, model);
  }
  return std::nullopt;
}
}  // namespace

std::unique_ptr<Tokenizer> LoadHfTokenizer(const fs::path& path) {
  const std::string where = path.string();
  json j = io::ParseJson(ReadWholeFile(path), where);
  try {
    if (!j.is_object() || !j.contains("model") || !j["model"].is_object()) {
      throw Unsupported("no \"model\" object (is this a Hugging Face tokenizer.json?)");
    }
    const json& m = j["model"];
    const std::string model_type = m.contains("type") ? m["type"].get<std::string>() : "BPE";
    if (model_type != "BPE") {
      throw Unsupported("model type '" + model_type + "' is not supported (only byte-level BPE)");
    }
    if (m.value("byte_fallback", false)) {
      throw Unsupported(
          "BPE with byte_fallback (SentencePiece-style) is not supported; use the model's tokenizer.model");
    }
    for (const char* key : {"continuing_subword_prefix", "end_of_word_suffix"}) {
      if (m.contains(key) && m[key].is_string() && !m[key].get<std::string>().empty()) {
        throw Unsupported(std::string("BPE with a ") + key + " is not supported (not byte-level)");
      }
    }
    if (m.contains("dropout") && !m["dropout"].is_null() && m["dropout"].get<double>() != 0.0) {
      throw Unsupported("BPE dropout is set; encoding would be random");
    }
    if (!m.contains("vocab") || !m["vocab"].is_object()) throw Unsupported("model.vocab is not an object");
    if (!m.contains("merges") || !m["merges"].is_array()) throw Unsupported("model.merges is not an array");

    BpeModel::Vocab vocab;
    vocab.reserve(m["vocab"].size());
    for (const auto& [token, id] : m["vocab"].items()) {
      if (!id.is_number_integer()) throw Unsupported("model.vocab: the id of '" + token + "' is not an integer");
      vocab.emplace(token, id.get<int64_t>());
    }
    BpeSettings settings;
    settings.order = MergeOrder::kLowestRankFirst;
    settings.ignore_merges = m.value("ignore_merges", false);
    if (m.contains("unk_token") && m["unk_token"].is_string()) {
      const auto it = vocab.find(m["unk_token"].get<std::string>());
      if (it == vocab.end())
        throw Unsupported("model.unk_token '" + m["unk_token"].get<std::string>() + "' is not in model.vocab");
      settings.unk_id = it->second;
    }
    auto model = std::make_unique<BpeModel>(std::move(vocab), ParseMerges(m["merges"]), settings);

    ByteLevelBpeConfig config;
    config.kind = "hf_bpe";
    ParseNormalizer(j.value("normalizer", json()), &config.normalizers);
    ParsePreTokenizer(j.value("pre_tokenizer", json()), &config.pre_tokenizers);
    const bool byte_level = std::any_of(config.pre_tokenizers.begin(), config.pre_tokenizers.end(),
                                        [](const auto& s) { return s.type == PreTokenizerStep::Type::kByteLevel; });
    if (!byte_level) throw Unsupported("pre_tokenizer has no ByteLevel step; only byte-level BPE is supported");
    if (j.contains("added_tokens") && !j["added_tokens"].is_null()) {
      for (const json& a : j["added_tokens"]) {
        AddedToken t;
        t.id = a.at("id").get<int64_t>();
        t.content = a.at("content").get<std::string>();
        t.special = a.value("special", false);
        t.single_word = a.value("single_word", false);
        t.lstrip = a.value("lstrip", false);
        t.rstrip = a.value("rstrip", false);
        t.normalized = a.value("normalized", !t.special);
        if (t.id < 0 || t.id > kMaxTokenId)
          throw Unsupported("added token '" + t.content + "' has id " + std::to_string(t.id) + ", outside [0, 2^24)");
        config.added_tokens.push_back(std::move(t));
      }
    }
    config.bos_id = FindBos(path, j, config, *model);
    return std::make_unique<ByteLevelBpeTokenizer>(std::move(config), std::move(model));
  } catch (const io::IoError&) {
    throw;
  } catch (const json::exception& e) {
    throw io::IoError(where + ": unexpected structure (" + e.what() + ")");
  } catch (const std::exception& e) {  // Unsupported, bad merges (BpeModel), regexes that do not compile
    throw io::IoError(where + ": " + e.what());
  }
}

}  // namespace hs::tok
