// Public surface of the member process: bin/serve.ts, net/cluster.ts and tests import from here.
export { EtcdMember, StartupError, type MemberOptions } from './member.ts';
export { parseServeConfig, parseInitialCluster, memberIdOf, clusterIdOf, hostPortOf, envName, ConfigError, SERVE_FLAGS, type ServerConfig, type ClusterPeer } from './config.ts';
export type { HttpLimits } from './http.ts';
export { discoverCluster, DiscoveryError, type DiscoveryOptions } from './discovery.ts';
