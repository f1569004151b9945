// The SentencePiece tokenizer lives in its own shared module (headscope_sentencepiece), opened on
// first use with dlopen(RTLD_LOCAL | RTLD_DEEPBIND), never linked into the executables.
//
// Why: Debian's libsentencepiece.so.0 carries its own copy of protobuf-lite (3.14-era) and exports
// those symbols. libtorch needs the system libprotobuf.so.32 (3.21). Linked into one program, the two
// interpose each other and the program crashes in libprotobuf's static initialisation before
// main(). Opened locally with deep binding, libsentencepiece keeps its own protobuf and stays out of
// the global symbol scope.
#pragma once

#include <cstddef>
#include <string>

#include "tokenizers/tokenizer.h"

// Builds a tokenizer from the bytes of a tokenizer.model. On failure returns nullptr and sets *error.
// The caller owns the result (delete through Tokenizer's virtual destructor; the module stays loaded).
extern "C" hs::tok::Tokenizer* HsCreateSentencePieceTokenizer(const char* model_bytes, size_t size, std::string* error);
inline constexpr const char* kHsCreateSentencePieceTokenizer = "HsCreateSentencePieceTokenizer";
