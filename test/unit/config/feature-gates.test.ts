import { describe, expect, it } from 'vitest';
import { clusternetGates, defaultFeatureGates, parseFeatureGates } from '../../../src/config/feature-gates.ts';

describe('feature gates', () => {
  it('are all off by default', () => {
    expect(Object.values(defaultFeatureGates).every((v) => !v)).toBe(true);
    expect(Object.keys(defaultFeatureGates)).toEqual([...clusternetGates]);
  });

  it('parse the charts’ values', () => {
    const { gates, errors } = parseFeatureGates(
      'SocketConnection=true,AppPusher=true,Recovery=true,Predictor=true',
      defaultFeatureGates,
    );
    expect(errors).toEqual([]);
    expect(gates).toMatchObject({
      SocketConnection: true,
      AppPusher: true,
      Recovery: true,
      Predictor: true,
      Deployer: false,
    });
  });

  it('accept Go bool spellings, spaces and the generic Kubernetes gates', () => {
    const { gates, errors } = parseFeatureGates(
      ' AppPusher=1, SocketConnection=T ,ShadowAPI=False,LoggingBetaOptions=true',
      defaultFeatureGates,
    );
    expect(errors).toEqual([]);
    expect(gates).toMatchObject({ AppPusher: true, SocketConnection: true, ShadowAPI: false });
    expect(
      parseFeatureGates('LoggingBetaOptions=true,APIResponseCompression=false', defaultFeatureGates).warnings,
    ).toEqual([
      '--feature-gates: LoggingBetaOptions=true is a Kubernetes feature gate; it has no effect on this agent',
      '--feature-gates: APIResponseCompression=false is a Kubernetes feature gate; it has no effect on this agent',
    ]);
  });

  it('report each bad item', () => {
    expect(
      parseFeatureGates('Nope=true,AppPusher,Recovery=yes,SocketConnection=true', defaultFeatureGates).errors,
    ).toEqual([
      '--feature-gates: unrecognized feature gate: Nope',
      '--feature-gates: missing bool value for AppPusher',
      '--feature-gates: invalid value of Recovery=yes, err: strconv.ParseBool: parsing "yes": invalid syntax',
    ]);
  });
});
