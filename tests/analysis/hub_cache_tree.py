#!/usr/bin/env python3
"""A Hugging Face hub cache with one model at two revisions, for test_hub_cache.

Writes HF_HOME/hub/models--ORG--NAME the way huggingface_hub's file_download.py
lays it out after `hf download ORG/NAME` and `hf download ORG/NAME --revision v1`:

  blobs/<etag>                 file contents, named by their etag: the sha256 of
                               the content for LFS files (*.safetensors, ...), the
                               git blob sha1 (sha1(b"blob <len>\\0" + data)) for the rest
  snapshots/<commit>/<file>    relative symlinks ../../blobs/<etag>; a file that is
                               the same in both revisions is one blob
  refs/main                    commit B (the newer), as text without a newline
  refs/v1                      commit A
  refs/refs/pr/1               commit A (what downloading revision "refs/pr/1" writes)
  .no_exist/<commit B>/tokenizer.json   an empty file: known to be absent at B

Revision A's files come from FIXTURE_DIR_A, B's from FIXTURE_DIR_B (folders
written by hf_reference.py; its reference*.npz/.txt and logs are not model
files and are left out). The commits are made up (40 hex digits derived from
the file list). Prints JSON: {"repo", "commit_a", "commit_b", "blobs": {file: etag} per revision}.

Usage: hub_cache_tree.py HF_HOME FIXTURE_DIR_A FIXTURE_DIR_B ORG/NAME
"""
import hashlib
import json
import os
import sys

LFS_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".h5", ".msgpack", ".onnx", ".gguf", ".model")
NOT_MODEL_FILES = ("reference", "hf_reference")


def etag(name, data):
    if name.endswith(LFS_SUFFIXES):
        return hashlib.sha256(data).hexdigest()
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def model_files(folder):
    out = {}
    for root, _, files in os.walk(folder):
        for f in sorted(files):
            rel = os.path.relpath(os.path.join(root, f), folder)
            if rel.split(os.sep)[0].startswith(NOT_MODEL_FILES):
                continue
            with open(os.path.join(root, f), "rb") as fh:
                out[rel] = fh.read()
    return out


def add_snapshot(repo, commit, files):
    tags = {}
    for rel, data in files.items():
        tag = etag(rel, data)
        blob = os.path.join(repo, "blobs", tag)
        if not os.path.exists(blob):
            with open(blob, "wb") as fh:
                fh.write(data)
        link = os.path.join(repo, "snapshots", commit, rel)
        os.makedirs(os.path.dirname(link), exist_ok=True)
        # relative, as huggingface_hub's _create_symlink (../../blobs for top-level files)
        os.symlink(os.path.relpath(blob, os.path.dirname(link)), link)
        tags[rel] = tag
    return tags


def write_ref(repo, revision, commit):
    path = os.path.join(repo, "refs", *revision.split("/"))
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as fh:
        fh.write(commit)  # pathlib's write_text: no newline


def main():
    if len(sys.argv) != 5 or sys.argv[4].count("/") != 1:
        sys.exit(__doc__)
    hf_home, dir_a, dir_b, repo_id = sys.argv[1:]
    repo = os.path.join(hf_home, "hub", "models--" + repo_id.replace("/", "--"))
    os.makedirs(os.path.join(repo, "blobs"), exist_ok=True)
    files_a, files_b = model_files(dir_a), model_files(dir_b)
    commit_a = hashlib.sha1(b"commit A " + repr(sorted(files_a)).encode()).hexdigest()
    commit_b = hashlib.sha1(b"commit B " + repr(sorted(files_b)).encode()).hexdigest()
    blobs_a = add_snapshot(repo, commit_a, files_a)
    blobs_b = add_snapshot(repo, commit_b, files_b)
    write_ref(repo, "main", commit_b)
    write_ref(repo, "v1", commit_a)
    write_ref(repo, "refs/pr/1", commit_a)
    no_exist = os.path.join(repo, ".no_exist", commit_b, "tokenizer.json")
    os.makedirs(os.path.dirname(no_exist), exist_ok=True)
    open(no_exist, "wb").close()
    json.dump({"repo": repo, "commit_a": commit_a, "commit_b": commit_b, "blobs_a": blobs_a, "blobs_b": blobs_b},
              sys.stdout, indent=1)
    print()


if __name__ == "__main__":
    main()
