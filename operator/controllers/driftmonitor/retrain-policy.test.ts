import { describe, expect, it } from "vitest";
import { retrainJobProblems } from "./retrain-policy.ts";

/** A JobTemplateSpec around one pod spec. */
const jobWith = (pod: Record<string, unknown>) => ({ spec: { template: { spec: pod } } });
const trainer = { name: "train", image: "trainer:1" };
const ok = { serviceAccountName: "trainer", containers: [trainer] };

describe("retrainJobProblems", () => {
  it.each([
    ["a named ServiceAccount and a plain container", ok, []],
    [
      "baseline capabilities and allowPrivilegeEscalation false",
      {
        ...ok,
        containers: [
          {
            ...trainer,
            securityContext: {
              privileged: false,
              allowPrivilegeEscalation: false,
              capabilities: { add: ["NET_BIND_SERVICE", "CAP_CHOWN"], drop: ["ALL"] },
            },
            ports: [{ containerPort: 8080 }],
          },
        ],
        volumes: [{ name: "data", emptyDir: {} }],
      },
      [],
    ],
    ["no ServiceAccount", { containers: [trainer] }, [/serviceAccountName/]],
    [
      "only the deprecated serviceAccount",
      { serviceAccount: "x", containers: [trainer] },
      [/serviceAccountName/],
    ],
    [
      "a privileged container",
      { ...ok, containers: [{ ...trainer, securityContext: { privileged: true } }] },
      [/container train is privileged/],
    ],
    [
      "a privileged init container",
      { ...ok, initContainers: [{ name: "setup", securityContext: { privileged: true } }] },
      [/container setup is privileged/],
    ],
    [
      "allowPrivilegeEscalation true",
      { ...ok, containers: [{ ...trainer, securityContext: { allowPrivilegeEscalation: true } }] },
      [/allowPrivilegeEscalation/],
    ],
    [
      "SYS_ADMIN added",
      {
        ...ok,
        containers: [{ ...trainer, securityContext: { capabilities: { add: ["SYS_ADMIN", "chown"] } } }],
      },
      [/adds capability SYS_ADMIN/],
    ],
    ["hostNetwork", { ...ok, hostNetwork: true }, [/hostNetwork/]],
    ["hostPID", { ...ok, hostPID: true }, [/hostPID/]],
    ["hostIPC", { ...ok, hostIPC: true }, [/hostIPC/]],
    [
      "a hostPath volume",
      { ...ok, volumes: [{ name: "root", hostPath: { path: "/" } }] },
      [/volume root is a hostPath/],
    ],
    [
      "a hostPort",
      { ...ok, containers: [{ ...trainer, ports: [{ containerPort: 80, hostPort: 80 }] }] },
      [/container train uses hostPort 80/],
    ],
    [
      "a Windows host process",
      { ...ok, securityContext: { windowsOptions: { hostProcess: true } } },
      [/hostProcess/],
    ],
    [
      "seccomp Unconfined for the pod",
      { ...ok, securityContext: { seccompProfile: { type: "Unconfined" } } },
      [/the pod template sets seccompProfile Unconfined/],
    ],
    [
      "AppArmor Unconfined and an unmasked /proc for a container",
      {
        ...ok,
        containers: [
          { ...trainer, securityContext: { appArmorProfile: { type: "Unconfined" }, procMount: "Unmasked" } },
        ],
      },
      [/container train sets appArmorProfile Unconfined/, /container train sets procMount Unmasked/],
    ],
    [
      "RuntimeDefault seccomp and Default procMount",
      {
        ...ok,
        securityContext: { seccompProfile: { type: "RuntimeDefault" } },
        containers: [{ ...trainer, securityContext: { procMount: "Default" } }],
      },
      [],
    ],
    [
      "several at once, each named",
      { hostNetwork: true, containers: [{ ...trainer, securityContext: { privileged: true } }] },
      [/serviceAccountName/, /hostNetwork/, /privileged/],
    ],
  ])("%s", (_name, pod, expected) => {
    const problems = retrainJobProblems(jobWith(pod));
    expect(problems).toHaveLength(expected.length);
    expected.forEach((re, i) => {
      expect(problems[i]).toMatch(re);
    });
  });

  it("survives a template that is not the shape of a Job (the apiserver rejects it later)", () => {
    expect(retrainJobProblems({ spec: { template: { spec: { containers: "x", volumes: 3 } } } })).toEqual([
      expect.stringMatching(/serviceAccountName/),
    ]);
    expect(retrainJobProblems(undefined)).toEqual([expect.stringMatching(/serviceAccountName/)]);
  });
});
