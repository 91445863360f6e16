import { describe, expect, it } from 'vitest';
import {
  aggregateNodeLabels,
  computeClusterStatus,
  labelsPatch,
  mergeConditions,
  predictorFacts,
  readyCondition,
  significantChange,
  type AgentFacts,
  type Collected,
  type Condition,
} from '../../../machines/heartbeat/decisions.ts';

const facts: AgentFacts = {
  agentVersion: 'v0.1.0',
  apiserverUrl: 'https://10.96.0.1:443',
  appPusher: true,
  useSocket: true,
  kubeQps: 50,
  kubeBurst: 100,
  heartbeatFrequencySeconds: 180,
  predictor: { enabled: false, address: '', directAccess: false },
};
const nodes = {
  statistics: { readyNodes: 3, notReadyNodes: 0, unknownNodes: 0, lostNodes: 0 },
  capacity: { cpu: '8', memory: '16Gi' },
  allocatable: { cpu: '7800m', memory: '15Gi' },
};
const collected: Collected = {
  observedAt: '2026-11-24T10:00:20Z',
  version: { gitVersion: 'v1.35.4', platform: 'linux/amd64' },
  probes: { healthz: true, livez: true, readyz: true },
  nodes,
  clusterCidr: '10.244.0.0/16',
  serviceCidr: '10.96.0.0/12',
  podStatistics: undefined,
  resourceUsage: undefined,
};

describe('computeClusterStatus (§4.2)', () => {
  it('writes every field the latest Go agent writes', () => {
    expect(computeClusterStatus(collected, facts)).toEqual({
      lastObservedTime: '2026-11-24T10:00:20Z',
      k8sVersion: 'v1.35.4',
      agentVersion: 'v0.1.0',
      platform: 'linux/amd64',
      apiserverURL: 'https://10.96.0.1:443',
      healthz: true,
      livez: true,
      readyz: true,
      appPusher: true,
      useSocket: true,
      kubeQPS: 50,
      kubeBurst: 100,
      allocatable: { cpu: '7800m', memory: '15Gi' },
      capacity: { cpu: '8', memory: '16Gi' },
      clusterCIDR: '10.244.0.0/16',
      serviceCIDR: '10.96.0.0/12',
      nodeStatistics: { readyNodes: 3 },
      conditions: [
        {
          type: 'Ready',
          status: 'True',
          lastTransitionTime: '2026-11-24T10:00:20Z',
          reason: 'ManagedClusterReady',
          message: 'managed cluster is ready.',
        },
      ],
      heartbeatFrequencySeconds: 180,
      predictorDirectAccess: false,
    });
  });

  it('leaves out what could not be read, but always writes the probes, appPusher and nodeStatistics', () => {
    const s = computeClusterStatus(
      {
        ...collected,
        version: undefined,
        nodes: undefined,
        clusterCidr: undefined,
        serviceCidr: undefined,
        probes: { healthz: false, livez: false, readyz: false },
      },
      { ...facts, appPusher: false, useSocket: false, kubeQps: 0, kubeBurst: 0 },
    );
    expect(s).not.toHaveProperty('k8sVersion');
    expect(s).not.toHaveProperty('platform');
    expect(s).not.toHaveProperty('capacity');
    expect(s).not.toHaveProperty('allocatable');
    expect(s).not.toHaveProperty('useSocket');
    expect(s).not.toHaveProperty('kubeQPS');
    expect(s).not.toHaveProperty('clusterCIDR');
    expect(s).toMatchObject({ healthz: false, livez: false, readyz: false, appPusher: false, nodeStatistics: {} });
    expect(s.conditions[0]).toMatchObject({ status: 'False', reason: 'ManagedClusterNotReady' });
  });

  it('writes metrics-server figures and predictor fields when present', () => {
    const s = computeClusterStatus(
      {
        ...collected,
        podStatistics: { runningPods: 10, totalPods: 12 },
        resourceUsage: { cpuUsage: '1200m', memoryUsage: '3Gi' },
      },
      { ...facts, predictor: { enabled: true, address: 'http://localhost:8080', directAccess: true } },
    );
    expect(s).toMatchObject({
      podStatistics: { runningPods: 10, totalPods: 12 },
      resourceUsage: { cpuUsage: '1200m', memoryUsage: '3Gi' },
      predictorEnabled: true,
      predictorAddress: 'http://localhost:8080',
      predictorDirectAccess: true,
    });
  });
});

describe('predictor fields (spec §4.2, §9.5)', () => {
  it('publishes the built-in predictor on the port of --predictor-port', () => {
    expect(predictorFacts(true, '', false, 9090)).toEqual({
      enabled: true,
      address: 'http://localhost:9090',
      directAccess: false,
    });
  });

  // [gate, --predictor-addr, --predictor-direct-access, --predictor-port] → the status fields, as the
  // Go agent publishes them.
  it.each([
    [false, '', false, { predictorDirectAccess: false }],
    [false, '', true, { predictorDirectAccess: true }],
    [false, 'http://p:9000', false, { predictorAddress: 'http://p:9000', predictorDirectAccess: false }],
    [
      true,
      'https://predictor.example:8443',
      false,
      { predictorEnabled: true, predictorAddress: 'https://predictor.example:8443', predictorDirectAccess: false },
    ],
    [
      true,
      'http://p:9000',
      true,
      { predictorEnabled: true, predictorAddress: 'http://p:9000', predictorDirectAccess: true },
    ],
    // The built-in predictor: enabled, at http://localhost:<port>.
    [
      true,
      '',
      false,
      { predictorEnabled: true, predictorAddress: 'http://localhost:8080', predictorDirectAccess: false },
    ],
    [
      true,
      '',
      true,
      { predictorEnabled: true, predictorAddress: 'http://localhost:8080', predictorDirectAccess: true },
    ],
  ])('gate %s, addr %j, direct %s → %j', (gate, addr, direct, fields) => {
    const s = computeClusterStatus(collected, { ...facts, predictor: predictorFacts(gate, addr, direct, 8080) });
    const published = Object.fromEntries(Object.entries(s).filter(([k]) => k.startsWith('predictor')));
    expect(published).toEqual(fields);
  });
});

describe('readyCondition (latest rule: livez and readyz, or healthz)', () => {
  it.each([
    [{ healthz: true, livez: true, readyz: true }, 'True'],
    [{ healthz: true, livez: false, readyz: false }, 'True'],
    [{ healthz: false, livez: true, readyz: true }, 'True'],
    [{ healthz: false, livez: true, readyz: false }, 'False'],
    [{ healthz: false, livez: false, readyz: true }, 'False'],
    [{ healthz: false, livez: false, readyz: false }, 'False'],
  ])('%j → %s', (probes, status) => {
    expect(readyCondition(probes, 't').status).toBe(status);
  });
});

describe('mergeConditions (§4.3)', () => {
  const ready = (status: 'True' | 'False', at: string): Condition =>
    readyCondition({ healthz: status === 'True', livez: status === 'True', readyz: status === 'True' }, at);
  const hub: Condition = {
    type: 'ClusterInit',
    status: 'True',
    lastTransitionTime: 't0',
    reason: 'ClusterInitDisabled',
    message: 'hub',
  };

  it('appends the Ready condition when absent, keeping the hub conditions', () => {
    expect(mergeConditions([hub], ready('True', 't1'))).toEqual([hub, ready('True', 't1')]);
  });
  it('moves the transition time when the status changes', () => {
    expect(mergeConditions([hub, ready('True', 't1')], ready('False', 't2'))).toEqual([hub, ready('False', 't2')]);
  });
  it('refreshes the time of an unchanged condition (a heartbeat)', () => {
    expect(mergeConditions([ready('True', 't1'), hub], ready('True', 't2'))).toEqual([ready('True', 't2'), hub]);
  });
  it('keeps the transition time when only reason or message changed', () => {
    const hubUnknown: Condition = { ...ready('True', 't1'), reason: 'ClusterStatusUnknown', message: 'stopped' };
    expect(mergeConditions([hubUnknown], ready('True', 't2'))).toEqual([ready('True', 't1')]);
  });
});

describe('aggregateNodeLabels and labelsPatch (§4.3)', () => {
  const prefixes = ['node.clusternet.io/'];
  const n = (labels: Record<string, string>, controlPlane = false) => ({ labels, controlPlane });
  const nodes = [
    n({ 'node.clusternet.io/zone': 'a', 'node.clusternet.io/gpu': 'yes' }),
    n({ 'node.clusternet.io/zone': 'a' }),
    n({ 'node.clusternet.io/zone': 'b' }),
    n({ 'node.clusternet.io/zone': 'c' }, true), // control plane: ignored
  ];

  it.each([
    [0.5, { 'node.clusternet.io/zone': 'a' }],
    [0.3, { 'node.clusternet.io/gpu': 'yes', 'node.clusternet.io/zone': 'a' }],
    [0.8, {}],
  ])('threshold %d → %j', (threshold, expected) => {
    expect(aggregateNodeLabels(nodes, prefixes, threshold)).toEqual(expected);
  });
  it('ignores keys outside the prefixes and has nothing to say without worker nodes', () => {
    expect(aggregateNodeLabels([n({ 'other/zone': 'a' })], prefixes, 0)).toEqual({});
    expect(aggregateNodeLabels([n({ 'node.clusternet.io/zone': 'a' }, true)], prefixes, 0)).toEqual({});
  });
  it('breaks ties by value, whatever the node order', () => {
    const tie = [n({ 'node.clusternet.io/zone': 'b' }), n({ 'node.clusternet.io/zone': 'a' })];
    expect(aggregateNodeLabels(tie, prefixes, 0.5)).toEqual({ 'node.clusternet.io/zone': 'a' });
    expect(aggregateNodeLabels(tie.reverse(), prefixes, 0.5)).toEqual({ 'node.clusternet.io/zone': 'a' });
  });

  it.each([
    [{ env: 'x' }, { 'node.clusternet.io/zone': 'a' }, { 'node.clusternet.io/zone': 'a' }],
    [{ env: 'x', 'node.clusternet.io/zone': 'a' }, { 'node.clusternet.io/zone': 'a' }, undefined],
    [{ env: 'x', 'node.clusternet.io/old': 'v' }, {}, { 'node.clusternet.io/old': null }],
    [
      { 'node.clusternet.io/zone': 'b', 'node.clusternet.io/old': 'v' },
      { 'node.clusternet.io/zone': 'a' },
      { 'node.clusternet.io/zone': 'a', 'node.clusternet.io/old': null },
    ],
  ])('current %j, aggregated %j → patch %j', (current, aggregated, labels) => {
    expect(labelsPatch(current, aggregated, prefixes)).toEqual(
      labels === undefined ? undefined : { metadata: { labels } },
    );
  });
});

describe('significantChange', () => {
  const base = computeClusterStatus(collected, facts);
  it.each([
    ['nothing reported yet', undefined, base, 'first collection'],
    ['the same figures, later', base, computeClusterStatus({ ...collected, observedAt: 'later' }, facts), undefined],
    [
      'readyz flipped',
      base,
      computeClusterStatus({ ...collected, probes: { healthz: true, livez: true, readyz: false } }, facts),
      'readyz is now false',
    ],
    [
      'a node went NotReady',
      base,
      computeClusterStatus(
        { ...collected, nodes: { ...nodes, statistics: { readyNodes: 2, notReadyNodes: 1 } } },
        facts,
      ),
      'nodes: ready 2, not ready 1, unknown 0, lost 0',
    ],
    [
      'capacity moved (not significant)',
      base,
      computeClusterStatus({ ...collected, nodes: { ...nodes, capacity: { cpu: '9', memory: '16Gi' } } }, facts),
      undefined,
    ],
  ])('%s', (_, reported, next, expected) => {
    expect(significantChange(reported, next)).toBe(expected);
  });
});
