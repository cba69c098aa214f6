"""Checks over rendered Kubernetes objects (Helm output or the program's own manifests).

(a) schema: kubernetes-validate strict for the cluster version; custom kinds are noted as not validated.
(b) Pod Security Standards, baseline profile (https://kubernetes.io/docs/concepts/security/pod-security-standards/).
(c) quota fit: the namespace's ResourceQuota against the workloads' requests and limits.
(d) image tags: none missing, none `latest`.
(e) no secret values in ConfigMaps, env `value`s or annotations.
"""

from __future__ import annotations

import base64
import binascii
import posixpath
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from components.domain_config import parse_quantity
from platformctl.validate import minor_version, schema_check


@dataclass(frozen=True)
class Finding:
    check: str  # schema | pss-baseline | quota | image | secret
    object: str  # "Kind namespace/name"
    message: str

    def __str__(self) -> str:
        return f"[{self.check}] {self.object}: {self.message}"


def ref(obj: dict[str, Any], namespace: str | None = None) -> str:
    meta = obj.get("metadata") or {}
    ns = meta.get("namespace") or namespace
    name = meta.get("name") or meta.get("generateName") or "?"
    return f"{obj.get('kind', '?')} {ns}/{name}" if ns else f"{obj.get('kind', '?')} {name}"


# ---- pod specs ----------------------------------------------------------------------------------

_TEMPLATED = {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "ReplicationController", "Job", "PodTemplate"}


def pod_spec(obj: dict[str, Any]) -> dict[str, Any] | None:
    """The pod spec an object runs (Pod, workload templates, CronJob's job template), else None."""
    kind, spec = obj.get("kind"), obj.get("spec") or {}
    if kind == "Pod":
        return spec
    if kind == "PodTemplate":
        return (obj.get("template") or {}).get("spec")
    if kind in _TEMPLATED:
        return (spec.get("template") or {}).get("spec")
    if kind == "CronJob":
        return (((spec.get("jobTemplate") or {}).get("spec") or {}).get("template") or {}).get("spec")
    return None


def pod_metadata(obj: dict[str, Any]) -> dict[str, Any]:
    kind, spec = obj.get("kind"), obj.get("spec") or {}
    if kind == "Pod":
        return obj.get("metadata") or {}
    if kind == "CronJob":
        return (((spec.get("jobTemplate") or {}).get("spec") or {}).get("template") or {}).get("metadata") or {}
    template = obj.get("template") if kind == "PodTemplate" else spec.get("template")
    return (template or {}).get("metadata") or {}


def containers(spec: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(field, container) for containers, initContainers and ephemeralContainers."""
    for key in ("initContainers", "containers", "ephemeralContainers"):
        for c in spec.get(key) or []:
            yield key, c


# ---- (a) schema -----------------------------------------------------------------------------------


def schema_findings(
    objects: Iterable[dict[str, Any]], version: str, namespace: str | None = None
) -> tuple[list[Finding], list[str]]:
    """Strict schema errors, and notes for custom kinds that have no schema here."""
    findings, notes = [], []
    for obj in objects:
        errors, note = schema_check(obj, version)
        findings += [Finding("schema", ref(obj, namespace), e) for e in errors]
        if note:
            notes.append(f"{ref(obj, namespace)}: {note}")
    return findings, notes


# ---- (b) Pod Security Standards: baseline -------------------------------------------------------


def _names(text: str) -> frozenset[str]:
    return frozenset(text.split())


BASELINE_CAPABILITIES = _names(
    "AUDIT_WRITE CHOWN DAC_OVERRIDE FOWNER FSETID KILL MKNOD NET_BIND_SERVICE SETFCAP SETGID SETPCAP SETUID SYS_CHROOT"
)
# Safe sysctls by the Kubernetes version that allowed them.
_SYSCTLS: tuple[tuple[tuple[int, int], frozenset[str]], ...] = (
    (
        (1, 0),
        _names(
            "kernel.shm_rmid_forced net.ipv4.ip_local_port_range net.ipv4.ip_unprivileged_port_start "
            "net.ipv4.tcp_syncookies net.ipv4.ping_group_range"
        ),
    ),
    ((1, 27), frozenset({"net.ipv4.ip_local_reserved_ports"})),
    (
        (1, 29),
        _names(
            "net.ipv4.tcp_keepalive_time net.ipv4.tcp_fin_timeout net.ipv4.tcp_keepalive_intvl "
            "net.ipv4.tcp_keepalive_probes"
        ),
    ),
)
_SELINUX_TYPES = {"", "container_t", "container_init_t", "container_kvm_t"}
_APPARMOR_ANNOTATION = "container.apparmor.security.beta.kubernetes.io/"


def pss_baseline_violations(obj: dict[str, Any], version: str) -> list[str]:
    """Violations of the PSS baseline profile at Kubernetes `version`, for any object that runs pods."""
    spec = pod_spec(obj)
    if spec is None:
        return []
    v = minor_version(version)
    out: list[str] = []
    psc = spec.get("securityContext") or {}

    out += [f"{key}: true" for key in ("hostNetwork", "hostPID", "hostIPC") if spec.get(key)]
    if (psc.get("windowsOptions") or {}).get("hostProcess"):
        out.append("securityContext.windowsOptions.hostProcess: true")
    out += [f"volume {vol.get('name')} is a hostPath" for vol in spec.get("volumes") or [] if "hostPath" in vol]
    allowed_sysctls = frozenset().union(*(names for since, names in _SYSCTLS if v >= since))
    out += [f"unsafe sysctl {s.get('name')}" for s in psc.get("sysctls") or [] if s.get("name") not in allowed_sysctls]
    selinux_types = _SELINUX_TYPES | ({"container_engine_t"} if v >= (1, 31) else set())
    out += _security_context_violations("pod ", psc, selinux_types)
    for key, value in (pod_metadata(obj).get("annotations") or {}).items():
        if key.startswith(_APPARMOR_ANNOTATION) and value != "runtime/default" and not value.startswith("localhost/"):
            out.append(f"annotation {key}: {value}")

    for kind, c in containers(spec):
        where = f"{kind} {c.get('name')}"
        sc = c.get("securityContext") or {}
        if sc.get("privileged"):
            out.append(f"{where}: privileged")
        if (sc.get("windowsOptions") or {}).get("hostProcess"):
            out.append(f"{where}: windowsOptions.hostProcess")
        added = set((sc.get("capabilities") or {}).get("add") or []) - BASELINE_CAPABILITIES
        if added:
            out.append(f"{where}: adds capabilities {sorted(added)}")
        if sc.get("procMount") not in (None, "Default"):
            out.append(f"{where}: procMount {sc['procMount']}")
        out += [f"{where}: {p}" for p in _security_context_violations("", sc, selinux_types)]
        out += [
            f"{where}: hostPort {port['hostPort']}"
            for port in c.get("ports") or []
            if port.get("hostPort") not in (None, 0)
        ]
        if v >= (1, 34):
            out += [f"{where}: {p} sets host" for p in _probe_hosts(c)]
    return out


def _security_context_violations(prefix: str, sc: dict[str, Any], selinux_types: set[str]) -> list[str]:
    out = [
        f"{prefix}{profile} Unconfined"
        for profile in ("seccompProfile", "appArmorProfile")
        if (sc.get(profile) or {}).get("type") == "Unconfined"
    ]
    selinux = sc.get("seLinuxOptions") or {}
    if selinux.get("type", "") not in selinux_types:
        out.append(f"{prefix}seLinuxOptions.type {selinux['type']}")
    out += [f"{prefix}seLinuxOptions.{k} set" for k in ("user", "role") if selinux.get(k)]
    return out


def _probe_hosts(c: dict[str, Any]) -> Iterator[str]:
    handlers = [(p, c.get(p) or {}) for p in ("livenessProbe", "readinessProbe", "startupProbe")]
    handlers += [(f"lifecycle.{h}", (c.get("lifecycle") or {}).get(h) or {}) for h in ("postStart", "preStop")]
    for name, handler in handlers:
        for action in ("httpGet", "tcpSocket"):
            if (handler.get(action) or {}).get("host"):
                yield f"{name}.{action}"


def pss_findings(objects: Iterable[dict[str, Any]], version: str, namespace: str | None = None) -> list[Finding]:
    return [
        Finding("pss-baseline", ref(obj, namespace), v)
        for obj in objects
        for v in pss_baseline_violations(obj, version)
    ]


# ---- (b') Pod Security Standards: restricted ----------------------------------------------------

RESTRICTED_VOLUME_TYPES = frozenset(
    ["configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim", "projected", "secret"]
)
_SECCOMP_OK = ("RuntimeDefault", "Localhost")


def pss_restricted_violations(obj: dict[str, Any], version: str) -> list[str]:
    """Violations of the PSS restricted profile: the baseline's, plus volume types, privilege escalation,
    non-root, seccomp and capabilities, as the Pod Security admission controller checks them."""
    spec = pod_spec(obj)
    if spec is None:
        return []
    out = pss_baseline_violations(obj, version)
    psc = spec.get("securityContext") or {}
    for vol in spec.get("volumes") or []:
        kinds = set(vol) - {"name"}
        if not kinds <= RESTRICTED_VOLUME_TYPES:
            out.append(f"volume {vol.get('name')} is a {sorted(kinds - RESTRICTED_VOLUME_TYPES)[0]}")
    if psc.get("runAsUser") == 0:
        out.append("pod runAsUser 0")
    for kind, c in containers(spec):
        where = f"{kind} {c.get('name')}"
        sc = c.get("securityContext") or {}
        if sc.get("allowPrivilegeEscalation") is not False:
            out.append(f"{where}: allowPrivilegeEscalation is not false")
        non_root = sc.get("runAsNonRoot", psc.get("runAsNonRoot"))
        if non_root is not True:
            out.append(f"{where}: runAsNonRoot is not true")
        if sc.get("runAsUser") == 0:
            out.append(f"{where}: runAsUser 0")
        seccomp = (sc.get("seccompProfile") or psc.get("seccompProfile") or {}).get("type")
        if seccomp not in _SECCOMP_OK:
            out.append(f"{where}: seccompProfile is not RuntimeDefault or Localhost")
        caps = sc.get("capabilities") or {}
        if "ALL" not in (caps.get("drop") or []):
            out.append(f"{where}: capabilities do not drop ALL")
        added = set(caps.get("add") or []) - {"NET_BIND_SERVICE"}
        if added:
            out.append(f"{where}: adds capabilities {sorted(added)}")
    return out


# ---- (c) quota fit ------------------------------------------------------------------------------

_RESOURCES = ("cpu", "memory")
# Quota keys tracked here; `cpu`/`memory` in a quota mean requests.
_QUOTA_KEYS = {
    "requests.cpu": ("requests", "cpu"),
    "cpu": ("requests", "cpu"),
    "requests.memory": ("requests", "memory"),
    "memory": ("requests", "memory"),
    "limits.cpu": ("limits", "cpu"),
    "limits.memory": ("limits", "memory"),
}
Amounts = dict[tuple[str, str], Decimal]  # ("requests" | "limits", "cpu" | "memory") -> amount


def quantity(value: Any) -> Decimal:
    return parse_quantity(str(value))


def format_amount(resource: str, value: Decimal) -> str:
    if resource == "cpu":
        return f"{(value * 1000).normalize():f}m"
    if resource == "memory":
        return f"{(value / 2**20).quantize(Decimal('0.1')).normalize():f}Mi"
    return f"{value.normalize():f}"


@dataclass(frozen=True)
class ContainerDefaults:
    """A namespace's LimitRange `Container` items, defaulted as the API server does."""

    default_request: dict[str, Decimal] = field(default_factory=dict)
    default_limit: dict[str, Decimal] = field(default_factory=dict)
    min: dict[str, Decimal] = field(default_factory=dict)
    max: dict[str, Decimal] = field(default_factory=dict)

    @classmethod
    def from_limit_ranges(cls, limit_ranges: Iterable[dict[str, Any]]) -> ContainerDefaults:
        req: dict[str, Decimal] = {}
        lim: dict[str, Decimal] = {}
        lo: dict[str, Decimal] = {}
        hi: dict[str, Decimal] = {}
        for lr in limit_ranges:
            for item in (lr.get("spec") or {}).get("limits") or []:
                if item.get("type") != "Container":
                    continue
                item_max = {k: quantity(v) for k, v in (item.get("max") or {}).items()}
                item_min = {k: quantity(v) for k, v in (item.get("min") or {}).items()}
                # SetDefaults_LimitRangeItem: default limit <- max; default request <- default limit, then min.
                item_lim = {**item_max, **{k: quantity(v) for k, v in (item.get("default") or {}).items()}}
                item_req = {
                    **item_min,
                    **item_lim,
                    **{k: quantity(v) for k, v in (item.get("defaultRequest") or {}).items()},
                }
                for mine, theirs in ((req, item_req), (lim, item_lim), (lo, item_min), (hi, item_max)):
                    for k, val in theirs.items():
                        mine.setdefault(k, val)
        return cls(req, lim, lo, hi)


def container_amounts(c: dict[str, Any], defaults: ContainerDefaults) -> dict[tuple[str, str], Decimal | None]:
    """A container's effective requests and limits after API defaulting and the LimitRange (None: unset)."""
    res = c.get("resources") or {}
    limits = {k: quantity(v) for k, v in (res.get("limits") or {}).items()}
    # API defaulting first: a limit without a request makes the request equal to the limit.
    requests = {**limits, **{k: quantity(v) for k, v in (res.get("requests") or {}).items()}}
    out: dict[tuple[str, str], Decimal | None] = {}
    for r in _RESOURCES:
        out["requests", r] = requests.get(r, defaults.default_request.get(r))
        out["limits", r] = limits.get(r, defaults.default_limit.get(r))
    return out


def pod_amounts(spec: dict[str, Any], defaults: ContainerDefaults) -> tuple[Amounts, list[tuple[tuple[str, str], str]]]:
    """A pod's effective requests/limits (the scheduler's and quota's rule), and the values its containers lack.

    Regular containers and restartable init containers (sidecars) run together; each other init
    container runs alone next to the sidecars started before it; the pod needs the larger of the two.
    """
    missing: list[tuple[tuple[str, str], str]] = []
    amounts: Amounts = {}
    for k in [(kind, r) for kind in ("requests", "limits") for r in _RESOURCES]:
        running = sidecars = init_peak = Decimal(0)
        for field_name in ("initContainers", "containers"):
            for c in spec.get(field_name) or []:
                value = container_amounts(c, defaults)[k]
                if value is None:
                    missing.append((k, f"{field_name[:-1]} {c.get('name')} sets no {k[0]}.{k[1]}"))
                    value = Decimal(0)
                if field_name == "containers":
                    running += value
                elif c.get("restartPolicy") == "Always":
                    sidecars += value
                else:
                    init_peak = max(init_peak, sidecars + value)
        overhead = (spec.get("overhead") or {}).get(k[1])
        amounts[k] = max(running + sidecars, init_peak) + (quantity(overhead) if overhead else Decimal(0))
    return amounts, missing


def _limit_range_violations(spec: dict[str, Any], defaults: ContainerDefaults) -> list[str]:
    out = []
    for kind, c in containers(spec):
        amounts = container_amounts(c, defaults)
        for r in _RESOURCES:
            req, lim = amounts["requests", r], amounts["limits", r]
            if r in defaults.max and lim is not None and lim > defaults.max[r]:
                out.append(f"{kind} {c.get('name')}: limits.{r} above the LimitRange max")
            if r in defaults.min and req is not None and req < defaults.min[r]:
                out.append(f"{kind} {c.get('name')}: requests.{r} below the LimitRange min")
    return out


def replicas(obj: dict[str, Any], hpa_max: dict[tuple[str, str], int], nodes: int) -> int:
    """Pods an object keeps running: replicas (or its HPA's maximum), Job parallelism, DaemonSet x nodes."""
    kind, spec = obj.get("kind"), obj.get("spec") or {}
    name = (obj.get("metadata") or {}).get("name", "")
    if kind in ("Deployment", "StatefulSet", "ReplicaSet", "ReplicationController"):
        count = spec.get("replicas")
        count = 1 if count is None else int(count)
        return max(count, hpa_max.get((kind, name), 0))
    if kind == "DaemonSet":
        return nodes
    if kind in ("Job", "CronJob"):
        job = spec if kind == "Job" else (spec.get("jobTemplate") or {}).get("spec") or {}
        parallel = 1 if job.get("parallelism") is None else int(job["parallelism"])
        return parallel if job.get("completions") is None else min(parallel, int(job["completions"]))
    return 1


def _hook(obj: dict[str, Any]) -> str:
    return str(((obj.get("metadata") or {}).get("annotations") or {}).get("helm.sh/hook", ""))


@dataclass(frozen=True)
class ResourceFit:
    resource: str  # the quota key, e.g. "requests.cpu"
    hard: Decimal
    used: Decimal

    @property
    def headroom(self) -> Decimal:
        return self.hard - self.used

    def __str__(self) -> str:
        unit = self.resource.rsplit(".", 1)[-1]
        return (
            f"{self.resource}: used {format_amount(unit, self.used)} of {format_amount(unit, self.hard)}, "
            f"headroom {format_amount(unit, self.headroom)}"
        )


@dataclass
class QuotaReport:
    namespace: str
    fits: list[ResourceFit]
    problems: list[str]
    workloads: list[tuple[str, int]]  # (object, pods)
    notes: list[str]

    def fit(self, resource: str) -> ResourceFit:
        return next(f for f in self.fits if f.resource == resource)

    def findings(self) -> list[Finding]:
        subject = f"ResourceQuota {self.namespace}"
        over = [Finding("quota", subject, f"over quota: {f}") for f in self.fits if f.headroom < 0]
        return over + [Finding("quota", subject, p) for p in self.problems]


def quota_fit(
    objects: Iterable[dict[str, Any]],
    quota: dict[str, Any],
    limit_ranges: Iterable[dict[str, Any]] = (),
    *,
    namespace: str,
    nodes: int = 1,
) -> QuotaReport:
    """Does everything that runs pods in `namespace` fit its ResourceQuota?

    Usage = sum over workloads of pods x the pod's effective amount (LimitRange defaults applied to
    containers that set nothing), plus the largest Helm hook (hooks run one at a time, next to the
    release's workloads). Helm test hooks do not run at install and are left out. A container lacking
    a value the quota tracks is a problem: quota admission rejects such a pod.
    """
    objects = [o for o in objects if (o.get("metadata") or {}).get("namespace", namespace) == namespace]
    hard = {k: quantity(v) for k, v in ((quota.get("spec") or {}).get("hard") or {}).items()}
    defaults = ContainerDefaults.from_limit_ranges(limit_ranges)
    hpa_max = {
        (t.get("kind", ""), t.get("name", "")): int((o.get("spec") or {}).get("maxReplicas", 0))
        for o in objects
        if o.get("kind") == "HorizontalPodAutoscaler"
        for t in [(o.get("spec") or {}).get("scaleTargetRef") or {}]
    }
    tracked = {key for key in hard if key in _QUOTA_KEYS}
    steady: dict[str, Decimal] = {key: Decimal(0) for key in [*tracked, "pods"]}
    hook_peak: dict[str, Decimal] = dict.fromkeys(steady, Decimal(0))
    problems: list[str] = []
    workloads: list[tuple[str, int]] = []
    notes: list[str] = []
    for obj in objects:
        spec = pod_spec(obj)
        hook = _hook(obj)
        if spec is None or obj.get("kind") == "PodTemplate" or "test" in hook.split(","):
            continue
        pods = replicas(obj, hpa_max, nodes)
        workloads.append((ref(obj, namespace), pods))
        if obj.get("kind") == "DaemonSet":
            notes.append(f"{ref(obj, namespace)}: a DaemonSet, counted as {nodes} pod(s) (one per node)")
        amounts, missing = pod_amounts(spec, defaults)
        tracked_amounts = {_QUOTA_KEYS[key] for key in tracked}
        problems += [
            f"{ref(obj, namespace)}: {m} and the LimitRange gives no default; the quota tracks it, so the pod is rejected"
            for k, m in missing
            if k in tracked_amounts
        ]
        problems += [f"{ref(obj, namespace)}: {p}" for p in _limit_range_violations(spec, defaults)]
        usage = {key: amounts[_QUOTA_KEYS[key]] * pods for key in tracked}
        usage["pods"] = Decimal(pods)
        if hook:
            for key, value in usage.items():
                hook_peak[key] = max(hook_peak[key], value)
        else:
            for key, value in usage.items():
                steady[key] += value
    fits = [ResourceFit(key, hard[key], steady[key] + hook_peak[key]) for key in sorted(tracked)]
    if "pods" in hard:
        fits.append(ResourceFit("pods", hard["pods"], steady["pods"] + hook_peak["pods"]))
    return QuotaReport(namespace, fits, sorted(set(problems)), workloads, notes)


# ---- (d) image tags -----------------------------------------------------------------------------


def image_problem(image: str | None) -> str | None:
    """Why an image reference is not pinned (None when it is): no tag, or `latest`. A digest pins it."""
    if not image:
        return "no image"
    if "@" in image:
        return None
    last = image.rsplit("/", 1)[-1]
    if ":" not in last:
        return f"{image}: no tag (means latest)"
    tag = last.split(":", 1)[1]
    if not tag:
        return f"{image}: empty tag"
    if tag == "latest":
        return f"{image}: tag latest"
    return None


def image_findings(objects: Iterable[dict[str, Any]], namespace: str | None = None) -> list[Finding]:
    out = []
    for obj in objects:
        spec = pod_spec(obj)
        for kind, c in containers(spec) if spec else ():
            problem = image_problem(c.get("image"))
            if problem:
                out.append(Finding("image", ref(obj, namespace), f"{kind} {c.get('name')}: {problem}"))
    return out


# ---- (e) secrets in ConfigMaps, env values, annotations -----------------------------------------

# Name rules (names are split into words at `_`, `-`, `.` and camelCase humps, then upper-cased):
# - secret-looking: a word in _SECRET_WORDS, or KEY right after a word in _KEY_QUALIFIERS
#   (API_KEY, ACCESS_KEY, PRIVATE_KEY, SECRET_KEY, ...); plain KEY is too common (PARTITION_KEY);
# - a reference, not a secret, when the last word says so (..._SECRET_NAME, ..._TOKEN_URL,
#   ..._PASSWORD_FILE, AWS_ACCESS_KEY_ID, ..._ENABLED) or when SECRET_KEY follows a secret word
#   (CLIENT_SECRET_SECRET_KEY, PASSWORD_SECRET_KEY: the key *inside* a Secret, existingSecret style),
#   or when it ends in SECRET OR DEFAULT (zero-to-jupyterhub's name templates map
#   `hub-existing-secret-or-default` to the name of the Secret the hub reads);
# - a switch, not a secret, when the first word says so (ALLOW_EMPTY_PASSWORD: bitnami's Redis sets it to "no").
# A literal value that is empty or a `$(VAR)` reference to another variable is not a secret.
# An env var whose name ends in FILE (..._PASSWORD_FILE, ..._SECRET_FILE) holds a path, not a secret, only
# when its value is a path under one of the container's volume mounts; otherwise the rest of its name
# decides (`env_secret_like`). The policy pack applies the same rule (policy/rules.py, _sensitive_env).
_SECRET_WORDS = _names("PASSWORD PASSWD PASS PASSPHRASE SECRET SECRETS TOKEN APIKEY CREDENTIAL CREDENTIALS PRIVATEKEY")
_KEY_QUALIFIERS = _names("API ACCESS PRIVATE SECRET SIGNING ENCRYPTION MASTER CLIENT AUTH SESSION LICENSE SSH TLS")
_REFERENCE_SUFFIXES = _names(
    "NAME NAMES REF FILE FILES PATH DIR ARN ID IDS URL URI ENDPOINT HOST PORT TYPE KIND MODE ENABLED "
    "ENABLE DISABLED TTL TIMEOUT EXPIRY EXPIRATION SECONDS LENGTH HEADER FIELD PROVIDER AUDIENCE ISSUER "
    "PREFIX VERSION PERSISTENCE STORE BACKEND MANAGER"
)
_SWITCH_PREFIXES = _names("ALLOW ENABLE DISABLE REQUIRE USE SKIP")
_SECRET_KEY_OWNERS = {"PASSWORD", "SECRET", "TOKEN", "ID", "CREDS", "CREDENTIALS", "SIGNATURE", "KEY", "CERT"}
_ENV_REFERENCE = re.compile(r"\$\([A-Za-z_][A-Za-z0-9_]*\)")
_WORD = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|\d+")


def words(name: str) -> list[str]:
    return [w.upper() for w in _WORD.findall(name)]


def secret_like(name: str) -> bool:
    """Does `name` look like it holds a secret value (rules above)?"""
    return _secret_words(words(name))


def mounted_path(value: Any, mount_paths: Iterable[str]) -> bool:
    """Is `value` an absolute path at or below one of `mount_paths` (after resolving `..`)?"""
    if not isinstance(value, str) or not value.startswith("/"):
        return False
    path = posixpath.normpath(value)
    return any(
        path == m or path.startswith(m.rstrip("/") + "/")
        for m in (posixpath.normpath(p) for p in mount_paths if isinstance(p, str) and p.startswith("/"))
    )


def env_secret_like(name: str, value: Any, mount_paths: Iterable[str]) -> bool:
    """Does env var `name`, set to `value` in a container with these volume mount paths, hold a secret?"""
    w = words(name)
    if w[-1:] == ["FILE"]:
        return not mounted_path(value, mount_paths) and _secret_words(w[:-1])
    return _secret_words(w)


def _secret_words(w: list[str]) -> bool:
    if not w or w[-1] in _REFERENCE_SUFFIXES or w[0] in _SWITCH_PREFIXES:
        return False
    if w[-2:] in (["PULL", "SECRET"], ["PULL", "SECRETS"]):
        return False
    if w[-2:] == ["SECRET", "KEY"] and len(w) > 2 and w[-3] in _SECRET_KEY_OWNERS:
        return False
    if w[-3:] == ["SECRET", "OR", "DEFAULT"]:
        return False
    if any(x in _SECRET_WORDS for x in w):
        return True
    return any(w[i] == "KEY" and i > 0 and w[i - 1] in _KEY_QUALIFIERS for i in range(len(w)))


def _literal(value: Any) -> bool:
    text = "" if value is None else str(value).strip()
    return bool(text) and not _ENV_REFERENCE.fullmatch(text)


def _contains_known(text: str, known: frozenset[str]) -> bool:
    return any(s in text for s in known)


def _decoded(value: str) -> str:
    try:
        return base64.b64decode(value, validate=True).decode("utf-8", "replace")
    except (binascii.Error, ValueError):
        return value


def secret_findings(
    objects: Iterable[dict[str, Any]], known_secrets: Iterable[str] = (), namespace: str | None = None
) -> list[Finding]:
    """Secrets outside Secret objects: env vars with secret-looking names and a literal `value`, ConfigMap
    keys that look secret, and any known secret value in env, args, ConfigMaps, annotations or labels.
    A known value inside a rendered Secret is reported too: it reached the chart through values."""
    known = frozenset(s for s in known_secrets if s)
    out: list[Finding] = []
    for obj in objects:
        where = ref(obj, namespace)
        kind = obj.get("kind")
        meta = obj.get("metadata") or {}
        for field_name in ("annotations", "labels"):
            for k, v in (meta.get(field_name) or {}).items():
                if _contains_known(str(v), known):
                    out.append(Finding("secret", where, f"{field_name[:-1]} {k} holds a known secret value"))
        if kind == "ConfigMap":
            for section in ("data", "binaryData"):
                for k, v in (obj.get(section) or {}).items():
                    text = _decoded(str(v)) if section == "binaryData" else str(v)
                    if secret_like(k) and _literal(v):
                        out.append(Finding("secret", where, f"{section} key {k} looks like a secret"))
                    elif _contains_known(text, known):
                        out.append(Finding("secret", where, f"{section} key {k} holds a known secret value"))
        if kind == "Secret" and known:
            for section, decode in (("data", True), ("stringData", False)):
                for k, v in (obj.get(section) or {}).items():
                    if _contains_known(_decoded(str(v)) if decode else str(v), known):
                        out.append(
                            Finding("secret", where, f"{section}.{k} holds a known secret: it came through values")
                        )
        spec = pod_spec(obj)
        for ckind, c in containers(spec) if spec else ():
            cname = f"{ckind} {c.get('name')}"
            mounts = [m.get("mountPath") for m in c.get("volumeMounts") or []]
            for e in c.get("env") or []:
                if "value" not in e:
                    continue
                if env_secret_like(str(e.get("name", "")), e["value"], mounts) and _literal(e["value"]):
                    out.append(Finding("secret", where, f"{cname}: env {e.get('name')} has a literal value"))
                elif _contains_known(str(e["value"]), known):
                    out.append(Finding("secret", where, f"{cname}: env {e.get('name')} holds a known secret value"))
            out += [
                Finding("secret", where, f"{cname}: {arg_field} hold a known secret value")
                for arg_field in ("command", "args")
                if any(_contains_known(str(a), known) for a in c.get(arg_field) or [])
            ]
    return out


def check_objects(
    objects: list[dict[str, Any]], *, version: str, namespace: str | None = None, known_secrets: Iterable[str] = ()
) -> tuple[list[Finding], list[str]]:
    """Checks (a), (b), (d), (e) over one set of objects; returns (findings, notes). Quota fit is per namespace."""
    findings, notes = schema_findings(objects, version, namespace)
    findings += pss_findings(objects, version, namespace)
    findings += image_findings(objects, namespace)
    findings += secret_findings(objects, known_secrets, namespace)
    return findings, notes
