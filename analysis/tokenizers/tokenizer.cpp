// LoadTokenizer: picks the format by the files present (see tokenizer.h).
#include "tokenizers/tokenizer.h"

#include <fstream>
#include <sstream>
#include <stdexcept>

#include "io/atomic_file.h"
#include "tokenizers/loaders.h"

namespace hs::tok {

namespace fs = std::filesystem;

std::string ReadWholeFile(const fs::path& path) {
  std::error_code ec;
  if (!fs::exists(path, ec)) throw io::IoError(path.string() + ": file not found");
  if (fs::is_directory(path, ec)) throw io::IoError(path.string() + ": is a folder, expected a file");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw io::IoError(path.string() + ": cannot open for reading");
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) throw io::IoError(path.string() + ": read failed");
  return ss.str();
}

std::unique_ptr<Tokenizer> LoadTokenizer(const fs::path& model_dir) {
  std::error_code ec;
  if (!fs::exists(model_dir, ec)) throw io::IoError(model_dir.string() + ": model folder not found");
  if (!fs::is_directory(model_dir, ec)) {
    throw io::IoError(model_dir.string() + ": not a folder (give the model folder that holds the tokenizer files)");
  }
  const auto has = [&](const char* name) { return fs::is_regular_file(model_dir / name, ec); };
  if (has("tokenizer.json")) {
    // Mistral, Gemma, Phi-3 and Llama 2 ship a SentencePiece-style
    // tokenizer.json (byte_fallback BPE, Metaspace) that headscope does not
    // implement, and the same tokenizer as tokenizer.model: read that one.
    try {
      return LoadHfTokenizer(model_dir / "tokenizer.json");
    } catch (const io::IoError&) {
      if (!has("tokenizer.model")) throw;
    }
    return LoadSentencePieceTokenizer(model_dir / "tokenizer.model");
  }
  if (has("vocab.json") && has("merges.txt")) {
    return LoadGpt2Tokenizer(model_dir / "vocab.json", model_dir / "merges.txt");
  }
  if (has("tokenizer.model")) return LoadSentencePieceTokenizer(model_dir / "tokenizer.model");
  if (has("headscope_tokenizer.json")) return LoadByteTokenizer(model_dir / "headscope_tokenizer.json");
  std::string hint;
  if (has("vocab.json")) hint = " (vocab.json is there but merges.txt is missing)";
  if (has("merges.txt")) hint = " (merges.txt is there but vocab.json is missing)";
  throw io::IoError(model_dir.string() +
                    ": no tokenizer found; expected tokenizer.json, vocab.json + merges.txt, tokenizer.model or "
                    "headscope_tokenizer.json" +
                    hint);
}

bool HasTokenizerFiles(const fs::path& model_dir) {
  std::error_code ec;
  // Any of them, even half a pair or a dangling link: LoadTokenizer then
  // says what is wrong with it.
  for (const char* name : {"tokenizer.json", "vocab.json", "merges.txt", "tokenizer.model", "headscope_tokenizer.json"})
    if (fs::exists(fs::symlink_status(model_dir / name, ec))) return true;
  return false;
}

namespace {
class IdsTokenizer : public Tokenizer {
 public:
  IdsTokenizer(int64_t vocab, fs::path dir) : m_vocab(vocab), m_dir(std::move(dir)) {}

  std::vector<int64_t> Encode(std::string_view text) const override {
    std::vector<int64_t> ids;
    size_t i = 0;
    auto sep = [](char c) { return c == ' ' || c == ',' || c == '\n' || c == '\t' || c == '\r'; };
    while (i < text.size()) {
      if (sep(text[i])) {
        ++i;
        continue;
      }
      int64_t v = 0;
      size_t j = i;
      while (j < text.size() && text[j] >= '0' && text[j] <= '9') {
        if (v <= m_vocab) v = v * 10 + (text[j] - '0');  // past the vocabulary: stays out of it, never overflows
        ++j;
      }
      if (j == i || (j < text.size() && !sep(text[j])))
        throw std::invalid_argument(m_dir.string() +
                                    " has no tokenizer files (tokenizer.json, vocab.json + merges.txt, "
                                    "tokenizer.model): give token ids separated by spaces, e.g. \"464 3290 318\"");
      if (v >= m_vocab)
        throw std::invalid_argument("token id " + std::string(text.substr(i, j - i)) + " is outside the vocabulary [0, " +
                                    std::to_string(m_vocab) + ")");
      ids.push_back(v);
      i = j;
    }
    return ids;
  }
  std::string Decode(const std::vector<int64_t>& ids) const override {
    std::string s;
    for (int64_t id : ids) s += (s.empty() ? "" : " ") + TokenText(id);
    return s;
  }
  std::string TokenText(int64_t id) const override {
    if (id < 0 || id >= m_vocab) throw std::out_of_range("token id " + std::to_string(id) + " outside the vocabulary");
    return "#" + std::to_string(id);
  }
  int64_t VocabSize() const override { return m_vocab; }
  std::optional<int64_t> BosId() const override { return std::nullopt; }
  std::string Kind() const override { return "ids"; }

 private:
  int64_t m_vocab;
  fs::path m_dir;
};
}  // namespace

std::unique_ptr<Tokenizer> IdsOnlyTokenizer(int64_t vocab_size, const fs::path& model_dir) {
  return std::make_unique<IdsTokenizer>(vocab_size, model_dir);
}

std::vector<int64_t> EncodeText(const Tokenizer& tok, std::string_view utf8, const EncodeOptions& opt) {
  std::vector<int64_t> ids;
  if (opt.add_bos) {
    const auto bos = tok.BosId();
    if (!bos) throw std::invalid_argument("the " + tok.Kind() + " tokenizer has no BOS token to prepend");
    ids.push_back(*bos);
  }
  const std::vector<int64_t> body = tok.Encode(utf8);
  ids.insert(ids.end(), body.begin(), body.end());
  return ids;
}

}  // namespace hs::tok
