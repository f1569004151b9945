// Test helper for tokenizer_ref.mjs: loads a tokenizer once and encodes every document of a JSONL
// corpus ({"name": ..., "text": ...} per line), writing one JSON array of ids per line.
//   tokenizer_ref_encode MODEL_DIR CORPUS.jsonl OUT.jsonl
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

#include "tokenizers/tokenizer.h"

int main(int argc, char** argv) {
  if (argc != 4) {
    std::cerr << "usage: tokenizer_ref_encode MODEL_DIR CORPUS.jsonl OUT.jsonl\n";
    return 2;
  }
  try {
    const auto tok = hs::tok::LoadTokenizer(argv[1]);
    std::ifstream in(argv[2], std::ios::binary);
    if (!in) throw std::runtime_error(std::string("cannot read ") + argv[2]);
    std::ofstream out(argv[3], std::ios::binary);
    std::string line;
    for (size_t n = 1; std::getline(in, line); ++n) {
      if (line.empty()) continue;
      const auto doc = nlohmann::json::parse(line);
      out << nlohmann::json(tok->Encode(doc.at("text").get<std::string>())).dump() << "\n";
    }
    if (!out) throw std::runtime_error(std::string("cannot write ") + argv[3]);
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "tokenizer_ref_encode: " << e.what() << "\n";
    return 1;
  }
}
