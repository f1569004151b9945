# CLI tests of the real binary: bad flags give one-line errors; a tiny run
# trains, is interrupted, and resumes.
function(run_expect)
  cmake_parse_arguments(R "" "CODE;ERR" "ARGS" ${ARGN})
  execute_process(COMMAND ${HEADSCOPE} ${R_ARGS} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL R_CODE)
    message(FATAL_ERROR "headscope ${R_ARGS}: exit ${rc}, expected ${R_CODE}\nstdout: ${out}\nstderr: ${err}")
  endif()
  if(R_ERR AND NOT err MATCHES "${R_ERR}")
    message(FATAL_ERROR "headscope ${R_ARGS}: stderr lacks '${R_ERR}':\n${err}")
  endif()
endfunction()

file(REMOVE_RECURSE ${WORK})
file(MAKE_DIRECTORY ${WORK})
run_expect(ARGS train --p 12 --out ${WORK} CODE 2 ERR "--p 12 is not a prime")
run_expect(ARGS train --train-frac 1.5 --out ${WORK} CODE 2 ERR "--train-frac 1.5 must be strictly between 0 and 1")
run_expect(ARGS train --checkpoints bogus --out ${WORK} CODE 2 ERR "FROM:EVERY")
file(WRITE ${WORK}/a_file "x")
run_expect(ARGS train --p 7 --epochs 2 --out ${WORK}/a_file CODE 1 ERR "writable --out")
run_expect(ARGS train --help CODE 0)

set(TINY --p 11 --d-model 32 --d-mlp 64 --train-frac 0.8 --checkpoints 0:10 --out ${WORK})
run_expect(ARGS train ${TINY} --epochs 30 --quiet CODE 0)
set(run ${WORK}/modadd_1l/p11_seed999_frac0.8_d32h4x32m64)
foreach(f config.json metrics.csv train_state.safetensors checkpoints/epoch_00000.safetensors checkpoints/epoch_00030.safetensors)
  if(NOT EXISTS ${run}/${f})
    message(FATAL_ERROR "missing ${run}/${f}")
  endif()
endforeach()
# Extending the run resumes from epoch 30.
run_expect(ARGS train ${TINY} --epochs 40 CODE 0 ERR "resuming .* from epoch 30")
# A truncated train state is reported, not silently ignored.
file(READ ${run}/train_state.safetensors head LIMIT 100 HEX)
file(WRITE ${run}/train_state.safetensors "truncated")
run_expect(ARGS train ${TINY} --epochs 50 CODE 1 ERR "train_state.safetensors.*Move train_state.safetensors away")
# analyze: artifacts for every checkpoint and summaries; then up to date.
run_expect(ARGS analyze ${run} --quiet CODE 0)
foreach(f artifacts/attention_freq/summary.npz artifacts/attention_patterns/epoch_00040.npz
          artifacts/neuron_freq_norm/summary.npz artifacts/coarseness/epoch_00000.npz)
  if(NOT EXISTS ${run}/${f})
    message(FATAL_ERROR "analyze did not write ${run}/${f}")
  endif()
endforeach()
run_expect(ARGS analyze ${run} CODE 0 ERR "analysed 0 checkpoints, 5 already up to date")
run_expect(ARGS analyze ${WORK}/no_such_run CODE 1 ERR "no such run folder")
run_expect(ARGS analyze ${run} --analyzers attention_frequency CODE 2 ERR "unknown analyzer 'attention_frequency'")

# Language models: heads on the shipped demo LM; its patterns as .npz, read
# by numpy and checked there (rows sum to one, causal, the previous-token
# head L0H1 recomputed from the file).
set(DEMO ${SOURCE_DIR}/assets/demo_lm)
run_expect(ARGS heads ${DEMO} --prompt "The cat sat on the mat. The cat sat on the mat." --patterns-out ${WORK}/p.npz CODE 0)
execute_process(COMMAND ${PYTHON} -c "
import numpy as np, sys
z = np.load(sys.argv[1])
t, p = z['tokens'], z['patterns']
assert t.dtype == np.int64 and p.dtype == np.float32, (t.dtype, p.dtype)
assert p.shape == (2, 4, len(t), len(t)), p.shape
assert t[0] == 256 and bytes(t[1:].tolist()).decode() == 'The cat sat on the mat. The cat sat on the mat.'
assert np.allclose(p.sum(-1), 1, atol=1e-5) and np.all(np.triu(p, 1) == 0)
prev = np.mean([p[0, 1, i, i - 1] for i in range(1, len(t))])
assert prev > 0.5, prev
" ${WORK}/p.npz RESULT_VARIABLE rc ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "heads --patterns-out: ${err}")
endif()
run_expect(ARGS heads ${DEMO} --tokens 256,72,300 CODE 1 ERR "token id 300 outside the vocabulary")
run_expect(ARGS heads ${WORK}/no_such_model --prompt hi CODE 1 ERR "no_such_model")
run_expect(ARGS heads ${DEMO} CODE 2 ERR "--prompt TEXT or --tokens")
# Head roles: heads --json is what the head-roles panel consumes; the
# activation scores are recomputed by numpy from the same prompt's patterns
# (seed 002's table), and a prompt without repetition says so.
set(REP "The cat sat on the mat. The cat sat on the mat.")
execute_process(COMMAND ${HEADSCOPE} heads ${DEMO} --prompt ${REP} --json --patterns-out ${WORK}/r.npz
                RESULT_VARIABLE rc OUTPUT_FILE ${WORK}/roles.json ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "heads --json: ${err}")
endif()
execute_process(COMMAND ${HEADSCOPE} heads ${DEMO} --prompt "Jumpy frog" --json
                RESULT_VARIABLE rc OUTPUT_FILE ${WORK}/roles_norep.json ERROR_VARIABLE err)
execute_process(COMMAND ${PYTHON} -c "
import json, sys
import numpy as np
r = json.load(open(sys.argv[1])); z = np.load(sys.argv[2]); n = json.load(open(sys.argv[3]))
t, p = z['tokens'], z['patterns'].astype(np.float64)
T = len(t)
def act(cat, a):
    if cat == 'previous_token': return np.mean([a[i, i - 1] for i in range(1, T)])
    if cat == 'first_token': return a[1:, 0].mean()
    if cat == 'diffuse':
        return np.mean([-(a[i, :i + 1][a[i, :i + 1] > 0] * np.log(a[i, :i + 1][a[i, :i + 1] > 0])).sum() / np.log(i + 1) for i in range(1, T)])
    shift = 1 if cat == 'induction' else 0
    rows = [sum(a[i, j + shift] for j in range(i) if t[j] == t[i]) for i in range(1, T) if t[i] in t[:i]]
    return np.mean(rows)
active = {'previous_token': 0.4, 'induction': 0.5, 'duplicate_token': 0.5, 'first_token': 0.5, 'diffuse': 0.7}
output = {'copying', 'copy_suppression', 'successor'}  # checked against numpy by ablate_check.py
assert set(r) == set(active) | output | {'other', 'reasons', 'notes'}, sorted(r)
assert 'not a sink' in r['notes']['first_token'], r['notes']
assert any(h['is_active'] for h in r['copying']) and r['notes']['copying'].startswith('L1H'), r
for cat, heads in r.items():
    if cat in ('other', 'reasons', 'notes') or cat in output: continue
    for h in heads:
        want = act(cat, p[h['layer'], h['head']])
        assert abs(h['activation_score'] - want) < 1e-5, (cat, h, want)
        assert h['is_active'] == (want >= active[cat]), (cat, h)
assert any(h['is_active'] for h in r['induction']), r['induction']
assert not any(h['is_active'] for h in n['induction'])
assert n['reasons']['induction'].startswith('no repeated tokens in your input'), n['reasons']
assert 'induction' not in r['reasons']
" ${WORK}/roles.json ${WORK}/r.npz ${WORK}/roles_norep.json RESULT_VARIABLE rc ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "heads --json roles: ${err}")
endif()
# categorize writes the seed's schema (checked by Python); bad inputs name the file.
file(MAKE_DIRECTORY ${WORK}/demo_copy)
file(COPY ${DEMO}/config.json ${DEMO}/model.safetensors ${DEMO}/headscope_tokenizer.json DESTINATION ${WORK}/demo_copy)
run_expect(ARGS categorize ${WORK}/demo_copy --repeated 5 --quiet CODE 0)
execute_process(COMMAND ${PYTHON} -c "
import json, sys
j = json.load(open(sys.argv[1]))
(name, e), = j.items()
assert name == 'demo_copy' and e['num_layers'] == 2 and e['num_heads'] == 4, (name, e['num_layers'])
assert e['weights_hash'].startswith('fnv1a64:') and len(e['analysis_date']) == 10
cats = ['previous_token', 'induction', 'duplicate_token', 'first_token', 'diffuse', 'copying', 'copy_suppression',
        'successor', 'other']
assert set(e['categories']) == set(cats), sorted(e['categories'])
w = e['weight_roles']
assert w['k'] == 5 and w['tokens'] == 256 and w['ordinal_sets'] == ['digits 0-9', 'letters a-z', 'letters A-Z'], w
assert w['unavailable'] == {} and len(w['sink_random']) == 2 and all(len(r) == 4 for r in w['sink_random'])
assert all(0 <= x <= 1 for r in w['sink_random'] for x in r)
for k in cats:
    c = e['categories'][k]
    assert {'display_name', 'description', 'icon', 'threshold', 'requires_repetition', 'top_heads'} <= set(c), k
    assert len(c['top_heads']) <= 8 or k == 'other'
    assert len(e['all_scores'][k]) == 2 and all(len(row) == 4 for row in e['all_scores'][k])
assert e['method']['repeated_sequences'] == 5 and e['method']['sentences'] == 20
assert e['categories']['induction']['requires_repetition'] is True
" ${WORK}/demo_copy/head_categories.json RESULT_VARIABLE rc ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "categorize schema: ${err}")
endif()
file(WRITE ${WORK}/empty.txt "# only a comment\n")
run_expect(ARGS categorize ${WORK}/demo_copy --sentences ${WORK}/empty.txt CODE 1 ERR "empty.txt: no sentences")
file(WRITE ${WORK}/demo_copy/head_categories.json "{\"x\": 1")
run_expect(ARGS heads ${WORK}/demo_copy --prompt hi CODE 0 ERR "head_categories.json: not valid JSON")
# ablate: per-token losses, clean and with heads zero-ablated at hook_z, equal
# an independent float64 forward with the same heads' z zeroed (<= 1e-4 nats).
execute_process(COMMAND ${PYTHON} ${SOURCE_DIR}/tests/analysis/ablate_check.py ${HEADSCOPE} ${DEMO}
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
message(STATUS "ablate_check: ${out}")
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "ablate --json against the float64 forward: ${rc}\n${out}\n${err}")
endif()
run_expect(ARGS ablate ${DEMO} --prompt "The cat" --heads 9.9 CODE 1 ERR "no head L9H9 in this model")
run_expect(ARGS ablate ${DEMO} --prompt "The cat" --heads x CODE 2 ERR "'x' is not LAYER.HEAD")
run_expect(ARGS ablate ${DEMO} --prompt "The cat" --neurons 0.999 CODE 1 ERR "no neuron L0N999 in this model")
run_expect(ARGS ablate ${DEMO} --prompt "The cat" --heads 0.1 --mode resample CODE 2 ERR "needs --resample TEXT")
run_expect(ARGS ablate ${DEMO} --prompt "The cat sat" --heads 0.1 --mode resample --resample "A" CODE 1
           ERR "a second prompt of at least 12 tokens")
run_expect(ARGS ablate ${DEMO} --prompt "The cat" --each --heads 0.1 CODE 2 ERR "--each ablates every head")
run_expect(ARGS ablate ${DEMO} --prompt "The cat" --epoch 3 --heads 0.1 CODE 2 ERR "are for a grokking run")
run_expect(ARGS patch ${DEMO} --clean "The cat" --corrupt "A dog ran" --answer m --wrong b CODE 1 ERR "the same number")
run_expect(ARGS patch ${DEMO} --clean "ab" --corrupt "cd" --answer mm --wrong b CODE 1 ERR "--answer 'mm' is 2 tokens")
run_expect(ARGS patch ${DEMO} --clean "ab" --corrupt "ab" --answer m --wrong b CODE 1 ERR "nothing to restore")
# Turning the previous-token head off silences the induction head (K-composition),
# and the role checks mark the previous-token role as causally checked on the
# repeated prompt; without repetition there is no induction to check.
set(REP_PROMPT "The cat sat on the mat. The cat sat on the mat.")
foreach(off "" 0.1)
  set(args heads ${DEMO} --prompt ${REP_PROMPT} --json)
  if(off)
    list(APPEND args --off ${off})
  endif()
  execute_process(COMMAND ${HEADSCOPE} ${args} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  string(JSON act_${off} GET "${out}" induction 0 activation_score)
endforeach()
message(STATUS "L1H1's induction activation: ${act_} with every head, ${act_0.1} with L0H1 off")
if(NOT act_ GREATER 0.5 OR NOT act_0.1 LESS 0.2)
  message(FATAL_ERROR "turning L0H1 off should silence the induction head: ${act_} -> ${act_0.1}")
endif()
execute_process(COMMAND ${HEADSCOPE} heads ${DEMO} --prompt ${REP_PROMPT} --json --check
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
string(JSON prev_checked ERROR_VARIABLE jerr GET "${out}" checked previous_token)
string(JSON reason ERROR_VARIABLE jerr2 GET "${out}" check_reasons induction)
if(NOT rc EQUAL 0 OR NOT prev_checked STREQUAL "ON" OR NOT reason MATCHES "attends like an induction head")
  message(FATAL_ERROR "heads --check: ${rc} ${prev_checked} ${reason}\n${out}\n${err}")
endif()
execute_process(COMMAND ${HEADSCOPE} heads ${DEMO} --prompt "The quick brown fox jumps over the lazy dog." --json --check
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
string(JSON ind ERROR_VARIABLE no_induction GET "${out}" checked induction)
if(NOT rc EQUAL 0 OR NOT no_induction)
  message(FATAL_ERROR "heads --check without repetition should not check induction: ${ind}\n${out}")
endif()
# A model in a Hugging Face cache, by hub id: revision main is the demo LM,
# revision v1 the same weights without tokenizer files (runs on ids, labelled
# "#id"). Derived files go to $XDG_CACHE_HOME/headscope, never into the hub
# cache; an uncached id says where it looked and how to download it.
file(MAKE_DIRECTORY ${WORK}/demo_ids)
file(COPY ${DEMO}/config.json ${DEMO}/model.safetensors DESTINATION ${WORK}/demo_ids)
execute_process(COMMAND ${PYTHON} ${SOURCE_DIR}/tests/analysis/hub_cache_tree.py ${WORK}/hf ${WORK}/demo_ids ${DEMO} hs-test/demo
                RESULT_VARIABLE rc OUTPUT_QUIET ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "hub_cache_tree.py: ${err}")
endif()
file(GLOB_RECURSE hub_before LIST_DIRECTORIES true ${WORK}/hf/*)
set(HUB_ENV ${CMAKE_COMMAND} -E env HF_HOME=${WORK}/hf XDG_CACHE_HOME=${WORK}/xdg --unset=HF_HUB_CACHE)
execute_process(COMMAND ${HUB_ENV} ${HEADSCOPE} heads hs-test/demo --prompt "The cat sat on the mat. The cat sat on the mat."
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc EQUAL 0 OR NOT out MATCHES "models--hs-test--demo/snapshots/" OR NOT out MATCHES "\\[c\\]\\[a\\]\\[t\\]")
  message(FATAL_ERROR "heads hs-test/demo: ${rc}\n${out}\n${err}")
endif()
execute_process(COMMAND ${HUB_ENV} ${HEADSCOPE} heads hs-test/demo@v1 --tokens 72,101,108,108,111,72,101,108,108,111
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc EQUAL 0 OR NOT out MATCHES "\\[#72\\]\\[#101\\]")
  message(FATAL_ERROR "heads hs-test/demo@v1 --tokens (no tokenizer files): ${rc}\n${out}\n${err}")
endif()
run_expect(ARGS heads ${WORK}/demo_ids --prompt "hello" CODE 1 ERR "has no tokenizer files")
file(GLOB_RECURSE hub_after LIST_DIRECTORIES true ${WORK}/hf/*)
if(NOT hub_before STREQUAL hub_after)
  message(FATAL_ERROR "headscope wrote into the hub cache:\nbefore ${hub_before}\nafter ${hub_after}")
endif()
file(GLOB derived ${WORK}/xdg/headscope/models--hs-test--demo/*/head_categories.json)
list(LENGTH derived n_derived)
if(NOT n_derived EQUAL 2)  # main and v1: the same weights blob, but v1 has no tokenizer files: two keys
  message(FATAL_ERROR "expected two head_categories.json under ${WORK}/xdg/headscope/models--hs-test--demo/, found: ${derived}")
endif()
execute_process(COMMAND ${HUB_ENV} ${HEADSCOPE} heads nobody/nothing --prompt hi
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(rc EQUAL 0 OR NOT err MATCHES "hf download nobody/nothing" OR NOT err MATCHES "${WORK}/hf/hub")
  message(FATAL_ERROR "heads nobody/nothing: ${rc}\n${err}")
endif()
# Attention plasticity: the settings in effect, a config with an unknown key
# names the file and the key, a missing model folder is named.
execute_process(COMMAND ${HEADSCOPE} plasticity --print-config RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc EQUAL 0 OR NOT out MATCHES "\"max_tokens_per_head\": 50000" OR NOT out MATCHES "\"num_pairs_per_bucket\": 256")
  message(FATAL_ERROR "plasticity --print-config: ${rc} ${out} ${err}")
endif()
file(WRITE ${WORK}/pl.json "{\"max_tokens\": 10}")
run_expect(ARGS plasticity ${DEMO} --config ${WORK}/pl.json --out ${WORK}/pl CODE 1 ERR "pl.json: unknown setting \"max_tokens\"")
file(WRITE ${WORK}/pl.json "{\"max_tokens_per_head\": 600, \"num_pairs_per_bucket\": 16}")
run_expect(ARGS plasticity ${DEMO} --config ${WORK}/pl.json --out ${WORK}/pl --quiet CODE 0)
execute_process(COMMAND ${PYTHON} -c "
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1] + '/head_metrics.csv')))
assert len(rows) == 8 and all(int(r['n_q_tokens']) == 600 for r in rows), rows[:1]
assert all(0 <= float(r['ap_overall']) <= 1 for r in rows)
cells = list(csv.DictReader(open(sys.argv[1] + '/head_bucket_plasticity.csv')))
assert cells and all(int(c['k_bucket']) < int(c['q_bucket']) and int(c['n_pairs']) <= 16 for c in cells)
w = list(csv.DictReader(open(sys.argv[1] + '/head_component_weights.csv')))
assert len(w) == 8 * 32 and abs(sum(float(r['weight']) for r in w[:32]) - 1) < 1e-9
" ${WORK}/pl RESULT_VARIABLE rc ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "plasticity CSVs: ${err}")
endif()
run_expect(ARGS plasticity ${WORK}/no_model CODE 1 ERR "no_model")
run_expect(ARGS train-lm --out ${WORK}/lm --seq-len 64 CODE 2 ERR "seq_len must be in \\[81, n_ctx\\]")
run_expect(ARGS train-lm --out ${WORK}/lm --threads 0 CODE 2 ERR "threads must be at least 1")
run_expect(ARGS train-lm --out ${WORK}/lm --corpus ${WORK}/no_corpus CODE 1 ERR "no_corpus: corpus not found")
message(STATUS "CLI tests passed")
