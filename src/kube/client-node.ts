// The parts of @kubernetes/client-node the agent uses, imported from the modules that define them
// rather than from the package's index, which loads every generated model and API class (about 80 MiB of
// RSS: docs/memory.md). The package has no exports map, so these deep imports are its published files.
//
// The typed APIs (CoreV1Api, CustomObjectsApi, CoordinationV1Api) are the generated request factories
// and response processors of those three groups, wrapped the way the package's object-parameter API
// wraps them (gen/types/ObjectParamAPI.js over gen/types/ObservableAPI.js: those two files hold every
// group's wrappers, 8 MiB of source). The wrapper is built from the factory itself: each method's
// positional parameters are its declared parameter names, which are the object-parameter API's field
// names (test/unit/kube/client-node.test.ts checks every method of the three against the package's own
// wrappers). Behaviour is that of the package's: the same configuration merge, middleware order,
// response processing and errors.
//
// KubeConfig (config.js) imports the generated index for two small values; the agent's entry point
// loads client-node-hooks.ts first, which points that one import at those two values' own modules.

import type * as ClientNode from '@kubernetes/client-node';
import {
  CoordinationV1ApiRequestFactory,
  CoordinationV1ApiResponseProcessor,
} from '@kubernetes/client-node/dist/gen/apis/CoordinationV1Api.js';
import {
  CoreV1ApiRequestFactory,
  CoreV1ApiResponseProcessor,
} from '@kubernetes/client-node/dist/gen/apis/CoreV1Api.js';
import {
  CustomObjectsApiRequestFactory,
  CustomObjectsApiResponseProcessor,
} from '@kubernetes/client-node/dist/gen/apis/CustomObjectsApi.js';
import { mergeConfiguration, type Configuration } from '@kubernetes/client-node/dist/gen/configuration.js';
import type { RequestContext, ResponseContext } from '@kubernetes/client-node/dist/gen/http/http.js';
import { from, map, mergeMap, of, type Observable } from '@kubernetes/client-node/dist/gen/rxjsStub.js';

export { KubeConfig } from '@kubernetes/client-node/dist/config.js';
export { Watch } from '@kubernetes/client-node/dist/watch.js';
export { loadAllYaml } from '@kubernetes/client-node/dist/yaml.js';
export { ApiException } from '@kubernetes/client-node/dist/gen/apis/exception.js';
export { PatchStrategy } from '@kubernetes/client-node/dist/patch.js';
export { setHeaderOptions } from '@kubernetes/client-node/dist/middleware.js';
export { V1MicroTime } from '@kubernetes/client-node/dist/types.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- generated methods of any signature
type Method = (...args: any[]) => unknown;
type Factory = new (configuration: Configuration) => object;
type Processor = new () => object;

/** The declared parameter names of a generated method, without its trailing `_options`. */
export function parameterNames(fn: Method): string[] {
  const m = /^[^(]*\(([^)]*)\)/.exec(Function.prototype.toString.call(fn));
  const names = (m?.[1] ?? '')
    .split(',')
    .map((p) => p.trim())
    .filter((p) => p !== '');
  if (names.at(-1) === '_options') names.pop();
  return names;
}

/** The request factory's methods (each has a `<name>WithHttpInfo` in the response processor). */
export function apiMethods(factory: Factory): string[] {
  return Object.getOwnPropertyNames(factory.prototype).filter((n) => n !== 'constructor');
}

interface Wrapped {
  configuration: Configuration;
  requestFactory: Record<string, Method>;
  responseProcessor: Record<string, Method>;
}

/** ObservableAPI's `<method>WithHttpInfo`, step by step (including its in-place `reverse()`). */
function send(self: Wrapped, method: string, args: unknown[], options: unknown): Promise<unknown> {
  const config = mergeConfiguration(self.configuration, options as never);
  const requestContextPromise = self.requestFactory[method]?.(...args, config) as Promise<RequestContext>;
  let pre = from(requestContextPromise) as Observable<RequestContext>;
  for (const middleware of config.middleware) pre = pre.pipe(mergeMap((ctx) => middleware.pre(ctx)));
  return pre
    .pipe(mergeMap((ctx) => config.httpApi.send(ctx)))
    .pipe(
      mergeMap((response: ResponseContext) => {
        let post = of(response);
        for (const middleware of config.middleware.reverse())
          post = post.pipe(mergeMap<ResponseContext, ResponseContext>((rsp) => middleware.post(rsp)));
        const process = map((rsp: ResponseContext) => self.responseProcessor[`${method}WithHttpInfo`]?.(rsp)) as (
          rsp: ResponseContext,
        ) => unknown;
        return post.pipe(process);
      }),
    )
    .toPromise();
}

function objectApi(factory: Factory, processor: Processor): new (configuration: Configuration) => object {
  class Api implements Wrapped {
    configuration: Configuration;
    requestFactory: Record<string, Method>;
    responseProcessor: Record<string, Method>;
    constructor(configuration: Configuration, requestFactory?: object, responseProcessor?: object) {
      this.configuration = configuration;
      this.requestFactory = (requestFactory ?? new factory(configuration)) as Record<string, Method>;
      this.responseProcessor = (responseProcessor ?? new processor()) as Record<string, Method>;
    }
  }
  const proto = Api.prototype as unknown as Record<string, Method>;
  for (const method of apiMethods(factory)) {
    const names = parameterNames(
      (factory.prototype as Record<string, Method | undefined>)[method] ?? (() => undefined),
    );
    const withHttpInfo = function (this: Wrapped, param: Record<string, unknown> = {}, options?: unknown) {
      return send(
        this,
        method,
        names.map((n) => param[n]),
        options,
      );
    };
    proto[`${method}WithHttpInfo`] = withHttpInfo;
    proto[method] = async function (this: Wrapped, param?: Record<string, unknown>, options?: unknown) {
      return ((await withHttpInfo.call(this, param, options)) as { data: unknown }).data;
    };
  }
  return Api;
}

export const CoreV1Api = objectApi(
  CoreV1ApiRequestFactory,
  CoreV1ApiResponseProcessor,
) as unknown as typeof ClientNode.CoreV1Api;
export type CoreV1Api = ClientNode.CoreV1Api;
export const CustomObjectsApi = objectApi(
  CustomObjectsApiRequestFactory,
  CustomObjectsApiResponseProcessor,
) as unknown as typeof ClientNode.CustomObjectsApi;
export type CustomObjectsApi = ClientNode.CustomObjectsApi;
export const CoordinationV1Api = objectApi(
  CoordinationV1ApiRequestFactory,
  CoordinationV1ApiResponseProcessor,
) as unknown as typeof ClientNode.CoordinationV1Api;
export type CoordinationV1Api = ClientNode.CoordinationV1Api;
