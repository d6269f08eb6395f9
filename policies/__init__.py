"""The policy catalogue and the engine that runs it.

`policies/rules/<group>/<name>.yaml` declares one rule each (id, title, severity, rationale,
remediation, scope, check); `policies/checks/` holds the reusable check logic the rules
name; `policies/cases/<group>/<name>/{pass,fail}-*` are each rule's own test cases.
The static tier (`suites/static`) and `bench/bench-static` drive the engine.
"""
