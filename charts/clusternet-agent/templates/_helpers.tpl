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

{{/*
The image: global.imageRegistry, else image.registry (the library chart's precedence, so one global value
moves every image of an umbrella chart), then the repository, then @digest when set, else :tag.
*/}}
{{- define "clusternet-agent.image" -}}
{{- $repo := .Values.image.repository -}}
{{- $registry := .Values.global.imageRegistry | default .Values.image.registry -}}
{{- if $registry -}}{{- $repo = printf "%s/%s" $registry $repo -}}{{- end -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" $repo (.Values.image.digest | toString) -}}
{{- else -}}
{{- printf "%s:%s" $repo (.Values.image.tag | toString) -}}
{{- end -}}
{{- end -}}

{{/* A Go flag's boolean value as the agent reads it; a bare flag (null value) is true. */}}
{{- define "clusternet-agent.flagTrue" -}}
{{- if or (kindIs "invalid" .) (regexMatch "^(1|t|T|true|TRUE|True)$" (toString .)) -}}true{{- end -}}
{{- end -}}

{{/* The port the agent serves health and metrics on: extraArgs.secure-port (rendered last, so it wins) or securePort. */}}
{{- define "clusternet-agent.securePort" -}}
{{- if hasKey .Values.extraArgs "secure-port" -}}
{{- include "clusternet-agent.argValue" (index .Values.extraArgs "secure-port") | int -}}
{{- else -}}
{{- .Values.securePort | int -}}
{{- end -}}
{{- end -}}

{{/* HTTP with extraArgs.insecure-serving (development only), else HTTPS: what the probes and the Service speak. */}}
{{- define "clusternet-agent.scheme" -}}
{{- if and (hasKey .Values.extraArgs "insecure-serving") (include "clusternet-agent.flagTrue" (index .Values.extraArgs "insecure-serving")) -}}HTTP{{- else -}}HTTPS{{- end -}}
{{- end -}}

{{/*
A Go duration (time.ParseDuration's syntax, which the schema checks) in seconds, as a float; "-" first when
negative.
*/}}
{{- define "clusternet-agent.seconds" -}}
{{- $text := toString . | trim | trimPrefix "+" -}}
{{- $total := 0.0 -}}
{{- $units := dict "ns" 1e-9 "us" 1e-6 "µs" 1e-6 "ms" 1e-3 "s" 1.0 "m" 60.0 "h" 3600.0 -}}
{{- range $part := regexFindAll "([0-9]*[.]?[0-9]*)(ns|us|µs|ms|s|m|h)" (trimPrefix "-" $text) -1 -}}
{{- $number := regexFind "^[0-9]*[.]?[0-9]*" $part -}}
{{- $total = addf $total (mulf (float64 (printf "0%s" $number)) (get $units (trimPrefix $number $part))) -}}
{{- end -}}
{{- if hasPrefix "-" $text }}-{{ end }}{{ $total -}}
{{- end -}}

{{/* The duration flags of the agent (test/unit/chart/strictness.test.ts keeps this list equal to its flag table). */}}
{{- define "clusternet-agent.durationFlags" -}}
cluster-status-update-frequency cluster-status-collect-frequency leader-elect-lease-duration leader-elect-renew-deadline leader-elect-retry-period log-flush-frequency parent-credentials-check-interval
{{- end -}}

{{/*
What the agent checks that the schema cannot: the registration token's shape (never echoed), durations
within Go's range (about 2,562,047 h) and client-go's relations between the leader election durations,
Push only with the AppPusher gate, and the lease namespace (the chart grants the agent's Role in the
release namespace only).
*/}}
{{- define "clusternet-agent.validateFlags" -}}
{{- $extra := .Values.extraArgs -}}
{{- if not .Values.existingSecret -}}
{{- $token := index $extra "cluster-reg-token" | default .Values.registrationToken | toString | trim -}}
{{- if and $token (not (or (regexMatch "^[a-z0-9]{6}[.][a-z0-9]{16}$" $token) (regexMatch "^[A-Za-z0-9_-]+[.][A-Za-z0-9_-]+[.][A-Za-z0-9_-]*$" $token))) -}}
{{- fail "\n\nregistrationToken is malformed (its value is not shown): expected a bootstrap token of the parent, <6 characters [a-z0-9]>.<16 characters [a-z0-9]>, or a ServiceAccount token (a JWT)" -}}
{{- end -}}
{{- end -}}
{{- $seconds := dict "leader-elect-lease-duration" 15.0 "leader-elect-renew-deadline" 10.0 "leader-elect-retry-period" 2.0 -}}
{{- range $name := splitList " " (include "clusternet-agent.durationFlags" .) -}}
{{- if hasKey $extra $name -}}
{{- $value := index $extra $name | toString -}}
{{- $s := include "clusternet-agent.seconds" $value | float64 -}}
{{- if gt (float64 (trimPrefix "-" (toString $s))) 9223372036.854776 -}}
{{- fail (printf "\n\nextraArgs.%s: %s is out of range: a Go duration is at most 2562047h47m16.854775807s" $name $value) -}}
{{- end -}}
{{- $_ := set $seconds $name $s -}}
{{- end -}}
{{- end -}}
{{- $lease := get $seconds "leader-elect-lease-duration" -}}
{{- $renew := get $seconds "leader-elect-renew-deadline" -}}
{{- $retry := get $seconds "leader-elect-retry-period" -}}
{{- if gt $lease 2147483647.0 -}}
{{- fail "\n\nextraArgs.leader-elect-lease-duration must be at most 596523h14m7s (the Lease's leaseDurationSeconds is an int32)" -}}
{{- end -}}
{{- if not (gt $lease $renew) -}}
{{- fail "\n\nextraArgs: leader-elect-lease-duration must be greater than leader-elect-renew-deadline (defaults 15s and 10s)" -}}
{{- end -}}
{{- if not (gt $renew (mulf 1.2 $retry)) -}}
{{- fail "\n\nextraArgs: leader-elect-renew-deadline must be greater than 1.2 × leader-elect-retry-period (defaults 10s and 2s)" -}}
{{- end -}}
{{- if eq (index $extra "cluster-sync-mode" | default "Pull" | toString) "Push" -}}
{{- if not (regexMatch "(^|,)AppPusher=(1|t|T|true|TRUE|True)(,|$)" (include "clusternet-agent.featureGates" .)) -}}
{{- fail "\n\nextraArgs.cluster-sync-mode=Push requires the feature gate AppPusher=true (featureGates)" -}}
{{- end -}}
{{- end -}}
{{- with index $extra "leader-elect-resource-namespace" -}}
{{- if ne (toString .) $.Release.Namespace -}}
{{- fail (printf "\n\nextraArgs.leader-elect-resource-namespace=%s: the chart grants the agent's Role (Lease, Secrets) in the release namespace %s only; install the release into %s instead" (toString .) $.Release.Namespace (toString .)) -}}
{{- end -}}
{{- end -}}
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
{{- include "clusternet-agent.validateFlags" . -}}
{{- if and (or .Release.IsInstall .Release.IsUpgrade) (not .Values.existingSecret) -}}
{{- if not .Values.parentURL -}}
{{- fail "\n\nparentURL is required: the URL of the parent cluster's kube-apiserver, e.g.\n  --set parentURL=https://192.168.10.10:6443\n(or existingSecret: a Secret with keys parentURL and regToken)" -}}
{{- end -}}
{{- if not .Values.registrationToken -}}
{{- fail "\n\nregistrationToken is required: a bootstrap token of the parent cluster, e.g.\n  --set registrationToken=07401b.f395accd246ae52d\n(or existingSecret: a Secret with keys parentURL and regToken)" -}}
{{- end -}}
{{- end -}}
{{- end -}}
