// SentencePiece tokenizer.model (Llama-2-style models) through Debian's libsentencepiece. Built as
// the shared module headscope_sentencepiece (see sentencepiece_module.h for why).
// Encode is the processor's own (its normalizer, dummy prefix, byte fallback); BOS only on request.
#include <sentencepiece_processor.h>

#include <cstdio>
#include <stdexcept>

#include "tokenizers/sentencepiece_module.h"

namespace hs::tok {

namespace {
constexpr std::string_view kSpaceMark = "\xE2\x96\x81";  // U+2581 LOWER ONE EIGHTH BLOCK, SentencePiece's space

class SentencePieceTokenizer final : public Tokenizer {
 public:
  explicit SentencePieceTokenizer(std::unique_ptr<sentencepiece::SentencePieceProcessor> sp) : m_sp(std::move(sp)) {}

  std::vector<int64_t> Encode(std::string_view utf8) const override {
    std::vector<int> ids;
    const auto status = m_sp->Encode(utf8, &ids);
    if (!status.ok()) throw std::invalid_argument("SentencePiece cannot encode the text: " + status.ToString());
    return {ids.begin(), ids.end()};
  }
  std::string Decode(const std::vector<int64_t>& ids) const override {
    std::vector<int> narrow;
    narrow.reserve(ids.size());
    for (const int64_t id : ids) narrow.push_back(Check(id));
    std::string out;
    const auto status = m_sp->Decode(narrow, &out);
    if (!status.ok()) throw std::invalid_argument("SentencePiece cannot decode: " + status.ToString());
    return out;
  }
  std::string TokenText(int64_t id) const override {
    const int i = Check(id);
    const std::string& piece = m_sp->IdToPiece(i);
    unsigned byte = 0;
    if (m_sp->IsByte(i) && std::sscanf(piece.c_str(), "<0x%2X>", &byte) == 1) {  // byte fallback "<0x0A>"
      if (byte == '\n') return "\\n";
      if (byte == '\t') return "\\t";
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02X", byte);
      return buf;
    }
    if (m_sp->IsControl(i) || m_sp->IsUnknown(i)) return piece;  // "<s>", "</s>", "<unk>"
    std::string out;
    for (size_t p = 0; p < piece.size();) {
      if (piece.compare(p, kSpaceMark.size(), kSpaceMark) == 0) {
        out.push_back(' ');
        p += kSpaceMark.size();
      } else {
        out.push_back(piece[p++]);
      }
    }
    return out;
  }
  int64_t VocabSize() const override { return m_sp->GetPieceSize(); }
  std::optional<int64_t> BosId() const override {
    const int bos = m_sp->bos_id();
    return bos >= 0 ? std::optional<int64_t>(bos) : std::nullopt;
  }
  std::string Kind() const override { return "sentencepiece"; }

 private:
  int Check(int64_t id) const {
    if (id < 0 || id >= m_sp->GetPieceSize()) {
      throw std::out_of_range("token id " + std::to_string(id) + " is not in the vocabulary");
    }
    return static_cast<int>(id);
  }
  std::unique_ptr<sentencepiece::SentencePieceProcessor> m_sp;
};
}  // namespace

}  // namespace hs::tok

extern "C" __attribute__((visibility("default"))) hs::tok::Tokenizer* HsCreateSentencePieceTokenizer(
    const char* model_bytes, size_t size, std::string* error) {
  try {
    auto sp = std::make_unique<sentencepiece::SentencePieceProcessor>();
    const auto status = sp->LoadFromSerializedProto(std::string_view(model_bytes, size));
    if (!status.ok()) {
      *error = "not a SentencePiece model (" + status.ToString() + ")";
      return nullptr;
    }
    return new hs::tok::SentencePieceTokenizer(std::move(sp));
  } catch (const std::exception& e) {
    *error = e.what();
    return nullptr;
  }
}
