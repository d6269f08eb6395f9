{{- define "checkout.labels" -}}
app.kubernetes.io/name: checkout
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}
