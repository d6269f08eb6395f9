"""The policy catalogue and the engine that runs it.

`policies/rules/<group>/<name>.yaml` declares one rule each (id, title, severity, rationale,
remediation, scope, check); `policies/checks/<group>.py` holds the checks the rules name;
`policies/cases/<group>/<name>/{pass,fail}-*` are each rule's own test cases. How to add a
rule, and which module imports which: policies/README.md. The static tier
(`suites/static`, `fixtures/static/`) and `bench/bench-static` drive the engine.
"""
