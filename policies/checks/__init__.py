"""The checks that rule files name in their `check:` field, one module per rule group.

A rule `policies/rules/<group>/<name>.yaml` is enforced by a check in
`policies/checks/<group>.py` (`pod-security` -> `pod_security.py`). A check that serves one
rule is named after it (`images/explicit-tag` -> check `explicit-tag`, function
`explicit_tag`); a check several rules share says what it checks (`container-security-field`).
`policies/loader.py` imports these modules; they never import each other.
"""
