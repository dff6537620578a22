#!/bin/sh
# Seeds fuzz/corpus/ with the repository's runbooks and translations, the examples of the
# spec (default ../shared/SPEC.md; pass another path as $1), their info strings, and the
# TOML files. Run from the repository root; running it again adds nothing twice.
set -eu
spec=${1:-../shared/SPEC.md}
exec python3 - "$spec" <<'PY'
import glob, hashlib, os, re, sys

spec_path = sys.argv[1]
docs = sorted(glob.glob("runbooks/**/*.md", recursive=True) + glob.glob("translations/**/*.md", recursive=True))
texts = [open(p, encoding="utf-8").read() for p in docs]
spec = open(spec_path, encoding="utf-8").read() if os.path.exists(spec_path) else ""
if spec:
    texts.append(spec)

# Each fenced block of the spec on its own; a ```markdown example holds nested fences and
# ends at the bare fence that balances them.
lines = spec.split("\n")
i = 0
while i < len(lines):
    m = re.match(r"^(`{3,}|~{3,})(\S*)", lines[i])
    if not m:
        i += 1
        continue
    fence, j = m.group(1), i + 1
    if m.group(2) == "markdown":
        depth = 0
        while j < len(lines):
            mm = re.match(r"^`{3,}(\S.*)?$", lines[j])
            if mm and mm.group(1):
                depth += 1
            elif mm:
                if depth == 0:
                    break
                depth -= 1
            j += 1
        texts.append("\n".join(lines[i + 1 : j]) + "\n")
    else:
        while j < len(lines) and not lines[j].startswith(fence):
            j += 1
        texts.append("\n".join(lines[i : j + 1]) + "\n")
    i = j + 1

def put(target, text):
    os.makedirs(f"fuzz/corpus/{target}", exist_ok=True)
    name = hashlib.sha1(text.encode()).hexdigest()
    with open(f"fuzz/corpus/{target}/{name}", "w", encoding="utf-8") as f:
        f.write(text)

for t in texts:
    put("parse_runbook", t)
for p in docs:
    if p.startswith("translations/"):
        src = "runbooks/" + p.split("/", 2)[2]
        if os.path.exists(src):
            put("translation", open(src, encoding="utf-8").read() + "\0" + open(p, encoding="utf-8").read())
infos = set()
for t in texts:
    for l in t.split("\n"):
        m = re.match(r"^\s*(?:>\s*)?(?:[-*]|\d+\.)?\s*(?:`{3,}|~{3,})(.*)$", l)
        if m and m.group(1).strip():
            infos.add(m.group(1).strip())
for s in infos:
    put("info_string", s)
for p in glob.glob("**/*.toml", recursive=True):
    if not p.startswith(("target/", "fuzz/")) and p != "Cargo.toml":
        put("project_toml", open(p, encoding="utf-8").read())
for m in re.findall(r"```toml\n(.*?)\n```", spec, re.S):
    put("project_toml", m + "\n")
print(f"seeded from {len(docs)} runbooks, {len(texts) - len(docs)} spec texts, {len(infos)} info strings")
PY
