"""Checks exported document Bundles against FHIR and against the CL Core rules they claim.

FHIR: fhir.resources 6.5 (pydantic models generated from the official StructureDefinitions,
FHIR 4.x) parses every Bundle; it raises on any element of a wrong type or cardinality.

CL Core 1.9.4 (https://hl7chile.cl/fhir/ig/clcore/): for each profile a resource claims in
meta.profile, the rules of that profile that our resources could break, checked here
independently of the Rust code (docs/fhir-chile.md lists them):
- CorePacienteCl: names in the official slice have use "official"; the RUN identifier
  (type 01 of CSTipoIdentificador) is "official", its value a valid RUN without dots
  (12345678-5), its type carries the CodigoPaises extension with Chile (152);
- CorePrestadorCl: every name has use "official"; identifier types from CSTipoIdentificador;
- EncounterCL: each participant has an individual, a CorePrestadorCl; diagnoses are
  CoreDiagnosticoCl; the subject a CorePacienteCl; the serviceProvider a CoreOrganizacionCl;
- CoreDiagnosticoCl: status codes from FHIR's value sets, onset only dateTime or Period;
- CoreObservacionCL: status from FHIR's observation-status; subject and encounter of CL
  Core profiles;
- DocumentoCl: at least one section; encounter an EncounterCL; custodian a
  CoreOrganizacionCl; author and attester, when they reference, a CorePrestadorCl.

Usage: python validate_cl_core.py BUNDLE.json... [--input BUNDLE.json...]
Files after --input are Bundles we read (any type): only parsed by fhir.resources.
Prints one line per file; exits 1 on the first failure."""
import json
import re
import sys

from fhir.resources.bundle import Bundle

BASE = "https://hl7chile.cl/fhir/ig/clcore/StructureDefinition/"
PATIENT = BASE + "CorePacienteCl"
PRACTITIONER = BASE + "CorePrestadorCl"
ORGANIZATION = BASE + "CoreOrganizacionCl"
ENCOUNTER = BASE + "EncounterCL"
CONDITION = BASE + "CoreDiagnosticoCl"
OBSERVATION = BASE + "CoreObservacionCL"
DOCUMENT = BASE + "DocumentoCl"
ID_TYPE = "https://hl7chile.cl/fhir/ig/clcore/CodeSystem/CSTipoIdentificador"
COUNTRY = BASE + "CodigoPaises"
OBSERVATION_STATUS = {"registered", "preliminary", "final", "amended", "corrected",
                      "cancelled", "entered-in-error", "unknown"}


def run_ok(value):
    m = re.fullmatch(r"([1-9][0-9]{5,7})-([0-9K])", value or "")
    if not m:
        return False
    body, dv = m.groups()
    total = sum(int(d) * (2 + i % 6) for i, d in enumerate(reversed(body)))
    expected = {11: "0", 10: "K"}.get(11 - total % 11, str(11 - total % 11))
    return dv == expected


class Doc:
    def __init__(self, data):
        self.by_url = {e["fullUrl"]: e["resource"] for e in data["entry"]}

    def profiles_of(self, ref):
        target = self.by_url.get((ref or {}).get("reference"))
        assert target is not None, f"unresolved reference {ref}"
        return target.get("meta", {}).get("profile", [])

    def points_to(self, ref, profile, what):
        assert profile in self.profiles_of(ref), f"{what}: {ref} is not a {profile}"


def check_patient(r, doc):
    for n in r.get("name", []):
        assert n.get("use") == "official", f"Patient name {n}"
    for i in r.get("identifier", []):
        codes = [(c.get("system"), c.get("code")) for c in i.get("type", {}).get("coding", [])]
        if (ID_TYPE, "01") in codes:
            assert i.get("use") == "official", i
            assert run_ok(i.get("value")), f"not a normalised valid RUN: {i.get('value')}"
            ext = i["type"].get("extension", [])
            chile = [e for e in ext if e.get("url") == COUNTRY
                     and any(c.get("code") == "152" for c in e["valueCodeableConcept"]["coding"])]
            assert chile, f"RUN without its country: {i}"


def check_practitioner(r, doc):
    for n in r.get("name", []):
        assert n.get("use") == "official", f"Practitioner name {n}"
    for i in r.get("identifier", []):
        for c in i.get("type", {}).get("coding", []):
            assert c.get("system") == ID_TYPE, f"Practitioner identifier type {c}"


def check_encounter(r, doc):
    doc.points_to(r["subject"], PATIENT, "Encounter.subject")
    for p in r.get("participant", []):
        assert "individual" in p, "EncounterCL: participant.individual is 1..1"
        doc.points_to(p["individual"], PRACTITIONER, "Encounter.participant")
    for d in r.get("diagnosis", []):
        doc.points_to(d["condition"], CONDITION, "Encounter.diagnosis")
    if "serviceProvider" in r:
        doc.points_to(r["serviceProvider"], ORGANIZATION, "Encounter.serviceProvider")


def check_condition(r, doc):
    doc.points_to(r["subject"], PATIENT, "Condition.subject")
    assert not any(k.startswith("onset") and k not in ("onsetDateTime", "onsetPeriod")
                   for k in r), "CoreDiagnosticoCl: onset is a dateTime or a Period"
    for key, system in [("clinicalStatus", "http://terminology.hl7.org/CodeSystem/condition-clinical"),
                        ("verificationStatus", "http://terminology.hl7.org/CodeSystem/condition-ver-status")]:
        for c in r.get(key, {}).get("coding", []):
            assert c.get("system") == system, f"Condition.{key} {c}"


def check_observation(r, doc):
    assert r["status"] in OBSERVATION_STATUS, r["status"]
    doc.points_to(r["subject"], PATIENT, "Observation.subject")
    doc.points_to(r["encounter"], ENCOUNTER, "Observation.encounter")


def check_composition(r, doc):
    assert r.get("section"), "DocumentoCl: at least one section"
    doc.points_to(r["encounter"], ENCOUNTER, "Composition.encounter")
    if "custodian" in r:
        doc.points_to(r["custodian"], ORGANIZATION, "Composition.custodian")
    parties = r.get("author", []) + [a["party"] for a in r.get("attester", []) if "party" in a]
    for p in parties:
        if "reference" in p:
            doc.points_to(p, PRACTITIONER, "Composition author/attester")


CHECKS = {
    PATIENT: ("Patient", check_patient),
    PRACTITIONER: ("Practitioner", check_practitioner),
    ORGANIZATION: ("Organization", lambda r, doc: None),
    ENCOUNTER: ("Encounter", check_encounter),
    CONDITION: ("Condition", check_condition),
    OBSERVATION: ("Observation", check_observation),
    DOCUMENT: ("Composition", check_composition),
}


def check(path):
    with open(path, encoding="utf-8") as f:
        data = json.load(f)
    Bundle.parse_obj(data)  # raises on any schema violation
    assert data["type"] == "document", "Bundle.type must be document"
    doc = Doc(data)
    claimed = {}
    for e in data["entry"]:
        r = e["resource"]
        for p in r.get("meta", {}).get("profile", []):
            assert p in CHECKS, f"unknown profile {p}"
            rtype, fn = CHECKS[p]
            assert r["resourceType"] == rtype, f"{p} on a {r['resourceType']}"
            fn(r, doc)
            claimed[p] = claimed.get(p, 0) + 1
    names = ", ".join(f"{p.rsplit('/', 1)[1]} x{n}" for p, n in sorted(claimed.items()))
    print(f"ok {path}: {len(data['entry'])} resources; CL Core: {names}")


def parse_only(path):
    with open(path, encoding="utf-8") as f:
        Bundle.parse_obj(json.load(f))
    print(f"ok {path}: a valid FHIR Bundle")


if __name__ == "__main__":
    args = sys.argv[1:]
    split = args.index("--input") if "--input" in args else len(args)
    for p in args[:split]:
        check(p)
    for p in args[split + 1:]:
        parse_only(p)
