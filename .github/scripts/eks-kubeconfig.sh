#!/usr/bin/env bash
# Write the kubeconfig context of an environment on an EKS cluster, named as
# environments/<env>.yaml says (cluster.context), so the scripts find it unchanged.
# Needs AWS credentials (the workflows get them through OIDC) and AWS_REGION.
set -euo pipefail

# shellcheck disable=SC2034 # read by scripts/lib/common.sh
SP_PROG=eks-kubeconfig
# shellcheck source=scripts/lib/common.sh disable=SC1091
source "$(dirname "${BASH_SOURCE[0]}")/../../scripts/lib/common.sh"

case "${1:-}" in
  -h | --help)
    cat <<USAGE
Usage: .github/scripts/eks-kubeconfig.sh <env>

Runs 'aws eks update-kubeconfig --name <cluster.eks_cluster> --alias <cluster.context>' for
environments/<env>.yaml. Exit codes: 0 ok, 64 usage, 65 unknown environment or no
cluster.eks_cluster, 69 the AWS CLI is missing or the cluster is unreachable.
USAGE
    exit 0
    ;;
  "") sp_usage_error "expected <env>" ;;
  -*) sp_usage_error "unknown option '$1'" ;;
esac
[[ $# -eq 1 ]] || sp_usage_error "expected exactly one argument, <env>"
sp_load_env "$1"
[[ -n "${SP_ENV_CLUSTER_EKS_CLUSTER:-}" ]] || sp_die "$SP_EX_DATAERR" "environments/$1.yaml has no cluster.eks_cluster"
[[ -n "${SP_ENV_CLUSTER_CONTEXT:-}" ]] || sp_die "$SP_EX_DATAERR" "environments/$1.yaml has no cluster.context"
[[ -n "${AWS_REGION:-}" ]] || sp_die "$SP_EX_USAGE" "AWS_REGION is not set"
command -v aws >/dev/null || sp_die "$SP_EX_UNAVAILABLE" "the AWS CLI is not installed"
sp_run aws eks update-kubeconfig --name "$SP_ENV_CLUSTER_EKS_CLUSTER" --alias "$SP_ENV_CLUSTER_CONTEXT" \
  --region "$AWS_REGION" >&2 || sp_die "$SP_EX_UNAVAILABLE" "cannot read EKS cluster $SP_ENV_CLUSTER_EKS_CLUSTER"
sp_kube_args_from_env
sp_require_cluster
sp_log "context $SP_ENV_CLUSTER_CONTEXT -> EKS cluster $SP_ENV_CLUSTER_EKS_CLUSTER ($AWS_REGION)"
