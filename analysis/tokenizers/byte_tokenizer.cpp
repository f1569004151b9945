// The demo LM's byte tokenizer: ids 0..255 are the bytes, bos_id (256) is BOS.
// Described by headscope_tokenizer.json = {"type": "bytes", "bos_id": 256}.
#include <nlohmann/json.hpp>

#include <cstdio>
#include <stdexcept>

#include "io/atomic_file.h"
#include "io/json_text.h"
#include "tokenizers/loaders.h"

namespace hs::tok {

namespace {
class ByteTokenizer final : public Tokenizer {
 public:
  explicit ByteTokenizer(std::optional<int64_t> bos_id) : m_bos(bos_id) {}

  std::vector<int64_t> Encode(std::string_view utf8) const override {
    std::vector<int64_t> ids;
    ids.reserve(utf8.size());
    for (unsigned char b : utf8) ids.push_back(b);
    return ids;
  }
  std::string Decode(const std::vector<int64_t>& ids) const override {
    std::string out;
    for (const int64_t id : ids) {
      Check(id);
      if (id < 256) out.push_back(static_cast<char>(id));  // BOS stands for no text
    }
    return out;
  }
  std::string TokenText(int64_t id) const override {
    Check(id);
    if (id >= 256) return "<bos>";
    if (id >= 0x20 && id < 0x7F) return std::string(1, static_cast<char>(id));
    char buf[8];
    std::snprintf(buf, sizeof buf, "\\x%02X", static_cast<unsigned>(id));
    return buf;
  }
  int64_t VocabSize() const override { return m_bos ? *m_bos + 1 : 256; }
  std::optional<int64_t> BosId() const override { return m_bos; }
  std::string Kind() const override { return "bytes"; }

 private:
  void Check(int64_t id) const {
    if (id < 0 || (id >= 256 && id != m_bos)) {
      throw std::out_of_range("token id " + std::to_string(id) + " is not in the byte vocabulary");
    }
  }
  std::optional<int64_t> m_bos;
};
}  // namespace

std::unique_ptr<Tokenizer> LoadByteTokenizer(const std::filesystem::path& config_json) {
  const std::string where = config_json.string();
  const nlohmann::json j = io::ParseJson(ReadWholeFile(config_json), where);
  if (!j.is_object()) throw io::IoError(where + ": expected a JSON object like {\"type\": \"bytes\", \"bos_id\": 256}");
  if (!j.contains("type") || j["type"] != "bytes") {
    throw io::IoError(where + ": \"type\" must be \"bytes\" (the only headscope tokenizer type)");
  }
  std::optional<int64_t> bos;
  if (j.contains("bos_id") && !j["bos_id"].is_null()) {
    if (!j["bos_id"].is_number_integer() || j["bos_id"].get<int64_t>() != 256) {
      throw io::IoError(where + ": \"bos_id\" must be 256 (the id after the 256 bytes) or null");
    }
    bos = 256;
  }
  return std::make_unique<ByteTokenizer>(bos);
}

}  // namespace hs::tok
