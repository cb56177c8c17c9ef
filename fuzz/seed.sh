#!/usr/bin/env bash
# Seeds fuzz/corpus/xml_roundtrip with the conformance inputs
# (tests/data/libvirt-9.0/cases/*/input.xml). The corpus is not committed.
set -euo pipefail
cd "$(dirname "$0")"
mkdir -p corpus/xml_roundtrip corpus/plan_invariants corpus/resources
for f in ../tests/data/libvirt-9.0/cases/*/input.xml; do
    case_name=$(basename "$(dirname "$f")")
    cp "$f" "corpus/xml_roundtrip/seed-$case_name.xml"
done
