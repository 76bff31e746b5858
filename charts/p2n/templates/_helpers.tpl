{{/* Names, labels and image references shared by every template. */}}

{{- define "p2n.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "p2n.fullname" -}}
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

{{- define "p2n.operator.fullname" -}}
{{- printf "%s-operator" (include "p2n.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "p2n.api.fullname" -}}
{{- printf "%s-api" (include "p2n.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The sandbox ServiceAccount: a fixed name, because the operator sets it on every sandbox pod. */}}
{{- define "p2n.sandbox.serviceAccountName" -}}
p2n-sandbox
{{- end }}

{{/* Labels of every object that belongs to no one component (RBAC, run-namespace objects). */}}
{{- define "p2n.labels" -}}
{{ include "p2n.sharedLabels" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "p2n.sharedLabels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/part-of: p2n
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/* Labels of one component's objects: call with (dict "root" $ "component" "operator"). */}}
{{- define "p2n.componentLabels" -}}
{{ include "p2n.sharedLabels" .root }}
{{ include "p2n.selectorLabels" . }}
{{- end }}

{{/* Selector labels of one component: call with (dict "root" $ "component" "operator"). */}}
{{- define "p2n.selectorLabels" -}}
app.kubernetes.io/name: {{ include "p2n.name" .root }}-{{ .component }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{/* repository:tag[@digest] of an image block: call with (dict "root" $ "image" .Values.x.image). */}}
{{- define "p2n.image" -}}
{{- $tag := default .root.Chart.AppVersion .image.tag -}}
{{- if .image.digest -}}
{{- printf "%s:%s@%s" .image.repository $tag .image.digest -}}
{{- else -}}
{{- printf "%s:%s" .image.repository $tag -}}
{{- end -}}
{{- end }}

{{/* A label map in the settings form "k=v,k=v" (sorted by key). */}}
{{- define "p2n.labelList" -}}
{{- $pairs := list -}}
{{- range $key, $value := . -}}
{{- $pairs = append $pairs (printf "%s=%s" $key $value) -}}
{{- end -}}
{{- join "," $pairs -}}
{{- end }}

{{/* Namespaces the operator watches: empty when it watches all of them. */}}
{{- define "p2n.watchNamespaces" -}}
{{- if not .Values.operator.watchAllNamespaces -}}
{{- join "," .Values.runNamespaces.names -}}
{{- end -}}
{{- end }}

{{/* Restricted securityContexts shared by the operator and API pods. */}}
{{- define "p2n.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 10001
runAsGroup: 10001
fsGroup: 10001
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{- define "p2n.containerSecurityContext" -}}
allowPrivilegeEscalation: false
privileged: false
readOnlyRootFilesystem: true
runAsNonRoot: true
runAsUser: 10001
runAsGroup: 10001
capabilities:
  drop:
    - ALL
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{/* P2N_* settings shared by the operator and the API; credentials only through secretKeyRef. */}}
{{- define "p2n.commonEnv" -}}
- name: P2N_HOME
  value: /tmp/p2n
- name: P2N_LOG_LEVEL
  value: {{ .Values.logging.level | quote }}
- name: P2N_LOG_FORMAT
  value: {{ .Values.logging.format | quote }}
{{- with .Values.tracing.otlpEndpoint }}
- name: P2N_OTLP_ENDPOINT
  value: {{ . | quote }}
{{- end }}
- name: P2N_DATABASE_URL
  valueFrom:
    secretKeyRef:
      name: {{ .Values.database.existingSecret }}
      key: {{ .Values.database.key }}
- name: P2N_DB_POOL_MIN
  value: {{ .Values.database.poolMin | quote }}
- name: P2N_DB_POOL_MAX
  value: {{ .Values.database.poolMax | quote }}
- name: P2N_S3_BUCKET
  value: {{ .Values.s3.bucket | quote }}
- name: P2N_S3_PREFIX
  value: {{ .Values.s3.prefix | quote }}
{{- with .Values.s3.endpointUrl }}
- name: P2N_S3_ENDPOINT_URL
  value: {{ . | quote }}
{{- end }}
- name: P2N_S3_REGION
  value: {{ .Values.s3.region | quote }}
{{- if .Values.s3.existingSecret }}
- name: P2N_S3_ACCESS_KEY_ID
  valueFrom:
    secretKeyRef:
      name: {{ .Values.s3.existingSecret }}
      key: {{ .Values.s3.accessKeyIdKey }}
- name: P2N_S3_SECRET_ACCESS_KEY
  valueFrom:
    secretKeyRef:
      name: {{ .Values.s3.existingSecret }}
      key: {{ .Values.s3.secretAccessKeyKey }}
{{- end }}
- name: P2N_PRESIGN_TTL_SECONDS
  value: {{ .Values.s3.presignTtlSeconds | quote }}
- name: P2N_MAX_DOCUMENT_BYTES
  value: {{ .Values.s3.maxDocumentBytes | int64 | quote }}
- name: P2N_MAX_ARTIFACT_BYTES
  value: {{ .Values.s3.maxArtifactBytes | int64 | quote }}
{{- if .Values.openai.existingSecret }}
- name: P2N_OPENAI_API_KEY
  valueFrom:
    secretKeyRef:
      name: {{ .Values.openai.existingSecret }}
      key: {{ .Values.openai.key }}
{{- end }}
{{- with .Values.openai.baseUrl }}
- name: P2N_OPENAI_BASE_URL
  value: {{ . | quote }}
{{- end }}
- name: P2N_OPENAI_MODEL
  value: {{ .Values.openai.model | quote }}
- name: P2N_LLM_MAX_TOKENS
  value: {{ .Values.openai.maxTokens | int64 | quote }}
- name: P2N_LLM_MAX_TOOL_CALLS
  value: {{ .Values.openai.maxToolCalls | int64 | quote }}
{{- end }}

{{/* Pod scheduling fields shared by both Deployments: call with the component's values. */}}
{{- define "p2n.scheduling" -}}
{{- with .nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .priorityClassName }}
priorityClassName: {{ . }}
{{- end }}
{{- end }}

{{/* Milliseconds of a Prometheus duration such as 1m30s (units h, m, s, ms, as the schema allows). */}}
{{- define "p2n.durationMs" -}}
{{- $total := 0 -}}
{{- range regexFindAll "[0-9]+(ms|h|m|s)" . -1 -}}
{{- $count := regexFind "^[0-9]+" . | int -}}
{{- $unit := regexReplaceAll "^[0-9]+" . "" -}}
{{- $total = add $total (mul $count (get (dict "h" 3600000 "m" 60000 "s" 1000 "ms" 1) $unit)) -}}
{{- end -}}
{{- $total -}}
{{- end }}
