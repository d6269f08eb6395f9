{{/*
Names. The release name "sre-platform" (what the ArgoCD Applications use) gives every object
the plain name "sre-platform"; other release names are prefixed as usual.
*/}}
{{- define "sre-platform.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "sre-platform.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "sre-platform.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Selector labels: immutable on a Deployment, so only name and instance (docs/interfaces.md).
*/}}
{{- define "sre-platform.selectorLabels" -}}
app.kubernetes.io/name: {{ include "sre-platform.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/*
Recommended labels on every object.
*/}}
{{- define "sre-platform.labels" -}}
{{ include "sre-platform.selectorLabels" . }}
app.kubernetes.io/version: {{ include "sre-platform.imageTag" . | quote }}
app.kubernetes.io/component: api
app.kubernetes.io/part-of: sre-platform
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ include "sre-platform.chart" . }}
{{- end }}

{{/*
Pod labels: recommended labels without helm.sh/chart and managed-by, so a chart version bump
alone never changes the pod template (which would start a rollout).
*/}}
{{- define "sre-platform.podLabels" -}}
{{ include "sre-platform.selectorLabels" . }}
app.kubernetes.io/version: {{ include "sre-platform.imageTag" . | quote }}
app.kubernetes.io/component: api
app.kubernetes.io/part-of: sre-platform
{{- end }}

{{/*
The image tag, required: it lives only in image.tag of helm/values-<env>.yaml.
*/}}
{{- define "sre-platform.imageTag" -}}
{{- required "image.tag is required: set it in helm/values-<env>.yaml (the one key CI and scripts/rollback.sh write)" .Values.image.tag | toString | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "sre-platform.image" -}}
{{- $ref := printf "%s:%s" .Values.image.repository (include "sre-platform.imageTag" .) }}
{{- if .Values.image.digest }}
{{- $ref = printf "%s@%s" $ref .Values.image.digest }}
{{- end }}
{{- $ref }}
{{- end }}

{{- define "sre-platform.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "sre-platform.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false (never the default ServiceAccount)" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
Service names. <fullname> is always the address clients use: every pod for a Deployment or a
canary (a traffic router splits at the edge; without one the Service splits by replica count,
which is how Argo Rollouts approximates weights), the active pods for blue-green.
*/}}
{{- define "sre-platform.stableServiceName" -}}
{{- printf "%s-stable" (include "sre-platform.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- define "sre-platform.canaryServiceName" -}}
{{- printf "%s-canary" (include "sre-platform.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- define "sre-platform.previewServiceName" -}}
{{- printf "%s-preview" (include "sre-platform.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- define "sre-platform.metricsServiceName" -}}
{{- printf "%s-metrics" (include "sre-platform.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Workload kind and apiVersion as rendered (the HPA's scaleTargetRef uses them).
*/}}
{{- define "sre-platform.workloadKind" -}}
{{- if .Values.rollouts.enabled }}Rollout{{ else }}Deployment{{ end }}
{{- end }}
{{- define "sre-platform.workloadAPIVersion" -}}
{{- if .Values.rollouts.enabled }}argoproj.io/v1alpha1{{ else }}apps/v1{{ end }}
{{- end }}

{{/*
The label that tells revisions apart, for per-revision topology spreading.
*/}}
{{- define "sre-platform.podTemplateHashLabel" -}}
{{- if .Values.rollouts.enabled }}rollouts-pod-template-hash{{ else }}pod-template-hash{{ end }}
{{- end }}

{{- define "sre-platform.isCanary" -}}
{{- if and .Values.rollouts.enabled (eq .Values.rollouts.strategy "canary") }}true{{ end }}
{{- end }}
{{- define "sre-platform.isBlueGreen" -}}
{{- if and .Values.rollouts.enabled (eq .Values.rollouts.strategy "blueGreen") }}true{{ end }}
{{- end }}

{{/*
The traffic router in use ("none" unless a canary Rollout).
*/}}
{{- define "sre-platform.trafficRouter" -}}
{{- if include "sre-platform.isCanary" . }}{{ .Values.rollouts.canary.trafficRouting.provider }}{{ else }}none{{ end }}
{{- end }}

{{/*
The replica count the PDB is checked against: the HPA's floor, or the static count.
*/}}
{{- define "sre-platform.minReplicas" -}}
{{- if .Values.autoscaling.enabled }}{{ .Values.autoscaling.minReplicas }}{{ else }}{{ .Values.replicaCount }}{{ end }}
{{- end }}

{{/*
A Go duration as the schema allows it ("30s", "2m", "1h30m", "500ms") in whole seconds.
*/}}
{{- define "sre-platform.durationSeconds" -}}
{{- $ms := 0 }}
{{- range regexFindAll "[0-9]+(ms|s|m|h)" . -1 }}
{{- $n := int (regexFind "^[0-9]+" .) }}
{{- $unit := trimPrefix (regexFind "^[0-9]+" .) . }}
{{- if eq $unit "ms" }}{{ $ms = add $ms $n }}
{{- else if eq $unit "s" }}{{ $ms = add $ms (mul $n 1000) }}
{{- else if eq $unit "m" }}{{ $ms = add $ms (mul $n 60000) }}
{{- else }}{{ $ms = add $ms (mul $n 3600000) }}
{{- end }}
{{- end }}
{{- div $ms 1000 }}
{{- end }}

{{/*
How long an analysis run with `count` measurements lasts, in seconds.
Call with (dict "ctx" $ "count" N).
*/}}
{{- define "sre-platform.analysisSeconds" -}}
{{- $a := .ctx.Values.analysis }}
{{- add (include "sre-platform.durationSeconds" $a.initialDelay | int) (mul (sub (int .count) 1) (include "sre-platform.durationSeconds" $a.interval | int)) }}
{{- end }}

{{/*
Cross-field rules the JSON schema cannot express. Included once (by the workload template);
each failure says which values to change.
*/}}
{{- define "sre-platform.validate" -}}
{{- $v := .Values }}
{{- if and $v.autoscaling.enabled (le (int $v.autoscaling.maxReplicas) (int $v.autoscaling.minReplicas)) }}
{{- fail (printf "autoscaling.maxReplicas (%v) must be greater than autoscaling.minReplicas (%v)" $v.autoscaling.maxReplicas $v.autoscaling.minReplicas) }}
{{- end }}
{{- if $v.podDisruptionBudget.enabled }}
{{- $pdb := $v.podDisruptionBudget }}
{{- if and (gt (int $pdb.minAvailable) 0) (gt (int $pdb.maxUnavailable) 0) }}
{{- fail "podDisruptionBudget: set exactly one of minAvailable and maxUnavailable (the other 0)" }}
{{- end }}
{{- if and (eq (int $pdb.minAvailable) 0) (eq (int $pdb.maxUnavailable) 0) }}
{{- fail "podDisruptionBudget: set exactly one of minAvailable and maxUnavailable (maxUnavailable 0 would block every eviction)" }}
{{- end }}
{{- $min := int (include "sre-platform.minReplicas" .) }}
{{- if ge (int $pdb.minAvailable) $min }}
{{- fail (printf "podDisruptionBudget.minAvailable (%v) must be below the minimum replica count (%v: autoscaling.minReplicas or replicaCount), or no pod can ever be evicted" $pdb.minAvailable $min) }}
{{- end }}
{{- end }}
{{- if and $v.rollouts.enabled (eq $v.rollouts.strategy "canary") }}
{{- if and (eq (toString $v.rollouts.canary.maxSurge) "0") (eq (toString $v.rollouts.canary.maxUnavailable) "0") }}
{{- fail "rollouts.canary.maxSurge and maxUnavailable cannot both be 0" }}
{{- end }}
{{- if and (ne $v.rollouts.canary.trafficRouting.provider "none") (not $v.ingress.enabled) }}
{{- fail (printf "rollouts.canary.trafficRouting.provider %s routes through the chart's Ingress: set ingress.enabled true" $v.rollouts.canary.trafficRouting.provider) }}
{{- end }}
{{- end }}
{{- if and (eq (toString $v.deployment.maxSurge) "0") (eq (toString $v.deployment.maxUnavailable) "0") }}
{{- fail "deployment.maxSurge and deployment.maxUnavailable cannot both be 0" }}
{{- end }}
{{- if ge (int $v.lifecycle.preStopSleepSeconds) (int $v.terminationGracePeriodSeconds) }}
{{- fail "lifecycle.preStopSleepSeconds must be below terminationGracePeriodSeconds" }}
{{- end }}
{{- if $v.rollouts.enabled }}
{{- /* An inline analysis step or a post-promotion analysis is not a pause: Argo Rollouts
counts it against progressDeadlineSeconds, and with progressDeadlineAbort a long analysis
would abort a healthy release. */}}
{{- $counts := list }}
{{- if eq $v.rollouts.strategy "canary" }}
{{- range $v.rollouts.canary.steps }}{{ if hasKey . "analysis" }}{{ $counts = append $counts .analysis.count }}{{ end }}{{ end }}
{{- else if $v.rollouts.blueGreen.postPromotionAnalysis.enabled }}
{{- $counts = append $counts $v.rollouts.blueGreen.postPromotionAnalysis.count }}
{{- end }}
{{- range $counts }}
{{- $secs := include "sre-platform.analysisSeconds" (dict "ctx" $ "count" .) | int }}
{{- if ge $secs (int $v.progressDeadlineSeconds) }}
{{- fail (printf "an analysis with count %v lasts %ds (analysis.initialDelay + (count-1) x analysis.interval), not below progressDeadlineSeconds (%v): raise progressDeadlineSeconds or shorten the analysis" . $secs $v.progressDeadlineSeconds) }}
{{- end }}
{{- end }}
{{- end }}
{{- if $v.analysis.judge.enabled }}
{{- $j := $v.analysis.judge }}
{{- if gt (float64 $j.score.marginal) (float64 $j.score.pass) }}
{{- fail (printf "analysis.judge.score.marginal (%v) must not be above analysis.judge.score.pass (%v)" $j.score.marginal $j.score.pass) }}
{{- end }}
{{- if le (addf $j.latency.weight $j.latencyTail.weight $j.errors.weight) 0.0 }}
{{- fail "analysis.judge: the weights of latency, latencyTail and errors sum to 0: nothing would be scored" }}
{{- end }}
{{- end }}
{{- if le (int $v.progressDeadlineSeconds) (int $v.minReadySeconds) }}
{{- fail "progressDeadlineSeconds must be greater than minReadySeconds" }}
{{- end }}
{{- $reserved := list "PORT" "APP_VERSION" "GIT_SHA" "LOG_LEVEL" "MIGRATE_ON_START" "DATABASE_URL" "REDIS_URL" }}
{{- $seen := dict }}
{{- range $v.extraEnv }}
{{- if has .name $reserved }}
{{- fail (printf "extraEnv: %s is set by the chart; change the dedicated value instead" .name) }}
{{- end }}
{{- if hasKey $seen .name }}
{{- fail (printf "extraEnv: %s appears twice" .name) }}
{{- end }}
{{- $_ := set $seen .name true }}
{{- end }}
{{- end }}
