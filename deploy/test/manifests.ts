import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { Job } from 'kubernetes-models/batch/v1';
import { PersistentVolumeClaim, Secret, Service } from 'kubernetes-models/v1';
import type { IContainer } from 'kubernetes-models/v1/Container';

/** The resource kinds deploy/k8s/ may hold: each one a kubernetes-models class that validates against the API schema. */
export type Resource = Job | Service | Secret | PersistentVolumeClaim;

/** One Kubernetes resource read from a manifest file. */
export interface Manifest {
  file: string;
  resource: Resource;
}

/** What the folder holds: its resources, and the file list of its kustomization.yaml. */
export interface ManifestFolder {
  manifests: Manifest[];
  /** Every *.yaml / *.yml file in the folder but kustomization.yaml, sorted. */
  files: string[];
  /** `resources:` of kustomization.yaml, as written. */
  kustomizationResources: string[];
}

/**
 * The kubernetes-models instance for one parsed YAML document.
 * @throws Error for any apiVersion/kind without a class here, so that no document goes unvalidated
 */
export function toResource(doc: unknown): Resource {
  if (Job.is(doc)) return new Job(doc);
  if (Service.is(doc)) return new Service(doc);
  if (Secret.is(doc)) return new Secret(doc);
  if (PersistentVolumeClaim.is(doc)) return new PersistentVolumeClaim(doc);
  const meta = typeof doc === 'object' && doc !== null ? (doc as { apiVersion?: unknown; kind?: unknown }) : {};
  throw new Error(`no schema for apiVersion ${String(meta.apiVersion)}, kind ${String(meta.kind)}`);
}

/**
 * Every document of a YAML file, read as Kubernetes reads it (YAML 1.1: `yes`/`on` are booleans).
 * @throws Error naming the file on a syntax error
 */
export function readYamlDocuments(file: string): unknown[] {
  const docs = parseAllDocuments(readFileSync(file, 'utf8'), { version: '1.1', prettyErrors: true });
  if (!Array.isArray(docs)) return [];
  return docs.flatMap((doc) => {
    if (doc.errors.length > 0) throw new Error(`${file}: ${doc.errors.map((e) => e.message).join('; ')}`);
    const value: unknown = doc.toJS();
    // A `---` with nothing after it is an empty document, not a resource.
    return value === null || value === undefined ? [] : [value];
  });
}

/**
 * Reads and schema-validates every resource in a manifest folder, and its kustomization.yaml.
 * @throws Error on a YAML error, an unknown kind, or a resource its schema rejects (message names the file)
 */
export function loadManifestFolder(dir: string): ManifestFolder {
  const files = readdirSync(dir)
    .filter((f) => /\.ya?ml$/.test(f) && f !== 'kustomization.yaml')
    .sort();
  const manifests = files.flatMap((file) =>
    readYamlDocuments(path.join(dir, file)).map((doc) => {
      try {
        const resource = toResource(doc);
        resource.validate();
        return { file, resource };
      } catch (err) {
        throw new Error(`${file}: ${(err as Error).message}`, { cause: err });
      }
    }),
  );
  const [kustomization] = readYamlDocuments(path.join(dir, 'kustomization.yaml'));
  const k = (kustomization ?? {}) as { apiVersion?: unknown; kind?: unknown; resources?: unknown };
  if (k.apiVersion !== 'kustomize.config.k8s.io/v1beta1' || k.kind !== 'Kustomization') {
    throw new Error('kustomization.yaml: not a kustomize.config.k8s.io/v1beta1 Kustomization');
  }
  const resources = Array.isArray(k.resources) ? k.resources.filter((r): r is string => typeof r === 'string') : [];
  return { manifests, files, kustomizationResources: resources };
}

/** The one resource of a class with this name. @throws Error when there is not exactly one */
export function findOne<T extends Resource>(manifests: readonly Manifest[], cls: abstract new (...args: never[]) => T, name: string): T {
  const found = manifests.map((m) => m.resource).filter((r): r is T => r instanceof cls && r.metadata?.name === name);
  if (found.length !== 1) throw new Error(`expected one ${cls.name} named ${name}, found ${found.length}`);
  return found[0] as T;
}

/** The single container of a Job's pod template. @throws Error when there is not exactly one */
export function onlyContainer(job: Job): IContainer {
  const containers = job.spec?.template.spec?.containers ?? [];
  if (containers.length !== 1) throw new Error(`${job.metadata?.name}: expected one container, found ${containers.length}`);
  return containers[0] as IContainer;
}

/** The process's argument vector: the container's command then its args. */
export function argv(container: IContainer): string[] {
  return [...(container.command ?? []), ...(container.args ?? [])];
}

/** The value following `flag` in an argument vector, or undefined. @throws Error when the flag is given twice or has no value */
export function optionValue(args: readonly string[], flag: string): string | undefined {
  const at = args.flatMap((a, i) => (a === flag ? [i] : []));
  if (at.length > 1) throw new Error(`${flag} given ${at.length} times`);
  if (at.length === 0) return undefined;
  const value = args[(at[0] as number) + 1];
  if (value === undefined || value.startsWith('--')) throw new Error(`${flag} has no value`);
  return value;
}
