"""Validates FHIR R4 Bundles with an independent implementation (fhir.resources 6.5,
FHIR 4.0.1, pydantic models generated from the official StructureDefinitions).

Usage: python validate_fhir.py BUNDLE.json...   Prints one line per file; exits 1 on
the first invalid bundle."""
import json
import sys

from fhir.resources.bundle import Bundle


def check(path):
    with open(path, encoding="utf-8") as f:
        data = json.load(f)
    bundle = Bundle.parse_obj(data)  # raises on any schema violation
    assert bundle.type == "document", "Bundle.type must be document"
    assert bundle.entry, "no entries"
    first = bundle.entry[0].resource
    assert first.resource_type == "Composition", "first entry must be the Composition"
    codes = [(c.system, c.code) for c in first.type.coding]
    assert ("http://loinc.org", "18842-5") in codes, codes
    urls = {e.fullUrl for e in bundle.entry}
    # Every reference inside the document resolves to an entry of the Bundle.
    refs = []

    def walk(v):
        if isinstance(v, dict):
            r = v.get("reference")
            if isinstance(r, str):
                refs.append(r)
            for x in v.values():
                walk(x)
        elif isinstance(v, list):
            for x in v:
                walk(x)

    walk(data)
    missing = [r for r in refs if r not in urls]
    assert not missing, f"unresolved references: {missing[:3]}"
    kinds = sorted({e.resource.resource_type for e in bundle.entry})
    print(f"ok {path}: {len(bundle.entry)} resources ({', '.join(kinds)}), {len(refs)} references")


if __name__ == "__main__":
    for p in sys.argv[1:]:
        check(p)
