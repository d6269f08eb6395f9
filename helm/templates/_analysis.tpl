{{/*
Names of the AnalysisTemplates (templates/analysistemplates.yaml).
*/}}
{{- define "sre-platform.analysisTemplateNames" -}}
{{- $fullname := include "sre-platform.fullname" . -}}
{{- list (printf "%s-success-rate" $fullname) (printf "%s-latency-p99" $fullname) (printf "%s-restarts" $fullname) | toJson -}}
{{- end }}

{{/*
The statistical judge's AnalysisTemplate (analysis.judge, docs/judge.md).
*/}}
{{- define "sre-platform.judgeTemplateName" -}}
{{- printf "%s-judge" (include "sre-platform.fullname" .) -}}
{{- end }}

{{/*
One analysis reference (a canary analysis step, or blue-green pre/post promotion): every
AnalysisTemplate, with the arguments that select the new revision's series: the Rollout's
namespace and name (read from the Rollout at run time), the pod-template hash of the newest
ReplicaSet (the canary, or the blue-green preview) and the number of measurements (with
initialDelay == interval a run lasts count x interval). With "judge" true and
analysis.judge.enabled (canary steps only) also the judge's template and the stable
ReplicaSet's hash, its baseline. Call with (dict "ctx" $ "count" <measurements> ["judge" true]).
*/}}
{{- define "sre-platform.analysisRef" -}}
{{- $ctx := .ctx -}}
{{- $judge := and .judge $ctx.Values.analysis.judge.enabled -}}
templates:
{{- range (include "sre-platform.analysisTemplateNames" $ctx | fromJsonArray) }}
  - templateName: {{ . }}
{{- end }}
{{- if $judge }}
  - templateName: {{ include "sre-platform.judgeTemplateName" $ctx }}
{{- end }}
args:
  - name: namespace
    valueFrom:
      fieldRef:
        fieldPath: metadata.namespace
  - name: rollout-name
    valueFrom:
      fieldRef:
        fieldPath: metadata.name
  - name: latest-hash
    valueFrom:
      podTemplateHashValue: Latest
  - name: count
    value: {{ .count | toString | quote }}
{{- if $judge }}
  - name: stable-hash
    valueFrom:
      podTemplateHashValue: Stable
{{- end }}
{{- end }}
