{{/*
Helpers of the clusternet-agent chart. Self-contained: names, labels and affinity presets behave like
those of the library chart Clusternet's chart depends on, without depending on it.
*/}}

{{/* Chart name, or nameOverride. */}}
{{- define "clusternet-agent.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Object name: fullnameOverride; else the release name if it contains the chart name; else <release>-<name>. */}}
{{- define "clusternet-agent.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := include "clusternet-agent.name" . -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* Name of cluster-scoped objects: unique per release namespace. */}}
{{- define "clusternet-agent.clusterScopedName" -}}
{{- printf "clusternet-agent:%s:%s" .Release.Namespace (include "clusternet-agent.fullname" .) -}}
{{- end -}}

{{- define "clusternet-agent.serviceAccountName" -}}
{{- .Values.serviceAccount.name -}}
{{- end -}}

{{/* The app deployer's names are fixed: the agent looks them up by name. */}}
{{- define "clusternet-agent.appDeployerName" -}}clusternet-app-deployer{{- end -}}

{{/* The registration Secret's name is fixed, as in Clusternet's chart. */}}
{{- define "clusternet-agent.registrationSecretName" -}}
{{- default "clusternet-agent-cluster-registration" .Values.existingSecret -}}
{{- end -}}

{{- define "clusternet-agent.matchLabels" -}}
app.kubernetes.io/name: {{ include "clusternet-agent.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "clusternet-agent.labels" -}}
{{- $labels := dict
  "app.kubernetes.io/name" (include "clusternet-agent.name" .)
  "app.kubernetes.io/instance" .Release.Name
  "app.kubernetes.io/managed-by" .Release.Service
  "app.kubernetes.io/version" (.Chart.AppVersion | toString)
  "helm.sh/chart" (printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-")
-}}
{{- toYaml (merge $labels (deepCopy .Values.commonLabels)) -}}
{{- end -}}

{{/* metadata.labels and metadata.annotations of every object. */}}
{{- define "clusternet-agent.metadata" -}}
labels:
  {{- include "clusternet-agent.labels" . | nindent 2 }}
{{- with .Values.commonAnnotations }}
annotations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{- define "clusternet-agent.kubeVersion" -}}
{{- default .Capabilities.KubeVersion.Version .Values.kubeVersion -}}
{{- end -}}

{{- define "clusternet-agent.image" -}}
{{- $repo := .Values.image.repository -}}
{{- $registry := .Values.image.registry | default .Values.global.imageRegistry -}}
{{- if $registry -}}{{- $repo = printf "%s/%s" $registry $repo -}}{{- end -}}
{{- printf "%s:%s" $repo (.Values.image.tag | toString) -}}
{{- end -}}

{{/* --feature-gates: featureGates, then extraArgs.feature-gates, merged gate by gate (later wins). */}}
{{- define "clusternet-agent.featureGates" -}}
{{- $gates := dict -}}
{{- $order := list -}}
{{- range $source := list .Values.featureGates (index .Values.extraArgs "feature-gates" | default "") -}}
{{- range $item := splitList "," ($source | toString) -}}
{{- $item = trim $item -}}
{{- if $item -}}
{{- $kv := splitn "=" 2 $item -}}
{{- $key := trim $kv._0 -}}
{{- if not (hasKey $gates $key) -}}{{- $order = append $order $key -}}{{- end -}}
{{- $_ := set $gates $key (trim (default "" $kv._1)) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- $out := list -}}
{{- range $key := $order -}}{{- $out = append $out (printf "%s=%s" $key (get $gates $key)) -}}{{- end -}}
{{- join "," $out -}}
{{- end -}}

{{/* One extraArgs value as text: integers without a decimal point or exponent (YAML numbers arrive as floats). */}}
{{- define "clusternet-agent.argValue" -}}
{{- if kindIs "float64" . -}}
{{- if eq (float64 (int64 .)) . -}}{{- int64 . -}}{{- else -}}{{- . -}}{{- end -}}
{{- else -}}
{{- . | toString -}}
{{- end -}}
{{- end -}}

{{/* Affinity presets (soft = preferred, hard = required), as documented by the library chart. */}}
{{- define "clusternet-agent.podAffinityTerm" -}}
labelSelector:
  matchLabels:
    {{- include "clusternet-agent.matchLabels" .context | nindent 4 }}
namespaces:
  - {{ .context.Release.Namespace | quote }}
topologyKey: kubernetes.io/hostname
{{- end -}}

{{- define "clusternet-agent.podAffinityPreset" -}}
{{- if eq .type "soft" -}}
preferredDuringSchedulingIgnoredDuringExecution:
  - podAffinityTerm:
      {{- include "clusternet-agent.podAffinityTerm" . | nindent 6 }}
    weight: 1
{{- else if eq .type "hard" -}}
requiredDuringSchedulingIgnoredDuringExecution:
  - {{ include "clusternet-agent.podAffinityTerm" . | indent 4 | trim }}
{{- end -}}
{{- end -}}

{{- define "clusternet-agent.nodeAffinityPreset" -}}
{{- $expr := dict "key" .key "operator" "In" "values" .values -}}
{{- if eq .type "soft" -}}
preferredDuringSchedulingIgnoredDuringExecution:
  - preference:
      matchExpressions:
        - {{ toYaml $expr | indent 10 | trim }}
    weight: 1
{{- else if eq .type "hard" -}}
requiredDuringSchedulingIgnoredDuringExecution:
  nodeSelectorTerms:
    - matchExpressions:
        - {{ toYaml $expr | indent 10 | trim }}
{{- end -}}
{{- end -}}

{{- define "clusternet-agent.affinity" -}}
{{- if .Values.affinity -}}
{{- toYaml .Values.affinity -}}
{{- else -}}
{{- $pod := include "clusternet-agent.podAffinityPreset" (dict "type" .Values.podAffinityPreset "context" .) -}}
{{- $anti := include "clusternet-agent.podAffinityPreset" (dict "type" .Values.podAntiAffinityPreset "context" .) -}}
{{- $node := include "clusternet-agent.nodeAffinityPreset" .Values.nodeAffinityPreset -}}
{{- with $pod }}
podAffinity:
  {{- . | nindent 2 }}
{{- end }}
{{- with $anti }}
podAntiAffinity:
  {{- . | nindent 2 }}
{{- end }}
{{- with $node }}
nodeAffinity:
  {{- . | nindent 2 }}
{{- end }}
{{- end -}}
{{- end -}}

{{/*
The required values. `helm lint` renders with neither an install nor an upgrade in progress and only
checks the chart's structure; every install, upgrade and `helm template` requires them.
*/}}
{{- define "clusternet-agent.validate" -}}
{{- if and (or .Release.IsInstall .Release.IsUpgrade) (not .Values.existingSecret) -}}
{{- if not .Values.parentURL -}}
{{- fail "\n\nparentURL is required: the URL of the parent cluster's kube-apiserver, e.g.\n  --set parentURL=https://192.168.10.10:6443\n(or existingSecret: a Secret with keys parentURL and regToken)" -}}
{{- end -}}
{{- if not .Values.registrationToken -}}
{{- fail "\n\nregistrationToken is required: a bootstrap token of the parent cluster, e.g.\n  --set registrationToken=07401b.f395accd246ae52d\n(or existingSecret: a Secret with keys parentURL and regToken)" -}}
{{- end -}}
{{- end -}}
{{- end -}}
