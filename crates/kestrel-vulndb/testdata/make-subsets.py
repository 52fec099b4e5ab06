#!/usr/bin/env python3
"""Builds the subsets in this directory from the project's shared data (../shared/data, see its
README for sources, commits and licenses). Run from this directory:
    python3 make-subsets.py /path/to/shared/data
Entries are copied byte for byte; only the selection of entries differs from the originals."""
import gzip, json, pathlib, random, sys, zipfile

shared = pathlib.Path(sys.argv[1])
here = pathlib.Path(__file__).parent
WANT = {"requests", "urllib3", "jinja2", "django", "pillow", "salt"}

src = zipfile.ZipFile(shared / "osv/PyPI/all.zip")
cves = set()
with zipfile.ZipFile(here / "osv/PyPI/all.zip", "w", zipfile.ZIP_DEFLATED) as out:
    for info in sorted(src.infolist(), key=lambda i: i.filename):
        raw = src.read(info)
        rec = json.loads(raw)
        if any(a["package"]["name"].lower() in WANT for a in rec.get("affected", [])):
            out.writestr(info.filename, raw)
            cves.update(i for i in [rec["id"], *rec.get("aliases", [])] if i.startswith("CVE-"))
for z in ["osv/npm/all.zip", "osv/PyPI-ghsa/all.zip"]:
    for n in zipfile.ZipFile(shared / z).namelist():
        rec = json.loads(zipfile.ZipFile(shared / z).read(n))
        cves.update(i for i in [rec["id"], *rec.get("aliases", [])] if i.startswith("CVE-"))

kev = json.loads((shared / "kev/known_exploited_vulnerabilities.json").read_text())
kept = [v for v in kev["vulnerabilities"] if v["cveID"] in cves] + kev["vulnerabilities"][:5]
kev["vulnerabilities"] = kept
kev["count"] = len(kept)
(here / "kev/known_exploited_vulnerabilities.json").write_text(json.dumps(kev, indent=2, ensure_ascii=False) + "\n")

# SYNTHETIC: FIRST's EPSS feed is not available offline. Same layout as
# https://epss.cyentia.com/epss_scores-YYYY-MM-DD.csv.gz, invented scores.
random.seed(6)
rows = ["#model_version:v2025.03.14,score_date:2025-08-25T00:00:00+0000", "cve,epss,percentile"]
for c in sorted(cves):
    s = round(random.random() ** 3, 5)
    rows.append(f"{c},{s:.5f},{min(1.0, s ** 0.3):.5f}")
(here / "epss/epss_scores-synthetic.csv.gz").write_bytes(gzip.compress(("\n".join(rows) + "\n").encode(), mtime=0))
print(len(cves), "CVEs,", len(kept), "KEV entries")
