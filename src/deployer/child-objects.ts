// Objects of Descriptions in the child, written with the app-deployer identity: server-side apply
// with the agent's own field manager (forced, so drift made by others is taken back), deletion in the
// background, and the discovery that maps a kind to its resource. Writes take the reconcile's
// AbortSignal: a write still waiting for the rate limiter when the leadership term ends is never sent.

import type { KubeConfig } from '@kubernetes/client-node';
import type { KubeObject } from '../../machines/deployer/decisions.ts';
import { failureMessage } from '../../machines/failure.ts';
import { rawRequest, statusText, type RawRequest, type RawResponse } from '../kube/raw-request.ts';
import type { RequestLimiter } from '../kube/request-limiter.ts';

export const fieldManager = 'clusternet-agent';

export interface ResourceRef {
  readonly apiVersion: string;
  readonly kind: string;
  readonly plural: string;
  readonly namespaced: boolean;
}

/** Identity of an object in the child: `apiVersion/kind/namespace/name`. */
export const objectId = (o: KubeObject): string =>
  `${o.apiVersion}/${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name ?? ''}`;

export class ChildObjects {
  private readonly kc: KubeConfig;
  /** The resourceVersion each object had after the agent's own last write (Recovery ignores those). */
  private readonly written = new Map<string, string>();
  /** Objects being applied, with the drift seen meanwhile (decided when the apply answers). */
  private readonly inFlight = new Map<string, { resourceVersion: string | undefined; report: () => void }[]>();
  /** Discovery per group version: kind → resource (top-level resources only, no subresources). */
  private readonly discovered = new Map<string, Promise<Map<string, ResourceRef>>>();

  private readonly limiter: RequestLimiter | undefined;

  constructor(kc: KubeConfig, limiter?: RequestLimiter) {
    this.kc = kc;
    this.limiter = limiter;
  }

  /** Every request to the child waits for the client's rate limiter (--kube-api-qps). */
  private request(req: RawRequest): Promise<RawResponse> {
    return rawRequest(this.kc, { ...req, limiter: this.limiter });
  }

  private async discover(apiVersion: string): Promise<Map<string, ResourceRef>> {
    const path = apiVersion.includes('/') ? `/apis/${apiVersion}` : `/api/${apiVersion}`;
    const res = await this.request({ method: 'GET', path });
    if (res.status === 404) return new Map();
    if (res.status !== 200) throw new Error(`discovery of ${apiVersion}: ${statusText(res)}`);
    const list = JSON.parse(res.body) as { resources?: { name: string; kind: string; namespaced: boolean }[] };
    return new Map(
      (list.resources ?? [])
        .filter((r) => !r.name.includes('/'))
        .map((r) => [r.kind, { apiVersion, kind: r.kind, plural: r.name, namespaced: r.namespaced }]),
    );
  }

  /** The resource of a kind (discovery cached per group version, asked again on a miss). */
  async resource(apiVersion: string, kind: string): Promise<ResourceRef> {
    for (let fresh = false; ; fresh = true) {
      let known = this.discovered.get(apiVersion);
      if (known === undefined || fresh) {
        known = this.discover(apiVersion);
        this.discovered.set(apiVersion, known);
      }
      let found: ResourceRef | undefined;
      try {
        found = (await known).get(kind);
      } catch (err) {
        this.discovered.delete(apiVersion);
        throw new Error(
          `please check whether the advertised apiserver of current child cluster is accessible. ${failureMessage(err)}`,
          { cause: err },
        );
      }
      if (found !== undefined) return found;
      if (fresh) throw new Error(`no resource of kind ${kind} in ${apiVersion} in the child cluster`);
    }
  }

  collectionPath(ref: ResourceRef, namespace: string | undefined): string {
    const base = ref.apiVersion.includes('/') ? `/apis/${ref.apiVersion}` : `/api/${ref.apiVersion}`;
    return ref.namespaced && namespace !== undefined
      ? `${base}/namespaces/${namespace}/${ref.plural}`
      : `${base}/${ref.plural}`;
  }

  private async objectPath(obj: KubeObject): Promise<{ path: string; ref: ResourceRef }> {
    const ref = await this.resource(obj.apiVersion, obj.kind);
    const namespace = ref.namespaced ? (obj.metadata.namespace ?? 'default') : undefined;
    const name = encodeURIComponent(obj.metadata.name ?? '');
    return { path: `${this.collectionPath(ref, namespace)}/${name}`, ref };
  }

  /**
   * Server-side apply; returns the object as the child now has it. `yaml`: the same object as YAML
   * text, sent as it is (client-node's YAML parser renames wire fields such as
   * `x-kubernetes-preserve-unknown-fields`, so parsed YAML only names the object).
   */
  async apply(obj: KubeObject, opts: { yaml?: string; signal?: AbortSignal | undefined } = {}): Promise<KubeObject> {
    const { yaml, signal } = opts;
    const { path, ref } = await this.objectPath(obj);
    const namespace = ref.namespaced ? (obj.metadata.namespace ?? 'default') : undefined;
    const body: KubeObject = namespace === undefined ? obj : { ...obj, metadata: { ...obj.metadata, namespace } };
    const id = objectId(body);
    const seen: { resourceVersion: string | undefined; report: () => void }[] = [];
    this.inFlight.set(id, seen);
    let live: KubeObject | undefined;
    try {
      const res = await this.request({
        method: 'PATCH',
        path: `${path}?fieldManager=${fieldManager}&force=true`,
        body: yaml ?? JSON.stringify(body),
        contentType: 'application/apply-patch+yaml',
        signal,
      });
      if (res.status !== 200 && res.status !== 201) throw new Error(statusText(res));
      live = JSON.parse(res.body) as KubeObject;
      if (live.metadata.resourceVersion !== undefined) this.written.set(id, live.metadata.resourceVersion);
      return live;
    } finally {
      if (this.inFlight.get(id) === seen) this.inFlight.delete(id);
      // Changes seen while applying are drift unless they are this very write.
      for (const e of seen) if (e.resourceVersion !== live?.metadata.resourceVersion) e.report();
    }
  }

  /**
   * A change of an object in the child seen by a Recovery watch: reported unless it is the agent's own
   * last write; while the object is being applied, decided when the apply answers.
   */
  observe(live: KubeObject, report: () => void): void {
    const id = objectId(live);
    const seen = this.inFlight.get(id);
    if (seen !== undefined) seen.push({ resourceVersion: live.metadata.resourceVersion, report });
    else if (!this.ownWrite(live)) report();
  }

  /** True if this version of the object is the one the agent itself wrote last. */
  private ownWrite(live: KubeObject): boolean {
    return (
      live.metadata.resourceVersion !== undefined && this.written.get(objectId(live)) === live.metadata.resourceVersion
    );
  }

  /** Deletes with propagation Background; an object already gone counts as deleted. */
  async delete(obj: KubeObject, signal?: AbortSignal): Promise<void> {
    const { path, ref } = await this.objectPath(obj);
    const namespace = ref.namespaced ? (obj.metadata.namespace ?? 'default') : undefined;
    this.written.delete(
      objectId({ ...obj, metadata: { ...obj.metadata, ...(namespace === undefined ? {} : { namespace }) } }),
    );
    const res = await this.request({
      method: 'DELETE',
      path,
      body: JSON.stringify({ kind: 'DeleteOptions', apiVersion: 'v1', propagationPolicy: 'Background' }),
      signal,
    });
    if (res.status !== 200 && res.status !== 202 && res.status !== 404) throw new Error(statusText(res));
  }
}
