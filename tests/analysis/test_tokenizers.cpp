// Tokenizers: byte alphabet, BPE on hand-made vocabularies (ids derived by hand), the merge-order
// difference between encoder.py and Hugging Face, added tokens, ignore_merges, \s semantics, errors
// that name the file, the byte tokenizer, and SentencePiece against Debian's spm_encode.
// The comparison with the real GPT-2 and Qwen3 vocabularies is tokenizer_ref.mjs.
#include <sentencepiece_trainer.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <thread>

#include "analysis/test_util.h"
#include "io/atomic_file.h"
#include "tokenizers/byte_level.h"
#include "tokenizers/byte_level_bpe.h"
#include "tokenizers/tokenizer.h"
#include "tokenizers/unicode_regex.h"

using hs::test::TempDir;
using namespace hs::tok;
using Ids = std::vector<int64_t>;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {
void WriteFile(const fs::path& p, const std::string& text) {
  std::ofstream out(p, std::ios::binary);
  out << text;
}

// Qwen2/Qwen3's pre-tokenizer regex, as in their tokenizer.json.
const char* kQwenPattern =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

// A byte-level vocabulary whose first 256 ids are the bytes themselves (id b = byte b), so that
// unmerged text encodes to its own bytes; `extra` tokens (in vocabulary characters) follow.
json ByteVocab(const std::vector<std::string>& extra) {
  json vocab = json::object();
  for (int b = 0; b < 256; ++b) vocab[BytesToVocabString(std::string(1, static_cast<char>(b)))] = b;
  int64_t id = 256;
  for (const auto& t : extra) vocab[t] = id++;
  return vocab;
}

Ids Bytes(std::string_view s) {
  Ids ids;
  for (unsigned char c : s) ids.push_back(c);
  return ids;
}

// A tokenizer.json with GPT-2's ByteLevel pre-tokenizer (or `pre_tokenizer` if given).
json HfJson(json vocab, json merges, json pre_tokenizer = nullptr) {
  if (pre_tokenizer.is_null()) {
    pre_tokenizer = {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", true}, {"use_regex", true}};
  }
  return {{"version", "1.0"},
          {"added_tokens", json::array()},
          {"normalizer", nullptr},
          {"pre_tokenizer", pre_tokenizer},
          {"model",
           {{"type", "BPE"},
            {"dropout", nullptr},
            {"unk_token", nullptr},
            {"ignore_merges", false},
            {"byte_fallback", false},
            {"vocab", std::move(vocab)},
            {"merges", std::move(merges)}}}};
}

std::unique_ptr<Tokenizer> LoadHf(const TempDir& dir, const json& j) {
  WriteFile(dir.path / "tokenizer.json", j.dump());
  return LoadTokenizer(dir.path);
}

// The message of the IoError LoadTokenizer throws for `dir` (fails the test if none is thrown).
std::string LoadError(const fs::path& dir) {
  try {
    LoadTokenizer(dir);
  } catch (const hs::io::IoError& e) {
    return e.what();
  }
  FAIL("LoadTokenizer(" << dir << ") did not throw");
  return "";
}

std::vector<std::string> PreTokens(const Tokenizer& tok, std::string_view text) {
  return dynamic_cast<const ByteLevelBpeTokenizer&>(tok).PreTokenize(text);
}
}  // namespace

TEST_CASE("bytes_to_unicode is a bijection onto 256 printable code points", "[tokenizers]") {
  const auto& map = BytesToUnicode();
  std::set<char32_t> images(map.begin(), map.end());
  CHECK(images.size() == 256);
  for (int b = 0; b < 256; ++b) {
    const char32_t cp = map[b];
    INFO("byte " << b << " -> U+" << std::hex << static_cast<uint32_t>(cp));
    // Printable: not C0/C1 control, not space, not DEL, not the soft hyphen.
    CHECK_FALSE(cp <= 0x20);
    CHECK_FALSE((cp >= 0x7F && cp <= 0xA0));
    CHECK(cp != 0xAD);
    CHECK(cp < 0x144);  // 188 bytes stand for themselves, 68 take U+0100..U+0143
    std::string bytes;
    REQUIRE(VocabStringToBytes(BytesToVocabString(std::string(1, static_cast<char>(b))), &bytes));
    CHECK(bytes == std::string(1, static_cast<char>(b)));
  }
  // The famous ones: space is 'Ġ', newline 'Ċ', printable ASCII stands for itself.
  CHECK(map[' '] == U'\u0120');
  CHECK(map['\n'] == U'\u010A');
  CHECK(map['A'] == U'A');
  CHECK(map[0xAD] == U'\u0143');
  CHECK(BytesToVocabString(" the\n") == "\xC4\xA0the\xC4\x8A");
}

TEST_CASE("UTF-8 helpers and readable token labels", "[tokenizers]") {
  CHECK(FindInvalidUtf8("h\xC3\xA9llo") == std::string_view::npos);
  CHECK(FindInvalidUtf8("ab\xC3") == 2);        // cut sequence
  CHECK(FindInvalidUtf8("a\xC0\xAF") == 1);     // overlong '/'
  CHECK(FindInvalidUtf8("\xED\xA0\x80") == 0);  // surrogate
  CHECK(ReadableBytes(" the") == " the");
  CHECK(ReadableBytes("\n\t") == "\\n\\t");
  CHECK(ReadableBytes("\x01") == "\\x01");
  CHECK(ReadableBytes("\xE2\x80") == "\\xE2\\x80");  // a cut character
  CHECK(ReadableBytes("\xC2\x85") == "\\xC2\\x85");  // a C1 control
  CHECK(ReadableBytes("caf\xC3\xA9") == "caf\xC3\xA9");
}

TEST_CASE("\\s is Unicode White_Space, not PCRE2's (which adds U+180E)", "[tokenizers]") {
  // Pattern rewriting, inside and outside classes.
  CHECK(WhitespaceExactPattern(R"(\s+(?!\S))").find("\\s") == std::string::npos);
  CHECK(WhitespaceExactPattern(R"([^\s\p{L}])").rfind("[^\\x{9}-\\x{D}", 0) == 0);
  CHECK(WhitespaceExactPattern(R"(\\s)") == R"(\\s)");  // an escaped backslash, then 's'
  CHECK_THROWS_AS(WhitespaceExactPattern(R"([\S])"), std::invalid_argument);

  UnicodeRegex ws(R"(\s)");
  const auto is_space = [&](char32_t cp) {
    std::string s;
    AppendUtf8(cp, &s);
    return !ws.FindAll(s).empty();
  };
  for (char32_t cp :
       {0x9, 0xA, 0xB, 0xC, 0xD, 0x20, 0x85, 0xA0, 0x1680, 0x2000, 0x200A, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000}) {
    INFO("U+" << std::hex << static_cast<uint32_t>(cp));
    CHECK(is_space(cp));
  }
  for (char32_t cp : {0x180E, 0xFEFF, 0x200B, 0x1C, 0x1F, 0x61}) {
    INFO("U+" << std::hex << static_cast<uint32_t>(cp));
    CHECK_FALSE(is_space(cp));
  }
}

TEST_CASE("GPT-2 regex splits as encoder.py: contractions are case-sensitive, \\s is White_Space", "[tokenizers]") {
  TempDir dir("tok_gpt2_regex");
  WriteFile(dir.path / "vocab.json", ByteVocab({}).dump());
  WriteFile(dir.path / "merges.txt", "#version: 0.2\n");
  auto tok = LoadTokenizer(dir.path);
  REQUIRE(tok->Kind() == "gpt2_bpe");
  const std::string G = "\xC4\xA0";  // 'Ġ', the space
  using V = std::vector<std::string>;
  CHECK(PreTokens(*tok, "I'M you're") == V{"I", "'", "M", G + "you", "'re"});
  CHECK(PreTokens(*tok, "a  b") == V{"a", G, G + "b"});  // \s+(?!\S) leaves the last space to the word
  CHECK(PreTokens(*tok, "x1234 !?") == V{"x", "1234", G + "!?"});
  // U+0085 (NEL) and U+3000 are \s: the run " X" splits before them. U+180E and U+FEFF are not:
  // " X" is one punctuation piece.
  CHECK(PreTokens(*tok, "a \xC2\x85z") == V{"a", G, BytesToVocabString("\xC2\x85"), "z"});
  CHECK(PreTokens(*tok, "a \xE3\x80\x80z") == V{"a", G, BytesToVocabString("\xE3\x80\x80"), "z"});
  CHECK(PreTokens(*tok, "a \xE1\xA0\x8Ez") == V{"a", BytesToVocabString(" \xE1\xA0\x8E"), "z"});
  CHECK(PreTokens(*tok, "a \xEF\xBB\xBFz") == V{"a", BytesToVocabString(" \xEF\xBB\xBF"), "z"});
  // No merges: ids are the bytes.
  CHECK(tok->Encode("Hi there\n") == Bytes("Hi there\n"));
  CHECK_THROWS_AS(tok->Encode("bad \xFF byte"), std::invalid_argument);
}

TEST_CASE("BPE on a hand-made vocabulary gives the hand-derived ids", "[tokenizers]") {
  TempDir dir("tok_bpe_hand");
  const std::string G = "\xC4\xA0";
  // ids: 256 "ab", 257 "Ġa", 258 "Ġab", 259 "abab", 260 "th", 261 "the", 262 "Ġthe"
  WriteFile(dir.path / "vocab.json", ByteVocab({"ab", G + "a", G + "ab", "abab", "th", "the", G + "the"}).dump());
  WriteFile(dir.path / "merges.txt",
            "#version: 0.2\na b\n" + G + " a\n" + G + "a b\nab ab\nt h\nth e\n" + G + " the\n");
  auto tok = LoadTokenizer(dir.path);
  // "abab": a b a b -> (a b) rank 0 everywhere -> ab ab -> (ab ab) rank 3 -> abab.
  CHECK(tok->Encode("abab") == Ids{259});
  // " ab": Ġ a b -> (a b) rank 0 beats (Ġ a) rank 1 -> Ġ ab; no merge (Ġ ab) -> [Ġ, ab].
  CHECK(tok->Encode(" ab") == Ids{' ', 256});
  // " the": Ġ t h e -> th -> the -> (Ġ the) -> Ġthe.
  CHECK(tok->Encode(" the") == Ids{262});
  // "the abab": "the" + " abab" (Ġ a b a b -> Ġ ab ab -> Ġ abab).
  CHECK(tok->Encode("the abab") == Ids{261, ' ', 259});
  CHECK(tok->Decode({261, ' ', 259}) == "the abab");
  CHECK(tok->TokenText(262) == " the");
  CHECK(tok->TokenText('\n') == "\\n");
  CHECK(tok->TokenText(0xE2) == "\\xE2");
  CHECK(tok->VocabSize() == 263);
  CHECK_FALSE(tok->BosId());  // this vocabulary has no <|endoftext|>
  CHECK_THROWS_AS(tok->TokenText(263), std::out_of_range);
  CHECK_THROWS_AS(tok->Decode({-1}), std::out_of_range);
}

TEST_CASE("Merge order: encoder.py merges a pair everywhere per pass, Hugging Face lowest rank first", "[tokenizers]") {
  // A merges list no trainer would write: (ab a) ranks before (a b), which makes it.
  const json vocab = ByteVocab({"ab", "aba"});  // 256 ab, 257 aba
  {
    TempDir dir("tok_order_gpt2");
    WriteFile(dir.path / "vocab.json", vocab.dump());
    WriteFile(dir.path / "merges.txt", "#version: 0.2\nab a\na b\n");
    // a b a b: (a b) is the best pair present -> ab ab; (ab ab) is no merge.
    CHECK(LoadTokenizer(dir.path)->Encode("abab") == Ids{256, 256});
  }
  {
    TempDir dir("tok_order_hf");
    // a b a b: merge (a b) at 0 -> ab a b; now (ab a) rank 0 is best -> aba b.
    CHECK(LoadHf(dir, HfJson(vocab, json::array({"ab a", "a b"})))->Encode("abab") == Ids{257, 'b'});
  }
}

TEST_CASE("tokenizer.json merges as strings and as pairs, added tokens split first", "[tokenizers]") {
  TempDir dir("tok_hf_added");
  // 256 "ab"
  json j = HfJson(ByteVocab({"ab"}), json::array({json::array({"a", "b"})}));
  j["added_tokens"] = json::array({
      {{"id", 300}, {"content", "<|x|>"}, {"special", true}, {"normalized", false}},
      {{"id", 301}, {"content", "<|xy|>"}, {"special", true}, {"normalized", false}},
      {{"id", 302}, {"content", "<m>"}, {"special", false}, {"lstrip", true}, {"rstrip", true}, {"normalized", false}},
      {{"id", 303}, {"content", "cd"}, {"special", false}, {"single_word", true}, {"normalized", false}},
  });
  auto tok = LoadHf(dir, j);
  CHECK(tok->Kind() == "hf_bpe");
  CHECK(tok->VocabSize() == 304);
  // Longest match wins at the leftmost position; the rest is byte-level BPE.
  CHECK(tok->Encode("ab<|xy|>ab<|x|>") == Ids{256, 301, 256, 300});
  // lstrip/rstrip swallow the spaces around <m>.
  CHECK(tok->Encode("a <m> b") == Ids{'a', 302, 'b'});
  // single_word: "cd" alone is the token; inside "xcd" it is text.
  CHECK(tok->Encode("cd xcd") == Ids{303, ' ', 'x', 'c', 'd'});
  CHECK(tok->TokenText(301) == "<|xy|>");
  CHECK(tok->Decode({256, 301, ' '}) == "ab<|xy|> ");
}

TEST_CASE("tokenizer.json normalizer NFC and normalized added tokens", "[tokenizers]") {
  TempDir dir("tok_hf_nfc");
  json j = HfJson(ByteVocab({}), json::array());
  j["normalizer"] = {{"type", "NFC"}};
  const std::string e_acute = "\xC3\xA9";  // U+00E9
  const std::string e_comb = "e\xCC\x81";  // e + U+0301
  j["added_tokens"] = json::array({{{"id", 400}, {"content", e_acute}, {"special", false}, {"normalized", true}}});
  auto tok = LoadHf(dir, j);
  // NFD text is composed first, then the normalized added token matches it.
  CHECK(tok->Encode(e_comb) == Ids{400});
  CHECK(tok->Encode("caf" + e_comb + "s") == Ids{'c', 'a', 'f', 400, 's'});
  // Without the added token, NFC still applies: the bytes of U+00E9.
  j["added_tokens"] = json::array();
  auto plain = LoadHf(dir, j);
  CHECK(plain->Encode(e_comb) == Bytes(e_acute));
  // normalized=false: matched in the raw text only, so NFD input does not match it.
  j["added_tokens"] = json::array({{{"id", 400}, {"content", e_acute}, {"special", false}, {"normalized", false}}});
  auto raw = LoadHf(dir, j);
  CHECK(raw->Encode(e_comb) == Bytes(e_acute));
  CHECK(raw->Encode(e_acute) == Ids{400});
}

TEST_CASE("ignore_merges emits a pre-token that is in the vocabulary as it is", "[tokenizers]") {
  TempDir dir("tok_ignore_merges");
  // 256 "ab", 257 "abc"; no merge makes "abc".
  json j = HfJson(ByteVocab({"ab", "abc"}), json::array({"a b"}));
  CHECK(LoadHf(dir, j)->Encode("abc abc") == Ids{256, 'c', ' ', 256, 'c'});
  j["model"]["ignore_merges"] = true;
  CHECK(LoadHf(dir, j)->Encode("abc abc") == Ids{257, ' ', 256, 'c'});  // " abc" is not in the vocabulary
}

TEST_CASE("Split pre-tokenizer with the Qwen regex, Digits, and split behaviors", "[tokenizers]") {
  TempDir dir("tok_split");
  const json byte_level_no_regex = {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", false}};
  const json qwen_split = {
      {"type", "Split"}, {"pattern", {{"Regex", kQwenPattern}}}, {"behavior", "Isolated"}, {"invert", false}};
  auto tok = LoadHf(dir, HfJson(ByteVocab({}), json::array(),
                                {{"type", "Sequence"}, {"pretokenizers", {qwen_split, byte_level_no_regex}}}));
  const std::string G = "\xC4\xA0", C = "\xC4\x8A";  // space, newline
  using V = std::vector<std::string>;
  // (?i:'m) takes "'M" whole; digits one by one; "\n\n" stays with the punctuation before it.
  CHECK(PreTokens(*tok, "I'M 2024!\n\nok") == V{"I", "'M", G, "2", "0", "2", "4", "!" + C + C, "ok"});
  CHECK(PreTokens(*tok, " hello  world") == V{G + "hello", G, G + "world"});

  // Digits (individual) then ByteLevel with its regex and a prefix space on every piece.
  auto digits = LoadHf(dir, HfJson(ByteVocab({}), json::array(),
                                   {{"type", "Sequence"},
                                    {"pretokenizers",
                                     {{{"type", "Digits"}, {"individual_digits", true}},
                                      {{"type", "ByteLevel"}, {"add_prefix_space", true}, {"use_regex", true}}}}}));
  CHECK(PreTokens(*digits, "a12") == V{G + "a", G + "1", G + "2"});

  // Behaviors on a String pattern "-" over "a-b--c".
  const auto split_with = [&](const char* behavior, bool invert) {
    json split = {{"type", "Split"}, {"pattern", {{"String", "-"}}}, {"behavior", behavior}, {"invert", invert}};
    auto t = LoadHf(dir, HfJson(ByteVocab({}), json::array(),
                                {{"type", "Sequence"}, {"pretokenizers", {split, byte_level_no_regex}}}));
    return PreTokens(*t, "a-b--c");
  };
  CHECK(split_with("Isolated", false) == V{"a", "-", "b", "-", "-", "c"});
  CHECK(split_with("Removed", false) == V{"a", "b", "c"});
  CHECK(split_with("MergedWithPrevious", false) == V{"a-", "b-", "-", "c"});
  CHECK(split_with("MergedWithNext", false) == V{"a", "-b", "-", "-c"});
  CHECK(split_with("Contiguous", false) == V{"a", "-", "b", "--", "c"});
  CHECK(split_with("Removed", true) == V{"-", "-", "-"});  // every match is its own piece
}

TEST_CASE("Broken or unsupported tokenizer files throw IoError naming the file", "[tokenizers]") {
  TempDir dir("tok_errors");
  const std::string tj = (dir.path / "tokenizer.json").string();
  const auto hf_error = [&](const json& j) {
    WriteFile(dir.path / "tokenizer.json", j.dump());
    return LoadError(dir.path);
  };
  {
    const std::string e = LoadError(dir.path / "nope");
    CHECK_THAT(e, Catch::Contains((dir.path / "nope").string()) && Catch::Contains("not found"));
  }
  CHECK_THAT(LoadError(dir.path), Catch::Contains(dir.path.string()) && Catch::Contains("no tokenizer found"));

  WriteFile(dir.path / "tokenizer.json", "{\"model\": ");
  CHECK_THAT(LoadError(dir.path), Catch::Contains(tj) && Catch::Contains("not valid JSON"));

  json wordpiece = HfJson(ByteVocab({}), json::array());
  wordpiece["model"]["type"] = "WordPiece";
  CHECK_THAT(hf_error(wordpiece), Catch::Contains(tj) && Catch::Contains("model type 'WordPiece' is not supported"));
  json unigram = HfJson(ByteVocab({}), json::array());
  unigram["model"]["type"] = "Unigram";
  CHECK_THAT(hf_error(unigram), Catch::Contains(tj) && Catch::Contains("'Unigram'"));
  json metaspace = HfJson(ByteVocab({}), json::array(), {{"type", "Metaspace"}, {"replacement", "_"}});
  CHECK_THAT(hf_error(metaspace), Catch::Contains(tj) && Catch::Contains("pre_tokenizer 'Metaspace' is not supported"));
  json lowercase = HfJson(ByteVocab({}), json::array());
  lowercase["normalizer"] = {{"type", "Lowercase"}};
  CHECK_THAT(hf_error(lowercase), Catch::Contains(tj) && Catch::Contains("normalizer 'Lowercase'"));
  CHECK_THAT(hf_error(HfJson(ByteVocab({}), json::array({"a zz"}))),
             Catch::Contains(tj) && Catch::Contains("'zz', which is not in the vocabulary"));
  CHECK_THAT(hf_error(HfJson(ByteVocab({}), json::array({"a b"}))),
             Catch::Contains(tj) && Catch::Contains("makes 'ab', which is not in the vocabulary"));
  CHECK_THAT(hf_error(HfJson(ByteVocab({}), json::array({"a b c"}))), Catch::Contains(tj));
  json bad_regex = HfJson(ByteVocab({}), json::array(),
                          {{"type", "Split"}, {"pattern", {{"Regex", "(unclosed"}}}, {"behavior", "Isolated"}});
  CHECK_THAT(hf_error(bad_regex), Catch::Contains(tj) && Catch::Contains("does not compile"));
  json fallback = HfJson(ByteVocab({}), json::array());
  fallback["model"]["byte_fallback"] = true;
  CHECK_THAT(hf_error(fallback), Catch::Contains(tj) && Catch::Contains("byte_fallback"));
  fs::remove(dir.path / "tokenizer.json");

  // GPT-2 files.
  const std::string vj = (dir.path / "vocab.json").string(), mt = (dir.path / "merges.txt").string();
  WriteFile(dir.path / "vocab.json", ByteVocab({}).dump());
  CHECK_THAT(LoadError(dir.path), Catch::Contains("merges.txt is missing"));
  WriteFile(dir.path / "merges.txt", "#version: 0.2\na q9\n");
  CHECK_THAT(LoadError(dir.path), Catch::Contains(mt) && Catch::Contains("'q9', which is not in the vocabulary"));
  WriteFile(dir.path / "merges.txt", "#version: 0.2\nab\n");
  CHECK_THAT(LoadError(dir.path), Catch::Contains(mt) && Catch::Contains("line 2"));
  WriteFile(dir.path / "vocab.json", "[1, 2]");
  CHECK_THAT(LoadError(dir.path), Catch::Contains(vj) && Catch::Contains("JSON object"));
  WriteFile(dir.path / "vocab.json", "{\"a\": \"one\"}");
  CHECK_THAT(LoadError(dir.path), Catch::Contains(vj) && Catch::Contains("not an integer"));
  fs::remove(dir.path / "vocab.json");
  fs::remove(dir.path / "merges.txt");

  // SentencePiece and the byte tokenizer.
  WriteFile(dir.path / "tokenizer.model", "not a protobuf at all");
  CHECK_THAT(LoadError(dir.path),
             Catch::Contains((dir.path / "tokenizer.model").string()) && Catch::Contains("not a SentencePiece model"));
  fs::remove(dir.path / "tokenizer.model");
  const std::string hj = (dir.path / "headscope_tokenizer.json").string();
  WriteFile(dir.path / "headscope_tokenizer.json", R"({"type": "words"})");
  CHECK_THAT(LoadError(dir.path), Catch::Contains(hj) && Catch::Contains("\"type\" must be \"bytes\""));
  WriteFile(dir.path / "headscope_tokenizer.json", R"({"type": "bytes", "bos_id": 7})");
  CHECK_THAT(LoadError(dir.path), Catch::Contains(hj) && Catch::Contains("bos_id"));
}

// Regressions from the corruption pass (tests/analysis/corrupt_inputs.py under ASan/UBSan).
TEST_CASE("Corrupt tokenizer files: deep nesting, absurd ids and a BOS outside the vocabulary are refused",
          "[tokenizers]") {
  TempDir dir("tok_corrupt");
  const std::string tj = (dir.path / "tokenizer.json").string();
  const auto hf_error = [&](const std::string& text) {
    WriteFile(dir.path / "tokenizer.json", text);
    return LoadError(dir.path);
  };
  // 100000 nested brackets parse fine but overflowed the stack when the value was copied
  // (j.value("normalizer", ...)) or printed in an error message (a merge that is not a pair).
  const std::string deep = std::string(100000, '[') + std::string(100000, ']');
  json base = HfJson(ByteVocab({}), json::array());
  base["normalizer"] = "DEEP";
  std::string text = base.dump();
  text.replace(text.find("\"DEEP\""), 6, deep);
  CHECK_THAT(hf_error(text), Catch::Contains(tj) && Catch::Contains("nested deeper than 256 levels"));
  base = HfJson(ByteVocab({}), json::array({"DEEP"}));
  text = base.dump();
  text.replace(text.find("\"DEEP\""), 6, deep);
  CHECK_THAT(hf_error(text), Catch::Contains(tj) && Catch::Contains("nested deeper"));
  WriteFile(dir.path / "tokenizer.json", HfJson(ByteVocab({}), json::array()).dump());
  WriteFile(dir.path / "tokenizer_config.json", "{\"bos_token\": " + deep + "}");
  CHECK_THAT(LoadError(dir.path),
             Catch::Contains((dir.path / "tokenizer_config.json").string()) && Catch::Contains("nested deeper"));
  fs::remove(dir.path / "tokenizer_config.json");

  // A token id of 2^31 - 1 made the id -> token table ask for 16 GiB.
  json vocab = ByteVocab({});
  vocab["big"] = (int64_t{1} << 31) - 1;
  CHECK_THAT(hf_error(HfJson(vocab, json::array()).dump()),
             Catch::Contains(tj) && Catch::Contains("'big' has id 2147483647, outside [0, 2^24)"));
  // An added token with id 2^63 - 1 overflowed the vocabulary size (max id + 1).
  json added = HfJson(ByteVocab({}), json::array());
  added["added_tokens"] = json::array({{{"id", INT64_MAX}, {"content", "<x>"}}});
  CHECK_THAT(hf_error(added.dump()), Catch::Contains(tj) && Catch::Contains("'<x>' has id 9223372036854775807"));
  // A template post-processor's BOS id is prepended as given, so it must be a token.
  json post = HfJson(ByteVocab({}), json::array());
  post["post_processor"] = {{"type", "TemplateProcessing"},
                            {"single", json::array({{{"SpecialToken", {{"id", "<s>"}, {"type_id", 0}}}}})},
                            {"special_tokens", {{"<s>", {{"id", "<s>"}, {"ids", {int64_t{1} << 40}}}}}}};
  CHECK_THAT(hf_error(post.dump()), Catch::Contains(tj) && Catch::Contains("BOS '<s>' has id 1099511627776"));
  fs::remove(dir.path / "tokenizer.json");

  // The same for GPT-2's vocab.json.
  WriteFile(dir.path / "merges.txt", "");
  WriteFile(dir.path / "vocab.json", vocab.dump());
  CHECK_THAT(LoadError(dir.path), Catch::Contains((dir.path / "vocab.json").string()) && Catch::Contains("2^24"));
  WriteFile(dir.path / "vocab.json", "{\"a\": " + deep + "}");
  CHECK_THAT(LoadError(dir.path), Catch::Contains((dir.path / "vocab.json").string()) && Catch::Contains("nested"));
}

TEST_CASE("Byte tokenizer: ids are bytes, BOS 256 only when asked", "[tokenizers]") {
  TempDir dir("tok_bytes");
  WriteFile(dir.path / "headscope_tokenizer.json", R"({"type": "bytes", "bos_id": 256})");
  auto tok = LoadTokenizer(dir.path);
  CHECK(tok->Kind() == "bytes");
  CHECK(tok->VocabSize() == 257);
  CHECK(tok->BosId() == std::optional<int64_t>(256));
  CHECK(tok->Encode("Hi\n\xC3\xA9") == Ids{72, 105, 10, 0xC3, 0xA9});
  CHECK(EncodeText(*tok, "Hi") == Ids{72, 105});
  EncodeOptions with_bos;
  with_bos.add_bos = true;
  CHECK(EncodeText(*tok, "Hi", with_bos) == Ids{256, 72, 105});
  CHECK(tok->TokenText('A') == "A");
  CHECK(tok->TokenText(' ') == " ");
  CHECK(tok->TokenText('\n') == "\\x0A");
  CHECK(tok->TokenText(0xC3) == "\\xC3");
  CHECK(tok->TokenText(256) == "<bos>");
  CHECK(tok->Decode({256, 72, 105}) == "Hi");
  CHECK_THROWS_AS(tok->Decode({257}), std::out_of_range);
  CHECK_THROWS_AS(tok->TokenText(-1), std::out_of_range);

  // A tokenizer without BOS refuses add_bos instead of guessing.
  TempDir plain("tok_no_bos");
  WriteFile(plain.path / "vocab.json", ByteVocab({}).dump());
  WriteFile(plain.path / "merges.txt", "");
  auto gpt2 = LoadTokenizer(plain.path);
  CHECK_THROWS_AS(EncodeText(*gpt2, "x", with_bos), std::invalid_argument);
}

TEST_CASE("BOS of tokenizer.json comes from tokenizer_config.json or the template post-processor", "[tokenizers]") {
  TempDir dir("tok_hf_bos");
  json j = HfJson(ByteVocab({}), json::array());
  j["added_tokens"] = json::array({{{"id", 500}, {"content", "<|begin_of_text|>"}, {"special", true}}});
  j["post_processor"] = {
      {"type", "TemplateProcessing"},
      {"single", json::array({{{"SpecialToken", {{"id", "<|begin_of_text|>"}, {"type_id", 0}}}},
                              {{"Sequence", {{"id", "A"}, {"type_id", 0}}}}})},
      {"special_tokens", {{"<|begin_of_text|>", {{"id", "<|begin_of_text|>"}, {"ids", {500}}, {"tokens", {"x"}}}}}}};
  auto tok = LoadHf(dir, j);
  CHECK(tok->BosId() == std::optional<int64_t>(500));
  CHECK(tok->Encode("a") == Ids{'a'});  // the post-processor is not run: BOS only on request
  WriteFile(dir.path / "tokenizer_config.json", R"({"bos_token": null})");
  CHECK_FALSE(LoadTokenizer(dir.path)->BosId());
  WriteFile(dir.path / "tokenizer_config.json", R"({"bos_token": {"content": "a"}})");
  CHECK(LoadTokenizer(dir.path)->BosId() == std::optional<int64_t>('a'));
}

TEST_CASE("Encoding from two threads gives the same ids (shared word cache)", "[tokenizers]") {
  TempDir dir("tok_threads");
  const std::string G = "\xC4\xA0";
  WriteFile(dir.path / "vocab.json", ByteVocab({"th", "the", G + "the"}).dump());
  WriteFile(dir.path / "merges.txt", "t h\nth e\n" + G + " the\n");
  auto tok = LoadTokenizer(dir.path);
  std::string text;
  for (int i = 0; i < 2000; ++i) text += "the cat saw the " + std::to_string(i) + " ";
  const Ids expected = tok->Encode(text);
  Ids a, b;
  std::thread t1([&] { a = tok->Encode(text); });
  std::thread t2([&] { b = tok->Encode(text); });
  t1.join();
  t2.join();
  CHECK(a == expected);
  CHECK(b == expected);
}

TEST_CASE("SentencePiece: ids match Debian's spm_encode on a model trained here", "[tokenizers]") {
  TempDir dir("tok_spm");
  std::string corpus;
  const char* lines[] = {"The quick brown fox jumps over the lazy dog.",
                         "Attention heads attend to previous tokens and to repeated ones.",
                         "Induction heads copy what followed the last occurrence of the current token.",
                         "Numbers like 12345 and 2024 appear in text, as do names like Ada and Grace.",
                         "Caf\xC3\xA9 na\xC3\xAFve r\xC3\xA9sum\xC3\xA9 \xE2\x80\x94 accents are text too.",
                         "\xE6\xB3\xA8\xE6\x84\x8F\xE5\x8A\x9B heads in Chinese, and \xF0\x9F\x99\x82 emoji."};
  for (int rep = 0; rep < 40; ++rep) {
    for (const char* l : lines) corpus += std::string(l) + (rep % 2 ? " again" : "") + "\n";
  }
  WriteFile(dir.path / "corpus.txt", corpus);
  const std::string prefix = (dir.path / "tokenizer").string();
  const auto status = sentencepiece::SentencePieceTrainer::Train(
      "--input=" + (dir.path / "corpus.txt").string() + " --model_prefix=" + prefix +
      " --vocab_size=400 --model_type=bpe --byte_fallback=true --character_coverage=0.98 --minloglevel=2");
  INFO(status.ToString());
  REQUIRE(status.ok());
  auto tok = LoadTokenizer(dir.path);
  REQUIRE(tok->Kind() == "sentencepiece");
  CHECK(tok->VocabSize() == 400);
  CHECK(tok->BosId() == std::optional<int64_t>(1));  // the trainer's default <s>

  const std::vector<std::string> inputs = {"The lazy fox attends to the previous token.",
                                           "Heads copy 2024 numbers; caf\xC3\xA9 \xE2\x80\x94 r\xC3\xA9sum\xC3\xA9.",
                                           "Unseen letters like \xD0\x96 and \xE2\x82\xAC fall back to bytes.",
                                           "  leading spaces and   runs   of spaces",
                                           "\xE6\xB3\xA8\xE6\x84\x8F\xE5\x8A\x9B \xF0\x9F\x99\x82 emoji"};
  std::string in_text;
  for (const auto& s : inputs) in_text += s + "\n";
  WriteFile(dir.path / "inputs.txt", in_text);
  const std::string cmd = "spm_encode --model=" + prefix + ".model --output_format=id < " +
                          (dir.path / "inputs.txt").string() + " > " + (dir.path / "ids.txt").string();
  INFO("needs spm_encode from Debian's `sentencepiece` package (scripts/install-deps.sh installs it)");
  REQUIRE(std::system(cmd.c_str()) == 0);
  std::ifstream ids_file(dir.path / "ids.txt");
  std::string line;
  size_t checked = 0, pieces = 0;
  for (const auto& s : inputs) {
    REQUIRE(std::getline(ids_file, line));
    std::istringstream ss(line);
    Ids expected;
    for (int64_t id; ss >> id;) expected.push_back(id);
    INFO("input: " << s);
    CHECK(tok->Encode(s) == expected);
    // SentencePiece drops extra whitespace by default; other text round-trips.
    if (s.find("  ") == std::string::npos) CHECK(tok->Decode(expected) == s);
    ++checked;
    pieces += expected.size();
  }
  CHECK(checked == inputs.size());
  CHECK(pieces > 20);
  // Labels: "▁the" reads " the"; byte pieces read \xNN.
  const Ids the = tok->Encode("the");
  REQUIRE_FALSE(the.empty());
  CHECK(tok->TokenText(the[0]).front() == ' ');
  CHECK(tok->TokenText(3) == "\\x00");  // byte_fallback puts <0x00> right after <unk> <s> </s>
  CHECK(tok->TokenText(1) == "<s>");

  // Mistral, Gemma and Phi-3 ship a SentencePiece-style tokenizer.json (BPE with byte_fallback)
  // beside tokenizer.model: the folder loads through tokenizer.model, with the same ids.
  json fallback = HfJson(ByteVocab({}), json::array());
  fallback["model"]["byte_fallback"] = true;
  WriteFile(dir.path / "tokenizer.json", fallback.dump());
  const auto via_model = LoadTokenizer(dir.path);
  CHECK(via_model->Kind() == "sentencepiece");
  CHECK(via_model->Encode(inputs[0]) == tok->Encode(inputs[0]));
}

TEST_CASE("A folder without tokenizer files: token ids in, #id labels out", "[tokenizers]") {
  TempDir dir("tok_ids");
  CHECK_FALSE(HasTokenizerFiles(dir.path));
  const auto tok = IdsOnlyTokenizer(500, dir.path);
  CHECK(tok->Kind() == "ids");
  CHECK(tok->Encode("464, 3 0\n7") == Ids{464, 3, 0, 7});
  CHECK(tok->TokenText(464) == "#464");
  CHECK(tok->Decode({1, 2}) == "#1 #2");
  CHECK_FALSE(tok->BosId().has_value());
  CHECK_THROWS_WITH(tok->Encode("hello"), Catch::Contains(dir.path.string() + " has no tokenizer files"));
  CHECK_THROWS_WITH(tok->Encode("12a"), Catch::Contains("has no tokenizer files"));
  CHECK_THROWS_WITH(tok->Encode("500"), Catch::Contains("token id 500 is outside the vocabulary [0, 500)"));
  CHECK_THROWS_WITH(tok->Encode("50257000000000000000000000"), Catch::Contains("outside the vocabulary"));
  // Half a GPT-2 pair still counts as tokenizer files, so that LoadTokenizer says what is missing.
  WriteFile(dir.path / "vocab.json", "{}");
  CHECK(HasTokenizerFiles(dir.path));
  CHECK_THAT(LoadError(dir.path), Catch::Contains("merges.txt is missing"));
}
