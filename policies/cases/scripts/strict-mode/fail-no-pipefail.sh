#!/usr/bin/env bash
set -eu
kubectl get rollout web | grep Healthy
