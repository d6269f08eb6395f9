{{/*
Names of the AnalysisTemplates (templates/analysistemplates.yaml).
*/}}
{{- define "sre-platform.analysisTemplateNames" -}}
{{- $fullname := include "sre-platform.fullname" . -}}
{{- list (printf "%s-success-rate" $fullname) (printf "%s-latency-p99" $fullname) (printf "%s-restarts" $fullname) | toJson -}}
{{- end }}

{{/*
One analysis reference (a canary analysis step, or blue-green pre/post promotion): every
AnalysisTemplate, with the arguments that select the new revision's series: the Rollout's
namespace and name (read from the Rollout at run time), the pod-template hash of the newest
ReplicaSet (the canary, or the blue-green preview) and the number of measurements (with
initialDelay == interval a run lasts count x interval). Call with (dict "ctx" $ "count" <measurements>).
*/}}
{{- define "sre-platform.analysisRef" -}}
{{- $ctx := .ctx -}}
templates:
{{- range (include "sre-platform.analysisTemplateNames" $ctx | fromJsonArray) }}
  - templateName: {{ . }}
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
{{- end }}
