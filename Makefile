# The user's entry point. Every target is a thin call into scripts/ so that CI, the README
# and a person at a terminal run exactly the same thing.
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

VENV ?= .venv
PY := $(VENV)/bin/python
PYTEST := scripts/run-pytest.sh
ENV ?= lab
export SRE_PLATFORM_CACHE ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/sre-platform

.PHONY: help setup venv test conformance lint lint-flake8-isort lint-black lint-mypy lint-bandit lint-hadolint arch app-test judge-test static admission e2e e2e-real-node real-node validate validate-selftest lab-up lab-deploy lab-down kind-up kind-down e2e-kind e2e-existing e2e-kind-smoke tools bench

help: ## List the targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-18s %s\n", $$1, $$2}'

setup: ## Debian packages and .venv on a fresh machine (idempotent); each target builds the Go tools it needs
	scripts/setup.sh

venv: ## Create or refresh the Python environment only
	scripts/setup.sh --python-only

test: lint arch app-test judge-test conformance validate-selftest e2e-kind ## Every test of the project

# validate needs a live environment: lab-deploy provides the lab's (the e2e session leaves the
# lab up because `make e2e` started it, not the session). real-node runs the canary scenarios
# and the validate tier again with real pods and real traffic on the lab's real node (root).
conformance: static e2e lab-deploy validate real-node ## The main job: the three tiers against this repository's own config, on the lab and its real node

validate-selftest: ## The validate tier's own proofs: read-only RBAC, breakages caught (real errors on the real node: root), bad input (lab)
	scripts/lab/lab.sh up
	tools/build.sh argo-cd # its ArgoCD checks read the pinned CRDs
	$(PYTEST) validate-selftest suites/validate/selftest

# The seed's lint stage (flake8, black, isort, mypy, bandit) with ruff standing in for the
# first three: one tool, the same rules (pyproject.toml [tool.ruff]).
lint: lint-flake8-isort lint-black lint-mypy lint-bandit lint-hadolint ## ruff (flake8 + isort rules, black's format), mypy (strict for app/ and judge/), bandit, hadolint

lint-flake8-isort: ## flake8 -> ruff check E/F/W (and bugbear, pyupgrade, simplify), isort -> ruff check I
	$(VENV)/bin/ruff check .

lint-black: ## black -> ruff format --check
	$(VENV)/bin/ruff format --check .

lint-mypy: ## mypy, strict for the service (app/sre_platform) and the judge (judge/sre_judge)
	$(VENV)/bin/mypy app/sre_platform judge/sre_judge

lint-bandit: ## bandit (security) on the service and the judge
	$(VENV)/bin/bandit -q -c pyproject.toml -r app/sre_platform judge/sre_judge

lint-hadolint: ## hadolint on the Dockerfiles
	$(VENV)/bin/hadolint Dockerfile judge/Dockerfile

arch: ## The code's shape: no import cycle in fixtures/ or policies/, no fixtures module over 600 lines
	$(PYTEST) arch suites/architecture

app-test: ## The service's unit and integration tests (real PostgreSQL and Redis), coverage >= 80%
	$(PYTEST) app app/tests --cov --cov-report=term-missing --cov-fail-under=80

judge-test: ## The canary judge's tests: statistics on known distributions, the service against a real Prometheus, its charts; coverage >= 80%
	$(PYTEST) judge judge/tests --cov --cov-config=judge/coverage.ini --cov-report=term-missing

# What the static tier needs and nothing more, so a fresh clone answers in minutes: the
# locked Python environment, helm, actionlint, Argo Rollouts' condition evaluator, and the
# CRDs it validates against (no controller, no cluster binaries). The tier uses no pytest
# plugin from the environment (xdist, cov, ...): not loading them halves pytest's start.
STATIC_TOOLS := helm actionlint rollouts-evaluate argo-rollouts argo-cd prometheus-operator

# The Python environment installs (downloads, mostly) while the Go tools compile (CPU).
static: ## pytest suites/static: the pull-request gate, no cluster (installs only what it needs); REPO=<path> judges another repository
	scripts/setup.sh --python-only & python=$$!; status=0; \
	  tools/build.sh --manifests-only $(STATIC_TOOLS) || status=$$?; \
	  wait $$python || status=$$?; exit $$status
	PYTEST_DISABLE_PLUGIN_AUTOLOAD=1 $(PYTEST) --scratch-in-memory static suites/static $(if $(REPO),--repo "$(abspath $(REPO))")

admission: ## Regenerate deploy/admission/ (ValidatingAdmissionPolicies) from the rules with admission: true
	$(PY) -m policies.admission generate

# The e2e tier on pytest-xdist workers: scenarios side by side, each in its own namespace;
# what is one per lab is shared by marks (docs/e2e.md, "In parallel"). E2E_WORKERS=0: one
# process. The scenarios' steps show live; SRE_PLATFORM_QUIET_STEPS=1 (or --quiet-steps) not.
E2E_WORKERS ?= 4

e2e: ## pytest suites/e2e on the lab cluster (brought up if needed), on E2E_WORKERS=4 xdist workers; E2E_ARGS="-k canary --keep-cluster"
	scripts/lab/lab.sh up
	tools/build.sh argo-cd # the GitOps scenarios' ArgoCD (the lab itself does not need it)
	$(PYTEST) --skip-budget lab e2e suites/e2e -n $(E2E_WORKERS) --dist loadgroup $(E2E_ARGS)

e2e-real-node: ## The canary scenarios 1-4 on the lab's real node with real traffic (root; the node is brought up and down)
	scripts/lab/lab.sh up
	$(PYTEST) --skip-budget real-node e2e-real-node suites/e2e --real-node -m real_node $(E2E_ARGS)

# The lab-real-node environment (environments/lab-real-node.yaml) deployed, validated and
# removed again; the node stops last (lab-down would stop both too).
real-node: e2e-real-node ## e2e-real-node, then lab-deploy + validate of ENV=lab-real-node (real pods), then both removed
	scripts/lab/lab.sh up
	scripts/install-admission.sh --env lab-real-node >/dev/null
	scripts/lab/lab.sh deploy --env lab-real-node
	$(PYTEST) validate-lab-real-node suites/validate --env lab-real-node
	scripts/lab/lab.sh undeploy --env lab-real-node
	scripts/node/node.sh down

validate: ## pytest suites/validate --env $(ENV): post-deploy checks of one environment (read-only)
	tools/build.sh helm
	$(PYTEST) validate suites/validate --env $(ENV)

lab-up: ## Start the offline lab cluster (builds missing tools first); LAB_ARGOCD=1 adds ArgoCD
	scripts/lab/lab.sh up
	if [[ "$${LAB_ARGOCD:-0}" == 1 ]]; then scripts/setup-argocd.sh --lab; fi

# The admission policies go in first, so the release itself is admitted by them (its
# namespace carries sre-platform.io/environment: lab) and `make validate` finds them current.
lab-deploy: ## Deploy environment ENV (default lab) into the lab: the admission policies, then through git and ArgoCD (lab) + simulated traffic + the service on its base_url; ENV=lab-real-node: helm, on the real node, real load
	scripts/lab/lab.sh up
	scripts/install-admission.sh --env $(ENV) >/dev/null
	scripts/lab/lab.sh deploy --env $(ENV)

lab-down: ## Stop every lab process (and ArgoCD, the real node, lab-deploy's extras) and free its ports
	scripts/lab/lab.sh down

kind-up: ## A kind cluster on this machine, offline: our dockerd, node image, 1 control plane + 3 workers, add-ons (docs/kind.md)
	$(PY) -m fixtures.kind up

kind-down: ## Delete the kind cluster, stop our dockerd, leave the host as found (exit 1 if anything is left)
	$(PY) -m fixtures.kind down

# The kind cluster is created for the session and deleted at its end (unless one was up:
# then it is left as it was); its last test checks that kind-down leaves the host as found.
# A skip that suites/e2e/skip-allowlist.yaml does not name for kind fails the tier.
e2e-kind: ## The whole e2e tier on kind: every scenario on real pods (real load, the cluster's Prometheus), the kind smoke test, kind-down
	$(PYTEST) --skip-budget kind e2e-kind suites/e2e --cluster kind $(E2E_ARGS)

# Your own cluster (fixtures/e2e/existing_platform.py, docs/e2e.md "On an existing cluster"):
# E2E_ARGS names it, e.g. --kubeconfig ~/.kube/config --image-repository ghcr.io/acme/sre-platform
# --host-address 10.0.0.5 --prometheus-url http://prometheus.example:9090
e2e-existing: ## The whole e2e tier on an existing cluster's real pods; E2E_ARGS="--kubeconfig ... --image-repository ... --host-address ..."
	$(PYTEST) --skip-budget existing e2e-existing suites/e2e --cluster existing $(E2E_ARGS)

e2e-kind-smoke: ## The kind smoke test: cluster up, nodes/pods/Service/Prometheus/Rollouts, testinfra, kind-down
	$(PYTEST) e2e-kind-smoke suites/e2e --cluster kind -k smoke $(E2E_ARGS)

tools: ## Build the pinned Go tools that are missing into $(SRE_PLATFORM_CACHE)/tools
	tools/build.sh

bench: ## Print the project's speed figures
	bench/run-all.sh $(BENCH)
