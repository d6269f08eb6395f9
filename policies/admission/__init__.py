"""The catalogue's rules at admission: ValidatingAdmissionPolicies (CEL) and their bindings.

A rule file with `admission: true` is also generated into `deploy/admission/<id>.yaml`
(`python -m policies.admission generate`, `make admission`): `templates/<group>.py` hold
one CEL template per check (registered through `template.py`), filled with the rule's
params; `manifests.py` makes the policy and the bindings (severity per environment ->
Deny / Warn + Audit per namespace label); `cel.py` the shared CEL pieces; `output.py` the
folder; `live.py` compares a cluster's objects with it; `summary.py` the docs' counts. The
generator refuses (exit 65) a rule that claims an admission form its check has no template
for. Nothing here imports a check module: templates mirror the checks in CEL, and
suites/e2e/test_admission.py proves both give the same verdict on every case.
"""
