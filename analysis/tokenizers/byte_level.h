// Byte-level BPE's alphabet (GPT-2's bytes_to_unicode) and the UTF-8 helpers the tokenizers share.
//
// Byte-level vocabularies are written in 256 stand-in characters, one per byte, so that every byte
// string is a string of printable characters: "Ġthe" is the bytes " the".
#pragma once

#include <array>
#include <string>
#include <string_view>

namespace hs::tok {

// GPT-2's bytes_to_unicode: byte -> code point. The 188 printable Latin-1 bytes ('!'..'~',
// '¡'..'¬', '®'..'ÿ') stand for themselves; the other 68 (controls, space, 0x7F-0xA0, 0xAD) take
// U+0100, U+0101, ... in byte order, so space is 'Ġ' (U+0120) and newline 'Ċ' (U+010A).
const std::array<char32_t, 256>& BytesToUnicode();

// Raw bytes -> the vocabulary string that stands for them.
std::string BytesToVocabString(std::string_view bytes);
// Vocabulary string -> raw bytes. False if `vocab` is not valid UTF-8 or holds a character that
// stands for no byte (a vocabulary that is not byte-level); `bytes` then holds what came before.
bool VocabStringToBytes(std::string_view vocab, std::string* bytes);

// A label for raw bytes: printable UTF-8 as it is, "\n" "\t" "\r" as escapes, every other control
// byte, C1 control and byte of a cut or invalid UTF-8 sequence as "\xNN".
std::string ReadableBytes(std::string_view bytes);

// Appends the UTF-8 encoding of `cp` (which must be a Unicode scalar value).
void AppendUtf8(char32_t cp, std::string* out);
// Decodes the UTF-8 sequence starting at s[i]. Returns its length (1-4) and sets *cp, or 0 if the
// bytes there are not a valid, shortest-form encoding of a scalar value.
int DecodeUtf8(std::string_view s, size_t i, char32_t* cp);
// Byte offset of the first invalid UTF-8 sequence, or npos if `s` is valid.
size_t FindInvalidUtf8(std::string_view s);

}  // namespace hs::tok
