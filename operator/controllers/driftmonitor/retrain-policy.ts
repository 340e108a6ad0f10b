// What a retraining Job may ask for. The operator creates the Job with its
// own rights, so a DriftMonitor's author could otherwise obtain, through it, a
// pod that runs under a ServiceAccount they did not choose, or one that
// escapes onto the node (privileged, host namespaces, hostPath, hostPort,
// added capabilities, Unconfined seccomp/AppArmor, an unmasked /proc). The Job must name its ServiceAccount, and must stay
// within the Pod Security Standards' baseline. Pure; the CRD's CEL rule
// checks serviceAccountName too, at apply time.
//
// The template is the user's JSON as written (unknown fields preserved), so
// every level may be missing or of the wrong type; what is not a list or an
// object is skipped here and rejected by the apiserver when the Job is created.

/** Capabilities a container may add: the Pod Security Standards' baseline set. */
export const ALLOWED_CAPABILITIES = new Set([
  "AUDIT_WRITE",
  "CHOWN",
  "DAC_OVERRIDE",
  "FOWNER",
  "FSETID",
  "KILL",
  "MKNOD",
  "NET_BIND_SERVICE",
  "SETFCAP",
  "SETGID",
  "SETPCAP",
  "SETUID",
  "SYS_CHROOT",
]);

type Json = Record<string, unknown>;

/** What the template asks for that the operator will not grant; empty when the Job may be created. */
export function retrainJobProblems(template: unknown): string[] {
  const pod = obj(obj(obj(obj(template).spec).template).spec);
  const problems: string[] = [];
  const sa = pod.serviceAccountName;
  if (typeof sa !== "string" || sa === "") {
    problems.push(
      "the pod template does not name its ServiceAccount: set spec.template.spec.serviceAccountName to one with only the rights training needs",
    );
  }
  for (const field of ["hostNetwork", "hostPID", "hostIPC"]) {
    if (pod[field] === true) problems.push(`the pod template sets ${field}: remove it`);
  }
  if (obj(obj(pod.securityContext).windowsOptions).hostProcess === true) {
    problems.push("the pod template asks for a Windows hostProcess: remove it");
  }
  problems.push(...unconfined("the pod template", obj(pod.securityContext)));
  for (const volume of list(pod.volumes)) {
    if (volume.hostPath !== undefined) {
      problems.push(`volume ${String(volume.name)} is a hostPath: use an emptyDir, a PVC or a ConfigMap`);
    }
  }
  for (const c of [...list(pod.initContainers), ...list(pod.containers), ...list(pod.ephemeralContainers)]) {
    problems.push(...containerProblems(c));
  }
  return problems;
}

function containerProblems(c: Json): string[] {
  const name = `container ${String(c.name)}`;
  const sc = obj(c.securityContext);
  const problems: string[] = [];
  if (sc.privileged === true) problems.push(`${name} is privileged: remove securityContext.privileged`);
  if (sc.allowPrivilegeEscalation === true) {
    problems.push(`${name} sets allowPrivilegeEscalation: true: set it to false or remove it`);
  }
  if (obj(sc.windowsOptions).hostProcess === true) problems.push(`${name} asks for a Windows hostProcess`);
  problems.push(...unconfined(name, sc));
  if (sc.procMount === "Unmasked") problems.push(`${name} sets procMount Unmasked: remove it`);
  const added = obj(sc.capabilities).add;
  for (const cap of Array.isArray(added) ? added : []) {
    const bare = String(cap).toUpperCase().replace(/^CAP_/, "");
    if (!ALLOWED_CAPABILITIES.has(bare)) {
      problems.push(
        `${name} adds capability ${String(cap)}: only the baseline set (e.g. NET_BIND_SERVICE) may be added`,
      );
    }
  }
  for (const port of list(c.ports)) {
    if (port.hostPort !== undefined && port.hostPort !== 0) {
      problems.push(
        `${name} uses hostPort ${String(port.hostPort)}: remove it (a Job needs no port on the node)`,
      );
    }
  }
  return problems;
}

/** Switching off the kernel's confinement (baseline forbids Unconfined seccomp and AppArmor). */
function unconfined(who: string, sc: Json): string[] {
  return (["seccompProfile", "appArmorProfile"] as const)
    .filter((field) => obj(sc[field]).type === "Unconfined")
    .map((field) => `${who} sets ${field} Unconfined: use RuntimeDefault or remove it`);
}

function obj(value: unknown): Json {
  return value !== null && typeof value === "object" && !Array.isArray(value) ? (value as Json) : {};
}

function list(value: unknown): Json[] {
  return Array.isArray(value) ? value.map(obj) : [];
}
