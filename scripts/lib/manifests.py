"""Pick Kubernetes objects of one kind out of multi-document YAML files.

    python3 scripts/lib/manifests.py <Kind> <out-file> <file>...

Writes every document whose `kind` is <Kind> to <out-file> (empty when there is none).
Used by setup-argocd.sh to apply the AppProject before the Applications or the
ApplicationSet, wherever it is written. Exit codes: 0 ok, 64 usage, 65 malformed YAML
(naming the file), 66 a file is missing.
"""

from __future__ import annotations

import sys
from pathlib import Path


def main(argv: list[str]) -> int:
    if len(argv) < 3 or argv[0] in {"-h", "--help"}:
        print(__doc__, file=sys.stdout if argv[:1] in (["-h"], ["--help"]) else sys.stderr)
        return 0 if argv[:1] in (["-h"], ["--help"]) else 64
    import yaml

    kind, out, files = argv[0], Path(argv[1]), argv[2:]
    docs = []
    for name in files:
        path = Path(name)
        try:
            text = path.read_text()
        except FileNotFoundError:
            print(f"manifests: {path}: no such file", file=sys.stderr)
            return 66
        try:
            loaded = list(yaml.safe_load_all(text))
        except yaml.YAMLError as exc:
            print(f"manifests: {path}: malformed YAML: {exc}", file=sys.stderr)
            return 65
        docs += [d for d in loaded if isinstance(d, dict) and d.get("kind") == kind]
    out.write_text(yaml.safe_dump_all(docs, sort_keys=False) if docs else "")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
