{{/*
The pod template shared by the Deployment and the Rollout, so both variants run exactly the
same pods and the static tier's workload rules hold for either.
*/}}
{{- define "sre-platform.podTemplate" -}}
metadata:
  labels:
    {{- include "sre-platform.podLabels" . | nindent 4 }}
    {{- with .Values.podLabels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  {{- if or .Values.metrics.podAnnotations .Values.podAnnotations }}
  annotations:
    {{- if .Values.metrics.podAnnotations }}
    prometheus.io/scrape: "true"
    prometheus.io/port: {{ .Values.app.port | quote }}
    prometheus.io/path: /metrics
    {{- end }}
    {{- with .Values.podAnnotations }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  {{- end }}
spec:
  serviceAccountName: {{ include "sre-platform.serviceAccountName" . }}
  # The service never talks to the Kubernetes API.
  automountServiceAccountToken: false
  # No docker-link style *_SERVICE_HOST variables: configuration is explicit env only.
  enableServiceLinks: false
  {{- with .Values.imagePullSecrets }}
  imagePullSecrets:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.priorityClassName }}
  priorityClassName: {{ . }}
  {{- end }}
  terminationGracePeriodSeconds: {{ .Values.terminationGracePeriodSeconds }}
  securityContext:
    runAsNonRoot: true
    runAsUser: {{ .Values.securityContext.runAsUser }}
    runAsGroup: {{ .Values.securityContext.runAsGroup }}
    fsGroup: {{ .Values.securityContext.fsGroup }}
    seccompProfile:
      type: RuntimeDefault
  containers:
    - name: app
      image: {{ include "sre-platform.image" . | quote }}
      imagePullPolicy: {{ .Values.image.pullPolicy }}
      ports:
        - name: http
          containerPort: {{ .Values.app.port }}
          protocol: TCP
      env:
        - name: PORT
          value: {{ .Values.app.port | quote }}
        - name: APP_VERSION
          value: {{ include "sre-platform.imageTag" . | quote }}
        # CI tags images with the commit SHA, so the tag is the source revision too.
        - name: GIT_SHA
          value: {{ include "sre-platform.imageTag" . | quote }}
        - name: LOG_LEVEL
          value: {{ .Values.app.logLevel | quote }}
        - name: MIGRATE_ON_START
          value: {{ .Values.app.migrateOnStart | quote }}
        - name: DATABASE_URL
          valueFrom:
            secretKeyRef:
              name: {{ .Values.app.secretEnv.secretName }}
              key: {{ .Values.app.secretEnv.databaseUrlKey }}
              optional: {{ .Values.app.secretEnv.optional }}
        - name: REDIS_URL
          valueFrom:
            secretKeyRef:
              name: {{ .Values.app.secretEnv.secretName }}
              key: {{ .Values.app.secretEnv.redisUrlKey }}
              optional: {{ .Values.app.secretEnv.optional }}
        {{- with .Values.extraEnv }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      startupProbe:
        httpGet:
          path: /healthz
          port: http
        periodSeconds: {{ .Values.probes.startup.periodSeconds }}
        timeoutSeconds: {{ .Values.probes.startup.timeoutSeconds }}
        failureThreshold: {{ .Values.probes.startup.failureThreshold }}
      livenessProbe:
        httpGet:
          path: /healthz
          port: http
        periodSeconds: {{ .Values.probes.liveness.periodSeconds }}
        timeoutSeconds: {{ .Values.probes.liveness.timeoutSeconds }}
        failureThreshold: {{ .Values.probes.liveness.failureThreshold }}
      readinessProbe:
        httpGet:
          path: /readyz
          port: http
        periodSeconds: {{ .Values.probes.readiness.periodSeconds }}
        timeoutSeconds: {{ .Values.probes.readiness.timeoutSeconds }}
        failureThreshold: {{ .Values.probes.readiness.failureThreshold }}
        successThreshold: {{ .Values.probes.readiness.successThreshold }}
      {{- if gt (int .Values.lifecycle.preStopSleepSeconds) 0 }}
      lifecycle:
        preStop:
          # Native sleep action: the image needs no shell or sleep binary.
          sleep:
            seconds: {{ .Values.lifecycle.preStopSleepSeconds }}
      {{- end }}
      resources:
        {{- toYaml .Values.resources | nindent 8 }}
      securityContext:
        runAsNonRoot: true
        runAsUser: {{ .Values.securityContext.runAsUser }}
        runAsGroup: {{ .Values.securityContext.runAsGroup }}
        privileged: false
        allowPrivilegeEscalation: false
        readOnlyRootFilesystem: true
        capabilities:
          drop:
            - ALL
        seccompProfile:
          type: RuntimeDefault
      volumeMounts:
        - name: tmp
          mountPath: /tmp
  volumes:
    - name: tmp
      emptyDir:
        sizeLimit: {{ .Values.tmpDir.sizeLimit }}
  {{- if .Values.topologySpread.enabled }}
  topologySpreadConstraints:
    - topologyKey: topology.kubernetes.io/zone
      maxSkew: {{ .Values.topologySpread.zone.maxSkew }}
      whenUnsatisfiable: {{ .Values.topologySpread.zone.whenUnsatisfiable }}
      labelSelector:
        matchLabels:
          {{- include "sre-platform.selectorLabels" . | nindent 10 }}
      # Spread each revision on its own: a 1-pod canary and the stable pods are both spread.
      matchLabelKeys:
        - {{ include "sre-platform.podTemplateHashLabel" . }}
    - topologyKey: kubernetes.io/hostname
      maxSkew: {{ .Values.topologySpread.hostname.maxSkew }}
      whenUnsatisfiable: {{ .Values.topologySpread.hostname.whenUnsatisfiable }}
      labelSelector:
        matchLabels:
          {{- include "sre-platform.selectorLabels" . | nindent 10 }}
      matchLabelKeys:
        - {{ include "sre-platform.podTemplateHashLabel" . }}
  {{- end }}
  {{- if ne .Values.podAntiAffinity "none" }}
  affinity:
    podAntiAffinity:
      {{- if eq .Values.podAntiAffinity "hard" }}
      requiredDuringSchedulingIgnoredDuringExecution:
        - topologyKey: kubernetes.io/hostname
          labelSelector:
            matchLabels:
              {{- include "sre-platform.selectorLabels" . | nindent 14 }}
      {{- else }}
      preferredDuringSchedulingIgnoredDuringExecution:
        - weight: 100
          podAffinityTerm:
            topologyKey: kubernetes.io/hostname
            labelSelector:
              matchLabels:
                {{- include "sre-platform.selectorLabels" . | nindent 16 }}
      {{- end }}
  {{- end }}
  {{- with .Values.nodeSelector }}
  nodeSelector:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.tolerations }}
  tolerations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end }}
