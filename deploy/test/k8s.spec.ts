import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { Job } from 'kubernetes-models/batch/v1';
import { PersistentVolumeClaim, Secret, Service } from 'kubernetes-models/v1';
import type { IContainer } from 'kubernetes-models/v1/Container';
import { argv, findOne, loadManifestFolder, onlyContainer, optionValue, readYamlDocuments, toResource } from './manifests.js';

// Offline: nothing here talks to a cluster. Each document is validated by kubernetes-models against
// the Kubernetes API's OpenAPI schemas (types, required fields, enums, quantities); what those
// schemas cannot say (how the pieces fit together) is asserted below with the real values.
const dir = fileURLToPath(new URL('../k8s/', import.meta.url));
const folder = loadManifestFolder(dir);
const { manifests } = folder;
const service = findOne(manifests, Service, 'cifar-dist-coordinator');
const coordinator = findOne(manifests, Job, 'cifar-dist-coordinator');
const workers = findOne(manifests, Job, 'cifar-dist-workers');
const coordinatorContainer = onlyContainer(coordinator);
const workerContainer = onlyContainer(workers);
const coordinatorArgs = argv(coordinatorContainer);
const workerArgs = argv(workerContainer);

/** True when every key/value of `sub` is in `labels`. */
function selects(sub: Record<string, string>, labels: Record<string, string> | undefined): boolean {
  return Object.entries(sub).every(([k, v]) => labels?.[k] === v);
}

/** The claimName behind the volume mounted at `mountPath` in a Job's only container. */
function claimMountedAt(job: Job, container: IContainer, mountPath: string): string | undefined {
  const mount = container.volumeMounts?.find((m) => m.mountPath === mountPath);
  const volume = job.spec?.template.spec?.volumes?.find((v) => v.name === mount?.name);
  return volume?.persistentVolumeClaim?.claimName;
}

describe('deploy/k8s: schemas', () => {
  it('holds exactly these resources, each a known kind that passes its API schema', () => {
    expect(manifests.map((m) => `${m.file}: ${m.resource.kind}/${m.resource.metadata?.name}`)).toEqual([
      'coordinator.yaml: Service/cifar-dist-coordinator',
      'coordinator.yaml: Job/cifar-dist-coordinator',
      'pvc.yaml: PersistentVolumeClaim/cifar-dist-runs',
      'pvc.yaml: PersistentVolumeClaim/cifar-dist-data',
      'secret.yaml: Secret/cifar-dist-token',
      'workers.yaml: Job/cifar-dist-workers',
    ]);
    for (const { resource } of manifests) expect(() => resource.validate()).not.toThrow();
  });

  it('kustomization.yaml lists every manifest file', () => {
    expect([...folder.kustomizationResources].sort()).toEqual(folder.files);
  });

  it('labels every resource and pod app.kubernetes.io/name=cifar-dist with a component, and names no namespace', () => {
    for (const { file, resource } of manifests) {
      const where = `${file}: ${resource.kind}/${resource.metadata?.name}`;
      expect(resource.metadata?.labels?.['app.kubernetes.io/name'], where).toBe('cifar-dist');
      expect(resource.metadata?.labels?.['app.kubernetes.io/component'], where).toMatch(/^[a-z]+$/);
      expect(resource.metadata?.namespace, where).toBeUndefined();
    }
    for (const job of [coordinator, workers]) {
      expect(job.spec?.template.metadata?.labels).toEqual(job.metadata?.labels);
    }
  });

  it('refuses a kind it has no schema for instead of skipping it', () => {
    expect(() => toResource({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'x' } })).toThrow(
      'no schema for apiVersion apps/v1, kind Deployment',
    );
    const tmp = mkdtempSync(path.join(tmpdir(), 'k8s-unknown-'));
    try {
      writeFileSync(path.join(tmp, 'kustomization.yaml'), 'apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [extra.yaml]\n');
      writeFileSync(path.join(tmp, 'extra.yaml'), 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n');
      expect(() => loadManifestFolder(tmp)).toThrow('extra.yaml: no schema for apiVersion v1, kind ConfigMap');
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });

  it('validate() rejects the worker Job once broken (so passing means something)', () => {
    const [raw] = readYamlDocuments(path.join(dir, 'workers.yaml'));
    expect(() => toResource(raw).validate()).not.toThrow();
    const parallelism = structuredClone(raw) as { spec: { parallelism: unknown } };
    parallelism.spec.parallelism = 'four';
    expect(() => toResource(parallelism).validate()).toThrow(/parallelism must be integer/);
    const mode = structuredClone(raw) as { spec: { completionMode: unknown } };
    mode.spec.completionMode = 'indexed';
    expect(() => toResource(mode).validate()).toThrow(/completionMode must be equal to one of the allowed values/);
  });
});

describe('deploy/k8s: workers', () => {
  it('are an Indexed Job, one GPU per pod, all indexes at once', () => {
    const spec = workers.spec;
    expect(spec?.completionMode).toBe('Indexed');
    expect(spec?.completions).toBe(4);
    expect(spec?.parallelism).toBe(spec?.completions);
    expect(String(workerContainer.resources?.limits?.['nvidia.com/gpu'])).toBe('1');
    expect(workerArgs.slice(0, 4)).toEqual(['npm', 'run', 'worker', '--']);
    expect(optionValue(workerArgs, '--backend')).toBe('webgpu');
    // The device plugin shows each pod only its own GPU.
    expect(optionValue(workerArgs, '--gpu')).toBe('0');
  });

  it('are named by their completion index', () => {
    expect(optionValue(workerArgs, '--worker-id')).toBe('w$(JOB_COMPLETION_INDEX)');
    const index = workerContainer.env?.find((e) => e.name === 'JOB_COMPLETION_INDEX');
    expect(index?.valueFrom?.fieldRef?.fieldPath).toBe("metadata.annotations['batch.kubernetes.io/job-completion-index']");
  });

  it('connect to the Service by its name and port', () => {
    const url = new URL(optionValue(workerArgs, '--connect') ?? '');
    expect(url.protocol).toBe('http:');
    expect(url.hostname).toBe(service.metadata?.name);
    expect(Number(url.port)).toBe(service.spec?.ports?.[0]?.port);
  });

  it('are replaced when they die and outwait a rescheduled coordinator', () => {
    const spec = workers.spec;
    expect(spec?.template.spec?.restartPolicy).toBe('Never');
    expect(spec?.backoffLimitPerIndex).toBeGreaterThanOrEqual(3);
    expect(spec?.podFailurePolicy?.rules).toContainEqual({ action: 'Ignore', onPodConditions: [{ type: 'DisruptionTarget', status: 'True' }] });
    expect(Number(optionValue(workerArgs, '--reconnect-timeout'))).toBeGreaterThan(300);
  });
});

describe('deploy/k8s: coordinator', () => {
  it('is reached through a headless Service that selects its pod, and no worker', () => {
    expect(service.spec?.clusterIP).toBe('None');
    const selector = service.spec?.selector ?? {};
    expect(Object.keys(selector).length).toBeGreaterThan(0);
    expect(selects(selector, coordinator.spec?.template.metadata?.labels)).toBe(true);
    expect(selects(selector, workers.spec?.template.metadata?.labels)).toBe(false);
    const port = service.spec?.ports?.[0];
    expect(service.spec?.ports).toHaveLength(1);
    // Headless: clients reach the pod directly, so the port must be the one it listens on.
    expect(port?.targetPort).toBe(port?.port);
    expect(coordinatorContainer.ports?.map((p) => p.containerPort)).toEqual([port?.port]);
    expect(Number(optionValue(coordinatorArgs, '--port'))).toBe(port?.port);
    expect(optionValue(coordinatorArgs, '--host')).toBe('0.0.0.0');
    expect(coordinatorArgs.slice(0, 4)).toEqual(['npm', 'run', 'coordinator', '--']);
  });

  it('is a single-pod Job that is retried, and fails outright only on a configuration error', () => {
    const spec = coordinator.spec;
    expect(spec?.completions).toBe(1);
    expect(spec?.parallelism).toBe(1);
    expect(spec?.backoffLimit).toBeGreaterThanOrEqual(3);
    expect(spec?.template.spec?.restartPolicy).toBe('Never');
    const failJob = spec?.podFailurePolicy?.rules.filter((r) => r.action === 'FailJob') ?? [];
    expect(failJob.map((r) => r.onExitCodes?.values)).toEqual([[2]]);
  });

  it('keeps its run folder on a PVC and resumes from it', () => {
    const out = optionValue(coordinatorArgs, '--out') ?? '';
    expect(path.posix.isAbsolute(out)).toBe(true);
    expect(optionValue(coordinatorArgs, '--resume')).toBe('auto');
    const claims = manifests.map((m) => m.resource).filter((r) => r instanceof PersistentVolumeClaim).map((r) => r.metadata?.name);
    const runs = claimMountedAt(coordinator, coordinatorContainer, path.posix.dirname(out));
    expect(runs).toBe('cifar-dist-runs');
    expect(claims).toContain(runs);
    const data = claimMountedAt(coordinator, coordinatorContainer, optionValue(coordinatorArgs, '--data-dir') ?? '');
    expect(data).toBe('cifar-dist-data');
    expect(claims).toContain(data);
    expect(data).not.toBe(runs);
  });
});

describe('deploy/k8s: token and image', () => {
  it('gives coordinator and workers the token from the Secret in this folder, never on the command line', () => {
    for (const container of [coordinatorContainer, workerContainer]) {
      const env = container.env?.find((e) => e.name === 'CIFAR_DIST_TOKEN');
      expect(env?.value, container.name).toBeUndefined();
      const ref = env?.valueFrom?.secretKeyRef;
      expect(ref?.name, container.name).toBe('cifar-dist-token');
      const secret = findOne(manifests, Secret, ref?.name ?? '');
      expect(Object.keys({ ...secret.data, ...secret.stringData })).toContain(ref?.key);
      expect(argv(container), container.name).not.toContain('--token');
    }
  });

  it('runs one image for both, as a non-root user', () => {
    expect(coordinatorContainer.image).toMatch(/^[\w./-]+:[\w.-]+$/);
    expect(workerContainer.image).toBe(coordinatorContainer.image);
    for (const job of [coordinator, workers]) {
      const pod = job.spec?.template.spec?.securityContext;
      expect(pod?.runAsNonRoot).toBe(true);
      expect(pod?.runAsUser).toBeGreaterThan(0);
    }
  });
});
